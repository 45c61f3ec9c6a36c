"""Test-wide guards: no network, no display, and a private EASEL_HOME per test."""

from __future__ import annotations

import ipaddress
import os
import socket

import pytest

# No display here: Qt's offscreen platform, with a desktop-sized screen (its default is 800x600, smaller
# than the main window, so restored geometry would be clamped).
if os.environ.get("QT_QPA_PLATFORM", "offscreen") == "offscreen":
    _SCREEN = os.path.join(os.path.dirname(__file__), "offscreen-screen.json")
    os.environ["QT_QPA_PLATFORM"] = f"offscreen:configfile={_SCREEN}"


class NetworkAccessError(AssertionError):
    """A test tried to reach a non-loopback address."""


def _is_loopback(address: object) -> bool:
    if isinstance(address, (str, bytes)) and not isinstance(address, tuple):
        return True  # AF_UNIX path
    host = address[0] if isinstance(address, tuple) else address
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False  # a host name: resolving it would already be network use


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _guarded_connect(self: socket.socket, address: object) -> None:
    if not _is_loopback(address):
        raise NetworkAccessError(f"test opened a network connection to {address!r}")
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    if not _is_loopback(address):
        raise NetworkAccessError(f"test opened a network connection to {address!r}")
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host, *args, **kwargs):  # type: ignore[no-untyped-def]
    if host is not None and not _is_loopback((host,)):
        raise NetworkAccessError(f"test looked up the host {host!r}")
    return _real_getaddrinfo(host, *args, **kwargs)


def pytest_configure(config: pytest.Config) -> None:
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _guarded_getaddrinfo  # type: ignore[assignment]


@pytest.fixture(autouse=True)
def easel_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Every test writes settings, history and outputs into its own folder."""
    home = tmp_path_factory.mktemp("easel-home")
    monkeypatch.setenv("EASEL_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory):
    """Tiny random checkpoints in the civitai single-file layout, built once per test run."""
    from core.synthetic import write_tiny_checkpoint

    folder = tmp_path_factory.mktemp("tiny-models")
    return {
        "sd1": write_tiny_checkpoint(folder / "sd1", "sd1", seed=1),
        "sd1-inpaint": write_tiny_checkpoint(folder / "sd1-inpaint", "sd1", inpaint=True, seed=2),
        "sdxl": write_tiny_checkpoint(folder / "sdxl", "sdxl", seed=3),
        "sd2": write_tiny_checkpoint(folder / "sd2", "sd2", seed=4),
        "sdxl-inpaint": write_tiny_checkpoint(folder / "sdxl-inpaint", "sdxl", inpaint=True, seed=5),
    }


@pytest.fixture(scope="session")
def shared_engine(tmp_path_factory: pytest.TempPathFactory):
    """One engine for tests that only read what it makes, so the tiny model loads once."""
    from tests.models import make_engine

    return make_engine(tmp_path_factory.mktemp("engine-home"))


@pytest.fixture(scope="session")
def tiny_controlnets(tmp_path_factory: pytest.TempPathFactory):
    """Tiny random ControlNets for the tiny sd1 and sdxl models, in the A1111 (control_model.*) layout."""
    from core.synthetic.controlnet import write_tiny_controlnet

    folder = tmp_path_factory.mktemp("tiny-controlnets")
    return {family: write_tiny_controlnet(folder, family, seed=7) for family in ("sd1", "sdxl")}


@pytest.fixture(scope="session")
def tiny_upscalers(tmp_path_factory: pytest.TempPathFactory):
    """Tiny random upscalers built through spandrel's architecture classes, in one folder (key "folder"):
    "esrgan" (4x, .safetensors), "esrgan-pth" (the same weights as a plain-tensor-dict .pth),
    "compact" (2x Real-ESRGAN Compact, .safetensors), "swinir" (2x, .safetensors)."""
    from core.synthetic.upscaler import write_tiny_upscaler

    folder = tmp_path_factory.mktemp("tiny-upscalers")
    return {
        "folder": folder,
        "esrgan": write_tiny_upscaler(folder, "esrgan", seed=1),
        "esrgan-pth": write_tiny_upscaler(folder, "esrgan", seed=1, file_format="pth", name="tiny-esrgan-4x-pickle"),
        "compact": write_tiny_upscaler(folder, "compact", seed=2),
        "swinir": write_tiny_upscaler(folder, "swinir", seed=3),
    }

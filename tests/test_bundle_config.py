"""The PyInstaller spec, run with PyInstaller's build steps replaced by recorders, for each OS's branch:
what the macOS .app, the Windows .exe and the Linux folder are made of. (The Linux bundle itself is
built and run by tests/test_bundle_slow.py.)"""

from __future__ import annotations

import ast
import importlib.util
import plistlib
import sys
import tomllib
import types
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"


def _load_bundle_config() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("bundle_config", PACKAGING / "bundle_config.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


cfg = _load_bundle_config()
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


class Recorder:
    def __init__(self, kind: str, calls: list) -> None:
        self.kind, self.calls = kind, calls

    def __call__(self, *args: Any, **kwargs: Any) -> types.SimpleNamespace:
        made = types.SimpleNamespace(kind=self.kind, args=args, kwargs=kwargs, scripts=[], pure=[], binaries=[],
                                     datas=[("resources/configs/sd1/model_index.json", "src", "DATA"),
                                            ("torch/include/ATen/ATen.h", "src", "DATA")])
        self.calls.append(made)
        return made


def run_spec(platform: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[types.SimpleNamespace]:
    """Execute packaging/easel.spec as PyInstaller would on `platform`, recording each build step."""
    hooks = types.ModuleType("PyInstaller.utils.hooks")
    hooks.collect_submodules = lambda package, filter=None: [f"{package}.x"]
    hooks.collect_data_files = lambda package, **kwargs: []
    hooks.copy_metadata = lambda name: [(f"{name}.dist-info", f"{name}.dist-info")]
    hooks.collect_dynamic_libs = lambda package, search_patterns: [(f"{package}/_C.so", package)] \
        if "*.so" in search_patterns else []
    hooks.get_package_paths = lambda package: ("site-packages", str(fake_transformers))
    fake_transformers = tmp_path / "transformers"
    for family in ("clip", "auto", "llama", "bert"):
        (fake_transformers / "models" / family).mkdir(parents=True)
        (fake_transformers / "models" / family / "__init__.py").write_text("")
    for name, module in {"PyInstaller": types.ModuleType("PyInstaller"),
                         "PyInstaller.utils": types.ModuleType("PyInstaller.utils"),
                         "PyInstaller.utils.hooks": hooks}.items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(sys, "platform", platform)  # the spec's only view of which OS it builds for
    monkeypatch.syspath_prepend(str(PACKAGING))
    monkeypatch.delitem(sys.modules, "bundle_config", raising=False)
    calls: list[types.SimpleNamespace] = []
    namespace = {name: Recorder(name, calls) for name in ("Analysis", "PYZ", "EXE", "COLLECT", "BUNDLE")}
    namespace.update(SPECPATH=str(PACKAGING), workpath=str(tmp_path), __file__=str(PACKAGING / "easel.spec"))
    exec(compile((PACKAGING / "easel.spec").read_text(), "easel.spec", "exec"), namespace)
    return calls


def of(calls: list, kind: str) -> list:
    return [call for call in calls if call.kind == kind]


def test_macos_builds_an_arm64_app_with_plist_icon_and_png_document_type(tmp_path, monkeypatch) -> None:
    calls = run_spec("darwin", tmp_path, monkeypatch)
    [exe] = of(calls, "EXE")
    assert exe.kwargs["name"] == "Easel" and exe.kwargs["console"] is False
    assert exe.kwargs["target_arch"] == "arm64"
    [bundle] = of(calls, "BUNDLE")
    assert bundle.kwargs["name"] == "Easel.app"
    assert bundle.kwargs["bundle_identifier"] == cfg.BUNDLE_IDENTIFIER
    assert bundle.kwargs["version"] == VERSION
    icon = Path(bundle.kwargs["icon"])
    assert icon.suffix == ".icns" and icon.read_bytes()[:4] == b"icns"
    plist = plistlib.loads(plistlib.dumps(bundle.kwargs["info_plist"]))  # a valid plist
    assert plist["NSHighResolutionCapable"] is True
    assert plist["LSMinimumSystemVersion"] == "12.3"
    assert plist["CFBundleShortVersionString"] == VERSION
    png = [doc for doc in plist["CFBundleDocumentTypes"] if "public.png" in doc["LSItemContentTypes"]]
    assert png and png[0]["CFBundleTypeRole"] == "Viewer"


def test_windows_builds_a_windowed_exe_and_a_console_exe_with_icon_and_version(tmp_path, monkeypatch) -> None:
    calls = run_spec("win32", tmp_path, monkeypatch)
    gui, cli = of(calls, "EXE")
    assert (gui.kwargs["name"], gui.kwargs["console"]) == ("Easel", False)
    assert (cli.kwargs["name"], cli.kwargs["console"]) == ("easel-cli", True)
    assert Path(gui.kwargs["icon"]).read_bytes()[:4] == b"\x00\x00\x01\x00"  # an .ico
    version_file = Path(gui.kwargs["version"]).read_text()
    tree = ast.parse(version_file, mode="eval")  # PyInstaller evaluates it as one expression
    assert isinstance(tree.body, ast.Call) and tree.body.func.id == "VSVersionInfo"
    assert f"'ProductVersion', '{VERSION}'" in version_file
    assert str(cfg.version_tuple(VERSION)) in version_file
    [collect] = of(calls, "COLLECT")
    assert collect.args[:2] == (gui, cli) and not of(calls, "BUNDLE")


def test_linux_builds_one_console_folder_with_resources_and_without_test_tools(tmp_path, monkeypatch) -> None:
    calls = run_spec("linux", tmp_path, monkeypatch)
    [analysis] = of(calls, "Analysis")
    [exe] = of(calls, "EXE")
    assert exe.kwargs["name"] == "easel" and exe.kwargs["console"] is True and exe.kwargs["icon"] is None
    assert (str(ROOT / "resources"), "resources") in analysis.kwargs["datas"]
    assert ("diffusers.dist-info", "diffusers.dist-info") in analysis.kwargs["datas"]
    for excluded in ("tkinter", "open_clip", "pytest", "tests", "triton",
                     "transformers.models.llama", "transformers.models.bert"):
        assert excluded in analysis.kwargs["excludes"]
    assert "transformers.models.clip" not in analysis.kwargs["excludes"]
    assert ("torchvision/_C.so", "torchvision") in analysis.kwargs["binaries"]
    assert {"diffusers.x", "core.x", "transformers.x"} <= set(analysis.kwargs["hiddenimports"])
    # Header files the hooks collect are dropped; run-time data stays.
    assert [entry[0] for entry in analysis.datas] == ["resources/configs/sd1/model_index.json"]
    [collect] = of(calls, "COLLECT")
    assert collect.kwargs["name"] == "easel" and not of(calls, "BUNDLE")


def test_only_the_transformers_models_stable_diffusion_uses_are_collected() -> None:
    keep = cfg.keep_transformers_module
    assert keep("transformers.modeling_utils") and keep("transformers.models")
    assert keep("transformers.models.clip.modeling_clip") and keep("transformers.models.auto.modeling_auto")
    assert not keep("transformers.models.llama.modeling_llama")


def test_the_bundle_extra_names_pyinstaller() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(requirement.startswith("pyinstaller>=6.10") for requirement in extras["bundle"])

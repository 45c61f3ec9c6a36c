"""What the platform takes away before Easel starts: the Mac GPU (MPS) under Rosetta or on an old macOS.

The facts are read by small functions passed in as arguments, so the decision can be tested with any
answers (a translated process, macOS 12.2, a torch built without MPS) on any machine.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform
import sys
from dataclasses import dataclass
from typing import Callable

MPS_MIN_MACOS = (12, 3)
ARM64_BUILD = "the Apple Silicon build (Easel-macos-arm64) from the Easel releases page"


@dataclass(frozen=True)
class PlatformInfo:
    system: str  # platform.system(): "Darwin", "Windows", "Linux"
    macos_version: tuple[int, ...] | None  # (12, 3, 1); None when not on macOS or unknown
    translated: bool  # an x86_64 process running under Rosetta on an Apple Silicon Mac
    mps_built: bool | None  # torch.backends.mps.is_built(); None when not asked (torch not imported)
    mps_available: bool | None  # torch.backends.mps.is_available(); None when not asked


@dataclass(frozen=True)
class PlatformNotice:
    message: str  # what is wrong
    hint: str  # what to do about it


def sysctl_int(name: str) -> int | None:
    """An integer sysctl by name (macOS `sysctlbyname`); None where there is no such sysctl or no macOS."""
    if sys.platform != "darwin":
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    value = ctypes.c_int(0)
    size = ctypes.c_size_t(ctypes.sizeof(value))
    if libc.sysctlbyname(name.encode(), ctypes.byref(value), ctypes.byref(size), None, ctypes.c_size_t(0)) != 0:
        return None  # ENOENT: an Intel Mac, where the flag does not exist (and nothing is translated)
    return value.value


def parse_macos_version(text: str) -> tuple[int, ...] | None:
    """"12.3.1" -> (12, 3, 1). "10.16" is what Big Sur and later report to programs built for older SDKs
    (or with SYSTEM_VERSION_COMPAT=1): it means 11 or later, so it counts as 11."""
    try:
        version = tuple(int(part) for part in text.split(".") if part)
    except ValueError:
        return None
    if not version:
        return None
    return (11, 0) if version[:2] == (10, 16) else version


def torch_mps_status() -> tuple[bool, bool]:
    """(built, available) for torch's MPS backend; imports torch."""
    import torch

    return torch.backends.mps.is_built(), torch.backends.mps.is_available()


def read_platform(
    system: Callable[[], str] = platform.system,
    mac_ver: Callable[[], str] = lambda: platform.mac_ver()[0],
    sysctl: Callable[[str], int | None] = sysctl_int,
    mps_status: Callable[[], tuple[bool, bool]] | None = None,
) -> PlatformInfo:
    """The facts the checks need. `mps_status` imports torch: leave it None where that must wait (at app start)."""
    name = system()
    if name != "Darwin":
        return PlatformInfo(name, None, False, None, None)
    built, available = mps_status() if mps_status else (None, None)
    return PlatformInfo(name, parse_macos_version(mac_ver()), sysctl("sysctl.proc_translated") == 1, built, available)


def platform_notices(info: PlatformInfo) -> list[PlatformNotice]:
    """What to tell the user; empty when the GPU is usable (or the platform has no MPS to lose)."""
    if info.system != "Darwin":
        return []
    if info.translated:
        return [PlatformNotice(
            "Easel is running under Rosetta (the Intel build on an Apple Silicon Mac): the GPU (MPS) is "
            "unavailable in this mode, so images are made on the CPU, many times slower.",
            f"Download {ARM64_BUILD} and use it instead. Running from source: use an arm64 Python "
            "(python.org's universal2 installer or Homebrew in /opt/homebrew) and recreate .venv.",
        )]
    version = info.macos_version
    if version is not None and version < MPS_MIN_MACOS:
        shown = ".".join(str(part) for part in version)
        return [PlatformNotice(
            f"macOS {shown} is older than 12.3, which the GPU (MPS) needs: images are made on the CPU, many "
            "times slower.",
            "Update macOS to 12.3 or newer (System Settings → General → Software Update).",
        )]
    if info.mps_built is False:
        return [PlatformNotice(
            "This PyTorch was built without MPS: the GPU is unavailable, so images are made on the CPU.",
            f"Download {ARM64_BUILD}, or install the macOS arm64 PyTorch wheel from PyPI.",
        )]
    if info.mps_available is False:
        return [PlatformNotice(
            "The GPU (MPS) is not available on this Mac: images are made on the CPU, many times slower.",
            "MPS needs macOS 12.3 or newer and a Metal GPU (Apple Silicon, or a recent AMD card in an Intel Mac).",
        )]
    return []

"""How much memory this computer has, asked without importing torch (the window must not wait for it)."""

from __future__ import annotations

import os
import platform
import subprocess
from typing import Callable


def system_memory_bytes(system: str | None = None) -> int | None:
    """Physical memory (on Apple Silicon also the GPU's); None when the system will not say."""
    system = system or platform.system()
    try:
        if system == "Windows":
            return _windows_memory()
        if system == "Darwin":
            return _mac_memory()
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (OSError, ValueError, AttributeError):
        return None


def _windows_memory() -> int:
    import ctypes

    class MemoryStatusEx(ctypes.Structure):
        _fields_ = [("dwLength", ctypes.c_ulong), ("dwMemoryLoad", ctypes.c_ulong),
                    ("ullTotalPhys", ctypes.c_ulonglong), ("ullAvailPhys", ctypes.c_ulonglong),
                    ("ullTotalPageFile", ctypes.c_ulonglong), ("ullAvailPageFile", ctypes.c_ulonglong),
                    ("ullTotalVirtual", ctypes.c_ulonglong), ("ullAvailVirtual", ctypes.c_ulonglong),
                    ("ullAvailExtendedVirtual", ctypes.c_ulonglong)]

    status = MemoryStatusEx()
    status.dwLength = ctypes.sizeof(MemoryStatusEx)
    if not ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):  # type: ignore[attr-defined]
        raise OSError("GlobalMemoryStatusEx failed")
    return int(status.ullTotalPhys)


def _mac_memory() -> int:
    import ctypes
    import ctypes.util

    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    value = ctypes.c_uint64(0)
    size = ctypes.c_size_t(ctypes.sizeof(value))
    if libc.sysctlbyname(b"hw.memsize", ctypes.byref(value), ctypes.byref(size), None, ctypes.c_size_t(0)) != 0:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return int(value.value)


def gpu_memory_bytes(run: Callable[..., subprocess.CompletedProcess] = subprocess.run) -> int | None:
    """The largest NVIDIA GPU's memory from `nvidia-smi`, without importing torch; None when there is
    no NVIDIA GPU (or driver) or it does not answer within seconds."""
    flags = getattr(subprocess, "CREATE_NO_WINDOW", 0)  # no console window flashing up on Windows
    try:
        result = run(["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
                     capture_output=True, text=True, timeout=5, creationflags=flags)
    except (OSError, subprocess.SubprocessError):
        return None
    mebibytes = [int(line) for line in result.stdout.split() if line.strip().isdigit()]
    if result.returncode != 0 or not mebibytes:
        return None
    return max(mebibytes) * 1024 * 1024

"""Device and dtype policy: CUDA > MPS > CPU, fp16 on GPUs, fp32 on the CPU."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from core.errors import RequestError

ATTENTION_SLICING_BELOW_BYTES = 64 * 1024**3


@dataclass(frozen=True)
class DevicePlan:
    device: torch.device
    dtype: torch.dtype
    attention_slicing: bool

    @property
    def label(self) -> str:
        return f"{self.device.type} ({str(self.dtype).removeprefix('torch.')})"


def available_devices() -> list[str]:
    devices = ["cpu"]
    if torch.backends.mps.is_available():
        devices.insert(0, "mps")
    if torch.cuda.is_available():
        devices.insert(0, "cuda")
    return devices


def total_memory_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 16 * 1024**3


def plan_device(override: str | None = None) -> DevicePlan:
    """Pick the best device unless the user named one; refuse a device that is not there."""
    available = available_devices()
    name = (override or available[0]).lower()
    if name.split(":")[0] not in available:
        raise RequestError(
            f"The device '{name}' is not available on this computer.",
            hint=f"Use one of: {', '.join(available)}.",
        )
    device = torch.device(name)
    dtype = torch.float32 if device.type == "cpu" else torch.float16
    slicing = device.type == "mps" and total_memory_bytes() < ATTENTION_SLICING_BELOW_BYTES
    return DevicePlan(device=device, dtype=dtype, attention_slicing=slicing)

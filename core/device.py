"""Device and dtype policy: CUDA > MPS > CPU, fp16 on GPUs, fp32 on the CPU; settings may override."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from core.errors import RequestError
from core.system_memory import system_memory_bytes

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
    """Physical memory; 16 GB (a common Mac) when the system will not say."""
    return system_memory_bytes() or 16 * 1024**3


_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}


def plan_device(override: str | None = None, precision: str = "auto", attention_slicing: str = "auto") -> DevicePlan:
    """Pick the best device unless the user named one; refuse a device that is not there, or a precision it
    cannot run. `precision`: auto | fp16 | bf16 | fp32; `attention_slicing`: auto | on | off."""
    available = available_devices()
    name = (override or available[0]).lower()
    if name.split(":")[0] not in available:
        raise RequestError(
            f"The device '{name}' is not available on this computer.",
            hint=f"Use one of: {', '.join(available)}.",
        )
    device = torch.device(name)
    dtype = _dtype(device, precision)
    if attention_slicing == "auto":
        slicing = device.type == "mps" and total_memory_bytes() < ATTENTION_SLICING_BELOW_BYTES
    else:
        slicing = attention_slicing == "on"
    return DevicePlan(device=device, dtype=dtype, attention_slicing=slicing)


def _dtype(device: torch.device, precision: str) -> torch.dtype:
    if precision == "auto":
        return torch.float32 if device.type == "cpu" else torch.float16
    if precision not in _DTYPES:
        raise RequestError(f"Unknown precision '{precision}'.", hint="Use auto, fp16, bf16 or fp32.")
    if precision == "fp16" and device.type == "cpu":
        # Many CPU kernels have no float16 version, and those that do are slower than float32.
        raise RequestError("Half precision (fp16) does not run on the CPU.",
                           hint="Set the precision to auto or fp32 (bf16 also runs on the CPU, with lower quality).")
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise RequestError("This NVIDIA GPU does not support bf16.", hint="Set the precision to auto or fp16.")
    return _DTYPES[precision]

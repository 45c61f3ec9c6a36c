"""Image sizes: A1111's rounding to multiples of 8, and a memory estimate to refuse hopeless sizes."""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import RequestError

GIB = 1024**3
# Peak working memory per output pixel, measured with diffusers' VAE decode (the largest
# activation of a generation) in fp32: about 1.6 KB per pixel; fp16 halves it.
VAE_DECODE_BYTES_PER_PIXEL_FP32 = 1600
WEIGHT_BYTES_FP32 = {"sd1": 4.3 * GIB, "sd2": 5.2 * GIB, "sdxl": 13.9 * GIB}


@dataclass(frozen=True)
class RoundedSize:
    width: int
    height: int
    notice: str | None


def round_to_multiple_of_8(width: int, height: int) -> RoundedSize:
    """Round each side to the nearest multiple of 8 (at least 64), as A1111 does, and say so."""
    if width <= 0 or height <= 0:
        raise RequestError(f"The size {width}x{height} is not valid.", hint="Width and height must be positive.")
    new_w, new_h = (max(64, int(round(v / 8)) * 8) for v in (width, height))
    notice = None
    if (new_w, new_h) != (width, height):
        notice = f"Size {width}x{height} rounded to {new_w}x{new_h}: sides must be multiples of 8."
    return RoundedSize(new_w, new_h, notice)


def estimate_peak_bytes(family: str, width: int, height: int, batch_size: int, half_precision: bool,
                        extra_weight_bytes: int = 0) -> int:
    """A coarse estimate of the peak memory a generation needs: weights (the checkpoint's, plus
    `extra_weight_bytes` such as ControlNets, as stored) plus the VAE decode."""
    scale = 0.5 if half_precision else 1.0
    weights = WEIGHT_BYTES_FP32.get(family, WEIGHT_BYTES_FP32["sdxl"]) * scale
    decode = VAE_DECODE_BYTES_PER_PIXEL_FP32 * width * height * batch_size * scale
    return int(weights + extra_weight_bytes + decode)


def check_fits_in_memory(
    family: str, width: int, height: int, batch_size: int, half_precision: bool, available_bytes: int,
    extra_weight_bytes: int = 0,
) -> None:
    """Refuse, with the estimate, a size that would surely exhaust memory."""
    needed = estimate_peak_bytes(family, width, height, batch_size, half_precision, extra_weight_bytes)
    if needed > available_bytes:
        with_controlnets = " and its ControlNets" if extra_weight_bytes else ""
        raise RequestError(
            f"{width}x{height} with batch size {batch_size}{with_controlnets} needs about {needed / GIB:.0f} GB of "
            f"memory; this device has about {available_bytes / GIB:.0f} GB.",
            hint="Lower the width, height or batch size, or use fewer ControlNet units; for large images generate "
            "smaller and upscale (hires fix)." if extra_weight_bytes else
            "Lower the width, height or batch size; for large images generate smaller and upscale (hires fix).",
        )

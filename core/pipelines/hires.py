"""The hires fix's middle: first-pass latents to the second pass's input, and progress over both passes.

Latent upscalers interpolate the latents (A1111: torch's interpolate with the mode's antialias); the others
decode, upscale the image (an upscaler model through core.upscale, or Lanczos/Nearest) and hand the images to
the img2img pipeline, which encodes them. Either way the result is cropped to the target size as A1111 does.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import torch
from PIL import Image

from core.events import CancelCheck, Progress
from core.hires import LATENT_FACTOR, HiresFix, HiresSize


def upscale_latents(latents: torch.Tensor, size: HiresSize, mode: tuple[str, bool]) -> torch.Tensor:
    """A1111's latent upscale: interpolate to the upscale size, then crop the centre to the final size."""
    interpolate_mode, antialias = mode
    target = (size.upscale_height // LATENT_FACTOR, size.upscale_width // LATENT_FACTOR)
    # bicubic/bilinear (and antialias) are not implemented for half precision on every device
    upscaled = torch.nn.functional.interpolate(latents.float(), size=target, mode=interpolate_mode,
                                               antialias=antialias).to(latents.dtype)
    return crop_latents(upscaled, size)


def crop_latents(latents: torch.Tensor, size: HiresSize) -> torch.Tensor:
    """A1111's truncate_x/y: cells off both sides, the odd one at the end."""
    cut_x, cut_y = size.crop_cells
    height, width = latents.shape[2], latents.shape[3]
    return latents[:, :, cut_y // 2:height - (cut_y + 1) // 2, cut_x // 2:width - (cut_x + 1) // 2]


def crop_image(image: Image.Image, size: HiresSize) -> Image.Image:
    """The same crop as crop_latents, in pixels, for an image upscaled to the upscale size."""
    cut_x, cut_y = size.crop_cells
    left, top = cut_x // 2 * LATENT_FACTOR, cut_y // 2 * LATENT_FACTOR
    return image.crop((left, top, left + size.width, top + size.height))


def upscale_images(images: list[Image.Image], hires: HiresFix, size: HiresSize, upscaler: Any | None,
                   cancel: CancelCheck) -> list[Image.Image]:
    """Decoded first-pass images upscaled (model or Lanczos/Nearest) to the upscale size, then cropped."""
    from core.upscale import LANCZOS, NEAREST, upscale_image

    resample = NEAREST if hires.upscaler == NEAREST else LANCZOS
    result = []
    for image in images:
        scale = max(size.upscale_width / image.width, size.upscale_height / image.height)
        big = upscale_image(image, upscaler, scale, cancel=cancel, resample_name=resample)
        if big.size != (size.upscale_width, size.upscale_height):
            big = big.resize((size.upscale_width, size.upscale_height), Image.Resampling.LANCZOS)
        result.append(crop_image(big, size))
    return result


def second_pass_timesteps(scheduler: Any, steps: int, denoise: float) -> int:
    """How many sampler steps the img2img pass runs (diffusers' get_timesteps on a fresh scheduler)."""
    scheduler.set_timesteps(steps)
    kept = min(int(steps * denoise), steps)
    return len(scheduler.timesteps[(steps - kept) * scheduler.order:])


class TwoPassProgress:
    """Progress over both passes: the first pass counts towards first + second steps, the second continues."""

    def __init__(self, on_progress: Callable[[Progress], None], second_total: int) -> None:
        self._on_progress = on_progress
        self._second_total = second_total
        self._first_total = 0
        self._first_elapsed = 0.0

    def first(self, event: Progress) -> None:
        self._first_total, self._first_elapsed = event.total, event.elapsed
        self._on_progress(dataclasses.replace(event, total=event.total + self._second_total))

    def second(self, event: Progress) -> None:
        self._on_progress(dataclasses.replace(
            event, step=self._first_total + event.step, total=self._first_total + self._second_total,
            elapsed=self._first_elapsed + event.elapsed))

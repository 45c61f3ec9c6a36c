"""The inpaint pipeline's inputs: image and mask, and A1111's "latent noise" / "latent nothing" start.

For those two, A1111 encodes the (pre-filled) image and replaces its latents under the mask with
seeded noise or with zeros before sampling. Easel does the same and hands the diffusers pipeline the
latents instead of the image; for 9-channel inpaint models it also encodes the masked image the
pipeline would otherwise make from the image.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from PIL import Image

from core.inpaint import PreparedInpaint

LATENT_CONTENTS = ("latent noise", "latent nothing")


def _encode(pipe: Any, pixels: torch.Tensor, generators: list[torch.Generator]) -> torch.Tensor:
    """Latents as the pipeline itself encodes an image: sampled with each image's generator, scaled."""
    batch = pixels.repeat(len(generators), 1, 1, 1)
    return pipe._encode_vae_image(batch, generator=generators)


def _pixels(pipe: Any, image: Image.Image) -> torch.Tensor:
    tensor = pipe.image_processor.preprocess(image, height=image.height, width=image.width)
    return tensor.to(device=pipe._execution_device, dtype=pipe.vae.dtype)


def _latent_mask(mask: Image.Image, latents: torch.Tensor) -> torch.Tensor:
    """A1111's latent mask: the blurred mask scaled to the latent size, rounded to 0 or 1."""
    height, width = latents.shape[-2:]
    small = np.asarray(mask.convert("L").resize((width, height), Image.Resampling.BICUBIC), dtype=np.float32)
    return torch.from_numpy(np.around(small / 255.0))[None, None].to(latents)


def _seeded_noise(seeds: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
    noise = [torch.randn(like.shape[1:], generator=torch.Generator("cpu").manual_seed(seed)) for seed in seeds]
    return torch.stack(noise).to(like)


def _masked_image_latents(pipe: Any, prepared: PreparedInpaint, pixels: torch.Tensor,
                          generators: list[torch.Generator], latents: torch.Tensor) -> torch.Tensor:
    if pipe.unet.config.in_channels != 9:
        return torch.zeros_like(latents)  # a 4-channel model never looks at it
    keep = pipe.mask_processor.preprocess(prepared.mask, height=pixels.shape[-2], width=pixels.shape[-1]) < 0.5
    return _encode(pipe, pixels * keep.to(pixels), generators)


def inpaint_arguments(pipe: Any, prepared: PreparedInpaint, strength: float, seeds: tuple[int, ...],
                      generators: list[torch.Generator]) -> dict[str, Any]:
    """Keyword arguments for an inpaint pipeline call; call it under torch.inference_mode()."""
    width, height = prepared.mask.size
    arguments: dict[str, Any] = {"mask_image": prepared.mask, "strength": strength, "width": width, "height": height}
    if prepared.masked_content not in LATENT_CONTENTS:
        return {**arguments, "image": prepared.image}
    pixels = _pixels(pipe, prepared.image)
    latents = _encode(pipe, pixels, generators)
    repaint = _latent_mask(prepared.mask, latents)
    start = _seeded_noise(seeds, latents) if prepared.masked_content == "latent noise" else torch.zeros_like(latents)
    latents = latents * (1 - repaint) + start * repaint
    masked = _masked_image_latents(pipe, prepared, pixels, generators, latents)
    return {**arguments, "image": latents, "masked_image_latents": masked}

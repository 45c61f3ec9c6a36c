"""Latents to images, the way the diffusers pipelines decode, with a float32 retry for NaN output;
tiled VAE decoding and encoding for large images."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import torch
from PIL import Image

from core.errors import EaselError


def _vae_decode(vae: Any, latents: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    latents = latents.to(device=vae.device, dtype=dtype)
    mean, std = getattr(vae.config, "latents_mean", None), getattr(vae.config, "latents_std", None)
    if mean is not None and std is not None:
        mean_t = torch.tensor(mean).view(1, -1, 1, 1).to(latents)
        std_t = torch.tensor(std).view(1, -1, 1, 1).to(latents)
        latents = latents * std_t / vae.config.scaling_factor + mean_t
    else:
        latents = latents / vae.config.scaling_factor
    with torch.no_grad():
        return vae.decode(latents, return_dict=False)[0]


def _decode_in(vae: Any, latents: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    original = vae.dtype
    if original != dtype:
        vae.to(dtype)
    try:
        return _vae_decode(vae, latents, dtype)
    finally:
        if original != dtype:
            vae.to(original)


# vae_tiling "auto" tiles when decoding at once would take more than this share of the device's memory.
AUTO_TILING_MEMORY_SHARE = 0.25


def tiling_wanted(setting: str, decode_bytes: int, available_bytes: int) -> bool:
    """Whether the VAE works in tiles: the setting, or for "auto" the decode's share of the memory."""
    if setting == "auto":
        return decode_bytes > available_bytes * AUTO_TILING_MEMORY_SHARE
    return setting == "on"


@contextmanager
def vae_tiling(vae: Any, enabled: bool) -> Iterator[None]:
    """diffusers' tiled VAE (encode and decode, tiles of the config's sample_size with overlap) while active;
    it only tiles inputs larger than one tile."""
    previous = getattr(vae, "use_tiling", False)
    if enabled:
        vae.enable_tiling()
    else:
        vae.disable_tiling()
    try:
        yield
    finally:
        vae.use_tiling = previous


def needs_upcast(vae: Any, family: str) -> bool:
    """SDXL's VAE overflows in half precision unless it is the fp16-fix one, whose config says so
    (force_upcast false). SD1/SD2 configs carry the diffusers default (true) without meaning it."""
    return family.startswith("sdxl") and bool(vae.config.get("force_upcast")) and vae.dtype == torch.float16


def decode_latents(pipe: Any, latents: torch.Tensor, upcast: bool = False,
                   tiled: bool = False) -> tuple[list[Image.Image], str | None]:
    """Decode (in float32 when `upcast`, in tiles when `tiled`); if the result holds NaN (fp16 VAE overflow:
    a black image), decode again in float32.

    Returns the images and a notice when the retry was needed.
    """
    vae = pipe.vae
    first_dtype = torch.float32 if upcast else vae.dtype
    with vae_tiling(vae, tiled):
        decoded = _decode_in(vae, latents, first_dtype)
    notice = None
    if not torch.isfinite(decoded).all():
        with vae_tiling(vae, tiled):
            decoded = _decode_in(vae, latents, torch.float32)
        notice = "The VAE produced invalid values in half precision; the image was decoded again in float32."
        if not torch.isfinite(decoded).all():
            raise EaselError(
                "The model produced an invalid (NaN) image, which would be black.",
                hint="Try another VAE (for SDXL: sdxl-vae-fp16-fix), fewer steps or a lower CFG scale; "
                "if it persists the checkpoint may be damaged.",
            )
    images = pipe.image_processor.postprocess(
        decoded.float(), output_type="pil", do_denormalize=[True] * decoded.shape[0]
    )
    return images, notice

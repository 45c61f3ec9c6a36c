"""Latents to a rough RGB preview without the VAE: one linear map per pixel, no weights to load.

The factors are the widely used ones fitted for SD1.x/SD2.x and SDXL latents (ComfyUI's
`latent_formats.py` `latent_rgb_factors`, also A1111's "Approx cheap" preview). They take the
latents the sampler works on (already multiplied by the VAE scaling factor) to RGB in [-1, 1].
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from core.errors import EaselError

# Rows: latent channels 0..3; columns: R, G, B.
SD1_FACTORS = (
    (0.3512, 0.2297, 0.3227),
    (0.3250, 0.4974, 0.2350),
    (-0.2829, 0.1762, 0.2721),
    (-0.2120, -0.2616, -0.7177),
)
SD1_BIAS = (0.0, 0.0, 0.0)
SDXL_FACTORS = (
    (0.3651, 0.4232, 0.4341),
    (-0.2533, -0.0042, 0.1068),
    (0.1076, 0.1111, -0.0362),
    (-0.3165, -0.2492, -0.2188),
)
SDXL_BIAS = (0.1084, -0.0175, -0.0011)

# SD2.x shares SD1.x's VAE; the SDXL refiner shares SDXL's.
_FAMILY_FACTORS = {
    "sd1": (SD1_FACTORS, SD1_BIAS),
    "sd2": (SD1_FACTORS, SD1_BIAS),
    "sd2-v": (SD1_FACTORS, SD1_BIAS),
    "sdxl": (SDXL_FACTORS, SDXL_BIAS),
    "sdxl-refiner": (SDXL_FACTORS, SDXL_BIAS),
}


def latent_rgb_factors(family: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The (4x3 factors, 3 bias) for a model family: sd1, sd2, sd2-v, sdxl or sdxl-refiner."""
    found = _FAMILY_FACTORS.get(family.lower())
    if found is None:
        raise EaselError(
            f'No latent preview for the model family "{family}".',
            hint="Previews exist for " + ", ".join(_FAMILY_FACTORS) + ".",
        )
    factors, bias = found
    return torch.tensor(factors, dtype=torch.float32), torch.tensor(bias, dtype=torch.float32)


def latents_to_rgb_preview(latents: torch.Tensor, family: str, scale: int = 1) -> Image.Image:
    """An RGB image of the first latent in a batch, W/8 x H/8 of the final image times `scale`."""
    first = latents[0] if latents.dim() == 4 else latents
    if first.dim() != 3 or first.shape[0] != 4:
        raise EaselError(
            f"Cannot preview latents of shape {tuple(latents.shape)}.",
            hint="Previews need 4-channel SD latents shaped (batch, 4, height, width).",
        )
    factors, bias = latent_rgb_factors(family)
    latent = first.detach().to("cpu", torch.float32)
    rgb = torch.einsum("chw,cr->hwr", latent, factors) + bias
    pixels = ((rgb + 1.0) / 2.0).clamp(0.0, 1.0).mul(255.0).round().to(torch.uint8)
    image = Image.fromarray(np.ascontiguousarray(pixels.numpy()))  # uint8 HxWx3 is RGB
    if scale > 1:
        image = image.resize((image.width * scale, image.height * scale), Image.Resampling.BILINEAR)
    return image

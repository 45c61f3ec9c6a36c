"""Latent previews show the right size and roughly the right colours, with no weights."""

from __future__ import annotations

import pytest
import torch

from core.errors import EaselError
from core.preview import latent_rgb_factors, latents_to_rgb_preview

RED, GREEN, BLUE = (1.0, -1.0, -1.0), (-1.0, 1.0, -1.0), (-1.0, -1.0, 1.0)  # in [-1, 1]


def latents_encoding(colour: tuple[float, float, float], family: str, height: int = 6, width: int = 10) -> torch.Tensor:
    """The latent whose linear preview is closest to `colour` (least-squares inverse of the factors)."""
    factors, bias = latent_rgb_factors(family)
    target = torch.tensor(colour) - bias
    latent = torch.linalg.lstsq(factors.T, target.unsqueeze(1)).solution.squeeze(1)  # 4 values
    return latent.view(1, 4, 1, 1).expand(2, 4, height, width).clone()


def test_preview_is_at_latent_resolution_or_scaled() -> None:
    latents = torch.randn(1, 4, 64, 96)  # a 768x512 image
    assert latents_to_rgb_preview(latents, "sd1").size == (96, 64)
    assert latents_to_rgb_preview(latents, "sdxl", scale=4).size == (384, 256)
    assert latents_to_rgb_preview(latents, "sd1").mode == "RGB"


@pytest.mark.parametrize("family", ["sd1", "sd2", "sdxl", "sdxl-refiner"])
@pytest.mark.parametrize(("colour", "channel"), [(RED, 0), (GREEN, 1), (BLUE, 2)])
def test_a_latent_encoding_a_colour_previews_as_that_colour(family: str, colour: tuple, channel: int) -> None:
    preview = latents_to_rgb_preview(latents_encoding(colour, family), family)
    pixel = preview.getpixel((5, 3))
    others = [value for index, value in enumerate(pixel) if index != channel]
    assert pixel[channel] > max(others) + 60, pixel


def test_batch_preview_shows_the_first_image() -> None:
    latents = torch.cat([latents_encoding(RED, "sd1")[:1], latents_encoding(BLUE, "sd1")[:1]])
    red, green, blue = latents_to_rgb_preview(latents, "sd1").getpixel((0, 0))
    assert red > blue


def test_half_precision_latents_on_any_device_preview() -> None:
    latents = latents_encoding(GREEN, "sdxl").half()
    red, green, blue = latents_to_rgb_preview(latents, "sdxl").getpixel((0, 0))
    assert green > max(red, blue)


def test_unknown_family_and_wrong_shapes_raise_readable_errors() -> None:
    with pytest.raises(EaselError, match="flux"):
        latents_to_rgb_preview(torch.zeros(1, 4, 8, 8), "flux")
    with pytest.raises(EaselError, match="shape"):
        latents_to_rgb_preview(torch.zeros(1, 16, 8, 8), "sd1")

"""Outpainting's canvas: the picture extended on some sides, the new area masked and pre-filled."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from core.errors import RequestError

Sides = tuple[int, int, int, int]  # left, right, top, bottom, in pixels


@dataclass(frozen=True)
class Canvas:
    image: Image.Image  # RGB, the new area filled by stretching the picture's edge pixels outwards
    area: Image.Image  # L: white where to repaint (the new area, plus the given area inside the picture)
    sides: Sides  # what was added, after rounding
    notice: str | None


def _round_up_sides(before: int, after: int, size: int) -> tuple[int, int]:
    """Grow the larger requested side so the new size is a multiple of 8; nothing asked, nothing added."""
    if before == after == 0:
        return before, after
    extra = -(size + before + after) % 8
    return (before + extra, after) if before > after else (before, after + extra)


def check_sides(sides: Sides) -> None:
    if len(sides) != 4 or any(side < 0 for side in sides) or not any(sides):
        raise RequestError(
            f"Outpaint {','.join(map(str, sides))} is not valid.",
            hint="Give four pixel counts, left,right,top,bottom, none negative and at least one above 0 "
                 "(e.g. 0,128,0,0 to extend to the right).",
        )


def extend_canvas(image: Image.Image, area: Image.Image | None, sides: Sides) -> Canvas:
    """`image` grown by `sides` (rounded up so each grown side totals a multiple of 8, and said so)."""
    check_sides(sides)
    left, right = _round_up_sides(sides[0], sides[1], image.width)
    top, bottom = _round_up_sides(sides[2], sides[3], image.height)
    pad = ((top, bottom), (left, right))
    pixels = np.pad(np.asarray(image.convert("RGB")), (*pad, (0, 0)), mode="edge")
    inside = np.asarray(area.convert("L")) if area is not None else np.zeros((image.height, image.width), np.uint8)
    mask = np.pad(inside, pad, mode="constant", constant_values=255)
    new_size = (image.width + left + right, image.height + top + bottom)
    asked = (image.width + sides[0] + sides[1], image.height + sides[2] + sides[3])
    notice = None
    if new_size != asked:
        notice = (f"Outpaint canvas {asked[0]}x{asked[1]} rounded up to {new_size[0]}x{new_size[1]}: "
                  "sides must be multiples of 8.")
    return Canvas(Image.fromarray(pixels, "RGB"), Image.fromarray(mask, "L"), (left, right, top, bottom), notice)

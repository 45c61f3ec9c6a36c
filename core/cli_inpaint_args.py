"""`easel generate`'s inpainting, outpainting and resize flags, and the request fields they give."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from PIL import Image

from core.errors import EaselError

# Flag spellings (no spaces, for a shell) -> the request's A1111 spellings.
MASK_MODE_FLAGS = {"masked": "masked", "not-masked": "not masked"}
MASKED_CONTENT_FLAGS = {"original": "original", "fill": "fill", "latent-noise": "latent noise",
                   "latent-nothing": "latent nothing"}
RESIZE_MODE_FLAGS = {"just": "just resize", "crop": "crop and resize", "fill": "resize and fill"}
INPAINT_AREA_FLAGS = ("whole", "masked")


def add_inpaint_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--mask", type=Path, help="inpaint: white where to repaint, black where to keep (needs --init-image)")
    add("--mask-blur", type=int, help="blur the mask edge by this many pixels (default 4)")
    add("--mask-mode", choices=tuple(MASK_MODE_FLAGS), help="repaint the masked (white) area, or the rest")
    add("--masked-content", choices=tuple(MASKED_CONTENT_FLAGS),
        help="what the repainted area starts from (default original)")
    add("--inpaint-area", choices=INPAINT_AREA_FLAGS,
        help="whole: generate the whole picture; masked: only the region around the mask, at full size")
    add("--padding", type=int, help="pixels around the mask for --inpaint-area masked (default 32)")
    add("--resize-mode", choices=tuple(RESIZE_MODE_FLAGS),
        help="bring the init image to the size: just (stretch), crop (crop and resize), fill (resize and fill)")
    add("--outpaint", metavar="LEFT,RIGHT,TOP,BOTTOM", help="extend the init image by these pixels and paint them")


def parse_sides(text: str) -> tuple[int, int, int, int]:
    try:
        sides = tuple(int(part) for part in text.split(","))
    except ValueError:
        sides = ()
    if len(sides) != 4 or any(side < 0 for side in sides) or not any(sides):
        raise EaselError(f"--outpaint {text} is not valid.",
                         hint="Give four pixel counts, left,right,top,bottom, e.g. --outpaint 0,128,0,0.")
    return sides  # type: ignore[return-value]


def inpaint_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The request fields the flags set; flags not given are left out."""
    fields: dict[str, Any] = {
        "mask": args.mask,
        "mask_blur": args.mask_blur,
        "mask_mode": MASK_MODE_FLAGS.get(args.mask_mode or ""),
        "masked_content": MASKED_CONTENT_FLAGS.get(args.masked_content or ""),
        "inpaint_area": args.inpaint_area,
        "padding": args.padding,
        "resize_mode": RESIZE_MODE_FLAGS.get(args.resize_mode or ""),
        "outpaint": parse_sides(args.outpaint) if args.outpaint else None,
    }
    return {name: value for name, value in fields.items() if value is not None}


def image_size(path: Path) -> tuple[int, int] | None:
    """The image's size from its header, or None when it cannot be read (the engine then says why)."""
    try:
        with Image.open(path) as image:
            return image.size
    except (OSError, ValueError):
        return None

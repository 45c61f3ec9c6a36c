"""`easel generate`'s hires fix flags, and the request's `hires` they give."""

from __future__ import annotations

import argparse
from typing import Any

from core.errors import EaselError
from core.hires import LATENT_UPSCALERS, PIXEL_UPSCALERS, HiresFix

HIRES_FLAGS = ("hires_scale", "hires_steps", "hires_denoise", "hires_upscaler", "hires_resize", "hires_sampler",
               "hires_prompt", "hires_negative")


def add_hires_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--hires-scale", type=float, metavar="F", help="hires fix: upscale the first pass by F (1 to 4; default 2)")
    add("--hires-steps", type=int, metavar="N", help="hires fix: second-pass steps (0: as many as --steps)")
    add("--hires-denoise", type=float, metavar="F", help="hires fix: second-pass denoising strength (default 0.7)")
    add("--hires-upscaler", metavar="NAME",
        help=f"hires fix upscaler: {', '.join([*LATENT_UPSCALERS, *PIXEL_UPSCALERS])} or an upscaler model's name "
             "or path (default Latent)")
    add("--hires-resize", metavar="WxH", help="hires fix: resize to W x H instead of --hires-scale (0 keeps the ratio)")
    add("--hires-sampler", metavar="S", help="hires fix: the second pass's sampler (default: --sampler)")
    add("--hires-prompt", help="hires fix: the second pass's prompt (default: --prompt)")
    add("--hires-negative", help="hires fix: the second pass's negative prompt (default: --negative)")
    add("--no-hires", action="store_true", help="no hires fix, even if --from-image had one")


def parse_resize(text: str) -> tuple[int, int]:
    width, separator, height = text.lower().partition("x")
    try:
        size = (int(width), int(height)) if separator else None
    except ValueError:
        size = None
    if size is None or min(size) < 0 or not any(size):
        raise EaselError(f"--hires-resize {text} is not valid.",
                         hint="Give WIDTHxHEIGHT, e.g. --hires-resize 1024x1536; 0 for a side keeps the aspect ratio.")
    return size


def hires_field(args: argparse.Namespace, current: Any = None) -> dict[str, Any] | None:
    """The request's `hires` (JSON form) when any hires flag is given, on top of `current` (from --from-image);
    None when no flag is given."""
    given = {name: getattr(args, name) for name in HIRES_FLAGS if getattr(args, name, None) is not None}
    if not given:
        return None
    if isinstance(current, HiresFix):
        fields = current.to_json_dict()
    else:
        fields = dict(current) if isinstance(current, dict) else {}
    renames = {"hires_scale": "scale", "hires_steps": "steps", "hires_denoise": "denoise",
               "hires_upscaler": "upscaler", "hires_sampler": "sampler", "hires_prompt": "prompt",
               "hires_negative": "negative_prompt"}
    for flag, name in renames.items():
        if flag in given:
            fields[name] = given[flag]
    if "hires_resize" in given:
        fields["resize_width"], fields["resize_height"] = parse_resize(given["hires_resize"])
    return HiresFix.from_json_dict(fields).to_json_dict()

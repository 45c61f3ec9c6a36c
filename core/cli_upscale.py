"""`easel upscale IMAGE... --model NAME|PATH [--scale F] [--tile N] [--out DIR]`: A1111's Extras upscale, headless."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from core.cli_generate import BAR_WIDTH, TerminalReporter
from core.events import EngineEvent, UpscaleProgress
from core.paths import AppPaths
from core.settings import Settings


def add_upscale_parser(commands: Any) -> argparse.ArgumentParser:
    """Register `upscale` on the CLI's subparsers; the caller adds the model-folder options."""
    parser = commands.add_parser("upscale", help="upscale images with an upscaler model (ESRGAN, SwinIR, ...) "
                                                 "or Lanczos")
    add = parser.add_argument
    add("images", type=Path, nargs="+", metavar="IMAGE", help="image files, or folders of images")
    add("--model", required=True, metavar="NAME|PATH",
        help="upscaler name (as `easel models` lists it) or path; Lanczos or Nearest resize without a model")
    add("--scale", type=float, metavar="F", help="factor (default: the model's own, 4 for Lanczos/Nearest)")
    add("--tile", type=int, metavar="N", help="tile size in source pixels, to bound memory (default 512; 0: no tiling)")
    add("--out", type=Path, metavar="DIR", help="write here instead of Easel's outputs/extras-images folder")
    add("--device", help="cuda, mps or cpu (default: the best available)")
    add("--quiet", action="store_true", help="no progress")
    return parser


@dataclass
class UpscaleReporter(TerminalReporter):
    """The generate command's reporter, plus a line of tile progress per image."""

    def __call__(self, event: EngineEvent) -> None:
        if isinstance(event, UpscaleProgress):
            self._tiles(event)
        else:
            super().__call__(event)

    def _tiles(self, event: UpscaleProgress) -> None:
        if self.quiet:
            return
        filled = int(BAR_WIDTH * event.tile / max(event.tiles, 1))
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        line = f"\r[{bar}] image {event.image_index + 1}/{event.image_count}, tile {event.tile}/{event.tiles}"
        print(line, end="\n" if event.tile == event.tiles else "", file=self.err, flush=True)


def run_upscale_command(args: argparse.Namespace, paths: AppPaths, settings: Settings, out: TextIO,
                        err: TextIO) -> int:
    from core.device import plan_device
    from core.model_resolution import ModelResolver
    from core.upscale import DEFAULT_TILE, is_plain_upscaler
    from core.upscale_job import UpscaleRequest, expand_images, extras_folder, run_upscale

    tile = DEFAULT_TILE if args.tile is None else args.tile
    if tile < 0:
        print("error: --tile must be 0 (no tiling) or a size in pixels.", file=err)
        return 2
    plan = plan_device(args.device or settings.device, settings.precision)
    entries = [] if is_plain_upscaler(args.model) else \
        ModelResolver.from_settings(paths, settings, extra_folders=args.models_dir).entries()
    request = UpscaleRequest(tuple(args.images), args.model, args.scale, tile, args.out)
    reporter = UpscaleReporter(out, err, quiet=args.quiet)
    try:
        written = run_upscale(request, entries, extras_folder(settings.outputs_folder(paths.outputs_dir)), reporter,
                              device=str(plan.device), dtype=plan.dtype)
    except KeyboardInterrupt:
        print("\ncancelled", file=err)
        return 130
    return 1 if reporter.failed or len(written) < len(expand_images(request.images)) else 0

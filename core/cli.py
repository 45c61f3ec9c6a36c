"""`easel generate | models | info` — the engine from a terminal, no Qt involved."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence, TextIO

from core.cli_control_args import add_control_arguments
from core.cli_hires_args import add_hires_arguments
from core.cli_inpaint_args import add_inpaint_arguments
from core.cli_pose import add_pose_parser, run_pose
from core.cli_upscale import add_upscale_parser
from core.errors import EaselError
from core.paths import AppPaths
from core.settings import Settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="easel", description="Easel: Stable Diffusion on your own computer.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_generate(commands.add_parser("generate", help="generate images from a prompt"))
    models = commands.add_parser("models", help="list the models Easel finds")
    _add_model_folders(models)
    models.add_argument("--json", action="store_true", help="print a JSON list")
    models.add_argument("--hash", action="store_true", help="compute missing hashes now (slow for big files)")
    convert = commands.add_parser("convert", help="write a .safetensors copy of a pickle (.ckpt/.pt) model beside it")
    convert.add_argument("model", type=Path)
    info = commands.add_parser("info", help="print the generation parameters stored in an image")
    info.add_argument("image", type=Path)
    info.add_argument("--json", action="store_true")
    add_pose_parser(commands)
    _add_model_folders(add_upscale_parser(commands))
    return parser


def _add_model_folders(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--models-dir", action="append", type=Path, default=[], metavar="DIR",
                        help="also look for models here (repeatable); an A1111 or ComfyUI folder is understood")


def _add_generate(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--model", help="checkpoint name (as `easel models` lists it) or path")
    add("--prompt")
    add("--negative", dest="negative_prompt")
    add("--steps", type=int)
    add("--cfg", dest="cfg_scale", type=float)
    add("--sampler")
    add("--schedule")
    add("--seed", type=int)
    add("--width", type=int)
    add("--height", type=int)
    add("--batch-size", type=int)
    add("--batch-count", type=int)
    add("--clip-skip", type=int)
    add("--init-image", type=Path)
    add("--strength", dest="denoising_strength", type=float)
    add_inpaint_arguments(parser)
    add_control_arguments(parser)
    add_hires_arguments(parser)
    add("--vae")
    add("--out", type=Path, help="write images here instead of Easel's outputs folder")
    add("--device", help="cuda, mps or cpu (default: the best available)")
    add("--model-config", type=Path, help="diffusers config folder for an unusual checkpoint")
    add("--from-image", type=Path, help="take prompt and settings from an image's infotext; flags override")
    add("--quiet", action="store_true", help="no progress bar")
    _add_model_folders(parser)


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(out)
        return 2
    paths = AppPaths.from_environment().ensure()
    settings = Settings.load(paths.settings_file)
    try:
        if args.command == "generate":
            from core.cli_generate import run_generate

            return run_generate(args, paths, settings, out, err)
        if args.command == "models":
            from core.cli_models import run_models

            return run_models(args, paths, settings, out)
        if args.command == "convert":
            from core.models.safe_load import convert_to_safetensors

            print(convert_to_safetensors(args.model), file=out)
            return 0
        if args.command == "pose":
            return run_pose(args, out)
        if args.command == "upscale":
            from core.cli_upscale import run_upscale_command

            return run_upscale_command(args, paths, settings, out, err)
        from core.cli_info import run_info

        return run_info(args, out)
    except EaselError as error:
        print(f"error: {error.message}", file=err)
        if error.hint:
            print(f"  {error.hint}", file=err)
        return 1

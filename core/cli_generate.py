"""`easel generate`: build a request from flags (and optionally an image's infotext) and run it."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from core.cli_control_args import control_units
from core.cli_hires_args import hires_field
from core.cli_inpaint_args import image_size, inpaint_fields
from core.errors import EaselError
from core.events import (
    Cancelled, EngineEvent, Failed, Finished, ImageDone, ModelLoading, ModelReady, Notice, Progress, Started,
)
from core.images import read_request_json
from core.metadata import read_generation_metadata
from core.paths import AppPaths
from core.request import GenerationRequest, Mode
from core.settings import Settings

REQUEST_FLAGS = (
    "prompt", "negative_prompt", "steps", "cfg_scale", "sampler", "schedule", "seed", "width", "height",
    "batch_size", "batch_count", "clip_skip", "init_image", "denoising_strength", "vae", "model_config",
)
BAR_WIDTH = 30


def fields_from_image(image: Path) -> dict[str, Any]:
    """Settings stored in an image: Easel's full request when present, else what another tool recorded.

    Other tools' settings that a request cannot hold (LoRA hashes, ADetailer...) are dropped;
    `easel info IMAGE` lists them.
    """
    if not image.is_file():
        raise EaselError(f"{image} does not exist.", hint="Check the path given to --from-image.")
    request = read_request_json(image)
    if request is not None:
        return GenerationRequest.from_json_dict(request).to_json_dict()
    imported = read_generation_metadata(image)
    if imported is None:
        raise EaselError(
            f"{image.name} carries no generation parameters to reuse.",
            hint="Easel reads images saved by Easel, A1111/Forge, ComfyUI, InvokeAI, Fooocus and NovelAI.",
        )
    if not imported.request_fields:
        raise EaselError(
            f"{image.name} has {imported.tool_name} settings, but none that Easel can use.",
            hint=f"`easel info {image}` shows what it records.",
        )
    return dict(imported.request_fields)


def request_from_args(args: argparse.Namespace) -> GenerationRequest:
    fields: dict[str, Any] = fields_from_image(args.from_image) if args.from_image else {}
    fields.update({name: getattr(args, name) for name in REQUEST_FLAGS if getattr(args, name) is not None})
    fields.update(inpaint_fields(args))
    hires = hires_field(args, fields.get("hires"))
    if hires is not None:
        fields["hires"] = hires
    if getattr(args, "no_hires", False):
        fields["hires"] = None
    if args.control:  # replaces the units of --from-image
        fields["controlnets"] = [unit.to_json_dict() for unit in control_units(args.control)]
    if args.model:
        fields["model"] = args.model
    if not fields.get("model"):
        raise EaselError("No model given.", hint="Pass --model NAME or PATH; `easel models` lists what Easel finds.")
    fields["mode"] = _mode(fields).value
    if fields["mode"] == Mode.INPAINT.value and not args.from_image and args.width is None and args.height is None:
        _size_of_init_image(fields)
    return GenerationRequest.from_json_dict(fields)


def _mode(fields: dict[str, Any]) -> Mode:
    if fields.get("mask") or fields.get("outpaint"):
        if not fields.get("init_image"):
            raise EaselError("--mask and --outpaint need an init image.",
                             hint="Pass --init-image IMAGE: the picture to repaint or extend.")
        return Mode.INPAINT
    return Mode.IMG2IMG if fields.get("init_image") else Mode(fields.get("mode", Mode.TXT2IMG.value))


def _size_of_init_image(fields: dict[str, Any]) -> None:
    """Inpainting with no size given works at the picture's own size (the engine rounds it to multiples of 8)."""
    size = image_size(Path(fields["init_image"]))
    if size is not None:
        fields["width"], fields["height"] = size


@dataclass
class TerminalReporter:
    """Prints the engine's events: progress on stderr, written paths on stdout."""

    out: TextIO
    err: TextIO
    quiet: bool = False
    failed: bool = False
    paths: list[Path] = field(default_factory=list)

    def __call__(self, event: EngineEvent) -> None:
        if isinstance(event, Progress):
            self._progress(event)
        elif isinstance(event, ModelLoading):
            self._say(f"Loading model {event.name} ...")
        elif isinstance(event, ModelReady):
            self._say(f"Model ready in {event.seconds:.1f} s")
        elif isinstance(event, Started):
            for notice in event.notices:
                print(f"note: {notice}", file=self.err)
            self._say(f"Generating {len(event.seeds)} image(s), seed {event.seeds[0]}")
        elif isinstance(event, Notice):
            print(f"\nnote: {event.text}", file=self.err)
        elif isinstance(event, ImageDone):
            self._image_done(event)
        elif isinstance(event, Failed):
            self.failed = True
            print(f"\nerror: {event.message}", file=self.err)
            if event.hint:
                print(f"  {event.hint}", file=self.err)
        elif isinstance(event, Cancelled):
            self.failed = True
            print("\ncancelled", file=self.err)
        elif isinstance(event, Finished):
            self._say(f"Done in {event.seconds:.1f} s")

    def _say(self, text: str) -> None:
        if not self.quiet:
            print(text, file=self.err, flush=True)

    def _progress(self, event: Progress) -> None:
        if self.quiet:
            return
        filled = int(BAR_WIDTH * event.step / max(event.total, 1))
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        batch = f" batch {event.batch_index + 1}/{event.batch_total}" if event.batch_total > 1 else ""
        line = f"\r[{bar}] {event.step}/{event.total}{batch} {event.iterations_per_second:.2f} it/s, " \
               f"{event.seconds_left:.0f} s left"
        end = "\n" if event.step == event.total else ""
        print(line, end=end, file=self.err, flush=True)

    def _image_done(self, event: ImageDone) -> None:
        if event.path is None:
            self.failed = True
            print(f"error: {event.save_error}", file=self.err)
            return
        self.paths.append(event.path)
        print(event.path, file=self.out, flush=True)


def run_generate(
    args: argparse.Namespace, paths: AppPaths, settings: Settings, out: TextIO, err: TextIO
) -> int:
    from core.engine import Engine
    from core.model_resolution import ModelResolver

    request = request_from_args(args)
    resolver = ModelResolver.from_settings(paths, settings, extra_folders=args.models_dir)
    for problem in settings.problems:
        print(f"note: {problem}", file=err)
    # settings.json decides precision, previews, attention slicing, output folder and names; --device wins.
    engine = Engine.from_settings(resolver, paths, settings, device=args.device)
    reporter = TerminalReporter(out, err, quiet=args.quiet)
    try:
        engine.generate(request, reporter, output_dir=args.out)
    except KeyboardInterrupt:
        print("\ncancelled", file=err)
        return 130
    return 1 if reporter.failed else 0

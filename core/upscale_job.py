"""Upscale a batch of image files (A1111's Extras tab): each written beside the others as a new PNG that keeps
the source's metadata and records the upscale in A1111's extras fields. Shared by the CLI and the app."""

from __future__ import annotations

import contextlib
import datetime
import re
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from core.errors import EaselError, GenerationCancelled
from core.events import (Cancelled, EventSink, Failed, Finished, ImageDone, ModelLoading, ModelReady, Notice,
                         UpscaleProgress)
from core.images import IMAGE_EXTENSIONS, INFOTEXT_KEY, images_in_folder, read_exif_comment, save_new_png
from core.infotext import parse_infotext, quote_value
from core.models.scan import ModelEntry
from core.upscale import (DEFAULT_TILE, LANCZOS, NEAREST, LoadedUpscaler, describe_upscaler, find_upscaler,
                          is_plain_upscaler, load_upscaler, preferred_dtype, upscale_image)

PLAIN_DEFAULT_SCALE = 4.0  # A1111's Extras tab starts at "Resize: 4"
POSTPROCESSING_KEY = "postprocessing"  # the PNG text chunk A1111's Extras tab writes its fields to
_OLD_POSTPROCESS_FIELDS = re.compile(r',\s*Postprocess upscale(?:r| by): (?:"(?:\\.|[^\\"])*"|[^,\n]*)')


@dataclass(frozen=True)
class UpscaleRequest:
    images: tuple[Path, ...]  # image files and folders (a folder stands for the images directly in it)
    upscaler: str = LANCZOS  # "Lanczos", "Nearest", "None", or an upscaler model's name or path
    scale: float | None = None  # None: the model's native factor, or 4 without a model
    tile: int = DEFAULT_TILE  # input pixels a side; 0 runs each image in one piece
    out_dir: Path | None = None  # None: the folder run_upscale is given


def extras_folder(outputs_dir: Path) -> Path:
    """Where A1111 puts Extras results: outputs/extras-images/<date>."""
    return Path(outputs_dir) / "extras-images" / datetime.date.today().isoformat()


def expand_images(paths: Sequence[Path]) -> list[Path]:
    """Files as given (whatever they hold), and each folder's image files."""
    expanded: list[Path] = []
    for path in map(Path, paths):
        expanded += images_in_folder(path) if path.is_dir() else [path]
    return expanded


def run_upscale(request: UpscaleRequest, entries: Sequence[ModelEntry], default_out_dir: Path,
                on_event: EventSink, cancel: Callable[[], bool] = lambda: False, device: str = "cpu",
                dtype: torch.dtype | None = None) -> list[Path]:
    """Upscale every image of `request`, sending events; returns the files written. Never raises for a failure the
    user can act on: a bad image is reported (Notice) and skipped, anything else ends in Failed or Cancelled."""
    started = time.perf_counter()
    written: list[Path] = []
    seeds: list[int] = []
    try:
        images = expand_images(request.images)
        if not images:
            raise EaselError("There are no images to upscale.",
                             f"Give image files or folders with {', '.join(sorted(IMAGE_EXTENSIONS))} images.")
        upscaler = _load(request.upscaler, entries, device, dtype, on_event)
        folder = Path(request.out_dir or default_out_dir)
        for index, source in enumerate(images):
            done = _upscale_one(request, upscaler, source, folder, (index, len(images)), on_event, cancel)
            if done is not None:
                seeds.append(done.seed)
                written += [done.path] if done.path else []
    except GenerationCancelled:
        on_event(Cancelled(images_kept=len(written)))
        return written
    except EaselError as error:
        on_event(Failed(error.message, error.hint, error.details))
        return written
    except Exception as error:  # noqa: BLE001 - out of memory even in the smallest tiles, and the like
        on_event(Failed(f"Upscaling failed: {error}", "Try a smaller tile size or factor, or close other apps.",
                        traceback.format_exc()))
        return written
    on_event(Finished(tuple(written), tuple(seeds), time.perf_counter() - started))
    return written


def _load(name: str, entries: Sequence[ModelEntry], device: str, dtype: torch.dtype | None,
          on_event: EventSink) -> LoadedUpscaler | None:
    if is_plain_upscaler(name):
        return None
    entry = find_upscaler(entries, name)
    on_event(ModelLoading(entry.name))
    started = time.perf_counter()
    upscaler = load_upscaler(entry.path, device, dtype or preferred_dtype(device))
    on_event(ModelReady(entry.name, time.perf_counter() - started))
    return upscaler


def _upscale_one(request: UpscaleRequest, upscaler: LoadedUpscaler | None, source: Path, folder: Path,
                 position: tuple[int, int], on_event: EventSink, cancel: Callable[[], bool]) -> ImageDone | None:
    index, count = position
    try:
        image, text_chunks = read_source(source)
    except EaselError as error:
        on_event(Notice(f"Skipped {source.name}: {error}"))
        return None
    scale = request.scale or (float(upscaler.scale) if upscaler else PLAIN_DEFAULT_SCALE)
    resample = NEAREST if request.upscaler.strip().lower() == NEAREST.lower() else LANCZOS

    def tile_done(tile: int, tiles: int) -> None:
        on_event(UpscaleProgress(index, count, tile, tiles))

    if cancel():
        raise GenerationCancelled("Upscaling was cancelled.")
    result = upscale_image(image, upscaler, scale, request.tile, on_tile=tile_done, cancel=cancel,
                           resample_name=resample)
    if upscaler is None:
        tile_done(1, 1)
    chunks = postprocessed_text(text_chunks, scale, describe_upscaler(upscaler, resample))
    infotext = chunks.get(INFOTEXT_KEY, "")
    seed = _seed(infotext)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = save_new_png(result, folder, source.stem, chunks)
    except OSError as error:
        problem = f"Could not save the image in {folder}: {error.strerror or error}"
        event = ImageDone(result, seed, infotext, None, problem)
    else:
        event = ImageDone(result, seed, infotext, path)
    on_event(event)
    return event


def read_source(path: Path) -> tuple[Image.Image, dict[str, str]]:
    """The image, upright, and its text metadata: PNG text chunks, or the EXIF comment A1111 writes to JPEG/WebP
    as `parameters`. EaselError naming the file when it is not a readable image."""
    try:
        with Image.open(path) as opened:
            text = dict(getattr(opened, "text", None) or {})
            opened.load()
            image = ImageOps.exif_transpose(opened)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as error:
        raise EaselError(f"Cannot read the image {Path(path).name}.",
                         "Check that the file exists and is a PNG, JPEG or WebP image.", details=str(error)) from None
    chunks = {key: str(value) for key, value in text.items()}
    if INFOTEXT_KEY not in chunks:
        with contextlib.suppress(EaselError):
            comment = read_exif_comment(path)
            if comment:
                chunks[INFOTEXT_KEY] = comment
    return image, chunks


def postprocess_fields(scale: float, upscaler_name: str) -> str:
    """A1111's Extras fields: `Postprocess upscale by: 4, Postprocess upscaler: 4x-UltraSharp`."""
    return f"Postprocess upscale by: {quote_value(round(scale, 4))}, Postprocess upscaler: {quote_value(upscaler_name)}"


def postprocessed_text(chunks: dict[str, str], scale: float, upscaler_name: str) -> dict[str, str]:
    """The source's text chunks with the upscale recorded: in A1111's `postprocessing` chunk, and appended to the
    infotext's parameters line (replacing the fields of an earlier upscale) so Easel and civitai show it too."""
    fields = postprocess_fields(scale, upscaler_name)
    updated = dict(chunks)
    updated[POSTPROCESSING_KEY] = fields
    infotext = chunks.get(INFOTEXT_KEY)
    if infotext and parse_infotext(infotext).params:
        updated[INFOTEXT_KEY] = f"{_OLD_POSTPROCESS_FIELDS.sub('', infotext.rstrip())}, {fields}"
    return updated


def _seed(infotext: str) -> int:
    seed = parse_infotext(infotext).params.get("Seed", "") if infotext else ""
    return int(seed) if seed.lstrip("-").isdigit() else -1

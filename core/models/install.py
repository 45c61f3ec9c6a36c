"""Put a model file a person dropped or picked into Easel's models folder, in the folder of its kind."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Callable

from core.errors import ModelFileError
from core.models.scan import EASEL_SUBFOLDERS, ModelEntry, entry_for_file

FOLDER_FOR_KIND = {kind: folder for folder, kind in EASEL_SUBFOLDERS.items()}
COPY_BLOCK = 16 * 1024 * 1024


def describe_model_file(path: Path) -> ModelEntry:
    """What the file is (header only); raises ModelFileError with the reason when Easel cannot use it."""
    entry = entry_for_file(Path(path))
    if not entry.supported or entry.kind not in FOLDER_FOR_KIND:
        raise ModelFileError(f"{Path(path).name} cannot be added: {entry.reason or 'Easel does not know this file.'}",
                             "Choose a checkpoint, LoRA, VAE, ControlNet, upscaler or embedding file.")
    return entry


def install_model_file(source: Path, models_dir: Path,
                       on_progress: Callable[[int, int], None] = lambda done, total: None) -> Path:
    """Link (same disk: instant, no extra space) or copy `source` into `models_dir/<kind>/`.

    A file already there with the same name and size is reused; a different one is never overwritten.
    """
    source = Path(source)
    entry = describe_model_file(source)
    target = models_dir / FOLDER_FOR_KIND[entry.kind] / source.name
    if target.exists():
        if target.stat().st_size == source.stat().st_size:
            return target
        raise ModelFileError(f"{target.name} already exists in {target.parent} and is a different file.",
                             "Rename one of the two files, then add it again.")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        _copy_atomically(source, target, on_progress)
    return target


def _copy_atomically(source: Path, target: Path, on_progress: Callable[[int, int], None]) -> None:
    """A copy under a temporary name, renamed when complete: a half-copied model never shows up in a scan."""
    temporary = target.with_name(f".{target.name}.partial")
    total = source.stat().st_size
    done = 0
    try:
        with open(source, "rb") as reader, open(temporary, "wb") as writer:
            while block := reader.read(COPY_BLOCK):
                writer.write(block)
                done += len(block)
                on_progress(done, total)
            writer.flush()
            os.fsync(writer.fileno())
        shutil.copystat(source, temporary)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise

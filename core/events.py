"""The typed events the engine sends while it works; the UI and CLI read nothing else."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Union

from PIL import Image

from core.request import GenerationRequest


@dataclass(frozen=True)
class Started:
    request: GenerationRequest
    seeds: tuple[int, ...]
    notices: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelLoading:
    name: str


@dataclass(frozen=True)
class ModelReady:
    name: str
    seconds: float


@dataclass(frozen=True)
class Progress:
    step: int
    total: int
    elapsed: float
    batch_index: int = 0
    batch_total: int = 1
    preview: Image.Image | None = None

    @property
    def iterations_per_second(self) -> float:
        return self.step / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def seconds_left(self) -> float:
        rate = self.iterations_per_second
        return (self.total - self.step) / rate if rate > 0 else 0.0


@dataclass(frozen=True)
class UpscaleProgress:
    """One more tile of an upscale done: `tile` of `tiles` for image `image_index` (from 0) of `image_count`."""

    image_index: int
    image_count: int
    tile: int
    tiles: int


@dataclass(frozen=True)
class Notice:
    """Something the user should know that did not stop the generation."""

    text: str


@dataclass(frozen=True)
class ImageDone:
    """One finished image. `path` is None when saving failed; the image is still here, in memory."""

    image: Image.Image
    seed: int
    infotext: str
    path: Path | None
    save_error: str | None = None


@dataclass(frozen=True)
class Finished:
    paths: tuple[Path, ...]
    seeds: tuple[int, ...]
    seconds: float


@dataclass(frozen=True)
class Cancelled:
    images_kept: int


@dataclass(frozen=True)
class Failed:
    message: str
    hint: str = ""
    details: str = ""


EngineEvent = Union[
    Started, ModelLoading, ModelReady, Progress, UpscaleProgress, Notice, ImageDone, Finished, Cancelled, Failed
]
EventSink = Callable[[EngineEvent], None]
CancelCheck = Callable[[], bool]


@dataclass
class CancelFlag:
    """A thread-safe enough flag: set from the UI thread, read by the engine between steps."""

    _set: bool = field(default=False)

    def set(self) -> None:
        self._set = True

    def clear(self) -> None:
        self._set = False

    def __call__(self) -> bool:
        return self._set

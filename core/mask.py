"""The inpaint mask the canvas paints: strokes and operations in, a uint8 mask out, with undo.

Feed it pointer events in image coordinates: pixel (i, j) covers [i, i+1) x [j, j+1), so map a
widget point through the inverse view transform without rounding. 0 = keep, 255 = repaint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, UnidentifiedImageError

from core.errors import EaselError
from core.images import save_png_atomically
from core.mask_ops import (
    EMPTY_RECT,
    Dab,
    Rect,
    dilate,
    erode,
    gaussian_blur,
    nonzero_bounds,
    polygon_coverage,
    rectangle_bounds,
    segment_bounds,
    segment_coverage,
)

__all__ = ["Brush", "MaskDocument", "Rect", "UndoHistory", "gaussian_blur"]

# Undo keeps changed regions (before and after) up to this many bytes, dropping the oldest steps.
DEFAULT_HISTORY_BYTES = 512 * 1024**2
# A mask PNG may differ from the document's aspect ratio by rounding, not by more than this.
ASPECT_TOLERANCE = 0.01


@dataclass(frozen=True)
class Brush:
    """size: diameter in px; hardness 1 = hard edge, 0 = soft all the way from the centre."""

    size: float = 40.0
    hardness: float = 1.0
    opacity: float = 1.0
    erase: bool = False
    pressure_to: Literal["size", "opacity"] = "size"

    def __post_init__(self) -> None:
        if self.size <= 0:
            raise ValueError(f"Brush size must be positive, not {self.size}.")
        if not (0.0 <= self.hardness <= 1.0 and 0.0 <= self.opacity <= 1.0):
            raise ValueError("Brush hardness and opacity go from 0 to 1.")
        if self.pressure_to not in ("size", "opacity"):
            raise ValueError(f"Pressure controls size or opacity, not {self.pressure_to!r}.")

    def dab(self, x: float, y: float, pressure: float) -> Dab:
        pressure = min(max(pressure, 0.0), 1.0)
        if self.pressure_to == "size":
            return Dab(x, y, self.size / 2 * pressure)
        return Dab(x, y, self.size / 2, pressure)


@dataclass(frozen=True)
class _Step:
    """One undo step: a region before and after; rect None means the whole array (size changed)."""

    rect: Rect | None
    before: np.ndarray
    after: np.ndarray

    @property
    def nbytes(self) -> int:
        return self.before.nbytes + self.after.nbytes


@dataclass
class UndoHistory:
    """Unlimited undo within `limit_bytes`; the oldest steps go first, the newest always stays."""

    limit_bytes: int = DEFAULT_HISTORY_BYTES
    nbytes: int = 0
    _done: list[_Step] = field(default_factory=list)
    _undone: list[_Step] = field(default_factory=list)

    def push(self, step: _Step) -> None:
        self._done.append(step)
        self.nbytes += step.nbytes - sum(undone.nbytes for undone in self._undone)
        self._undone.clear()
        while len(self._done) > 1 and self.nbytes > self.limit_bytes:
            self.nbytes -= self._done.pop(0).nbytes

    def take_undo(self) -> _Step | None:
        return self._move(self._done, self._undone)

    def take_redo(self) -> _Step | None:
        return self._move(self._undone, self._done)

    @property
    def can_undo(self) -> bool:
        return bool(self._done)

    @property
    def can_redo(self) -> bool:
        return bool(self._undone)

    @staticmethod
    def _move(source: list[_Step], target: list[_Step]) -> _Step | None:
        if not source:
            return None
        step = source.pop()
        target.append(step)
        return step


@dataclass
class _Stroke:
    """A stroke in progress. Coverage combines by max(), so crossing itself adds no opacity; the
    mask is recomposed from the stroke's starting state each time."""

    brush: Brush
    base: np.ndarray
    coverage: np.ndarray
    last: Dab
    touched: Rect = EMPTY_RECT


class MaskDocument:
    """A mask with strokes, selections, grow/shrink, canvas resizing and undo/redo."""

    def __init__(
        self,
        width: int,
        height: int,
        mask: np.ndarray | None = None,
        history_bytes: int = DEFAULT_HISTORY_BYTES,
    ) -> None:
        if width <= 0 or height <= 0:
            raise ValueError(f"A mask of {width}x{height} is not valid.")
        if mask is None:
            mask = np.zeros((height, width), dtype=np.uint8)
        elif mask.shape != (height, width) or mask.dtype != np.uint8:
            raise ValueError(f"The mask must be uint8, {height} rows by {width}, not {mask.dtype} {mask.shape}.")
        self._mask = mask.copy()
        self._history = UndoHistory(history_bytes)
        self._stroke: _Stroke | None = None

    @property
    def width(self) -> int:
        return self._mask.shape[1]

    @property
    def height(self) -> int:
        return self._mask.shape[0]

    @property
    def mask(self) -> np.ndarray:
        """A read-only view of the live mask; ask again after the size changes (resize, its undo)."""
        view = self._mask.view()
        view.flags.writeable = False
        return view

    # --- strokes ----------------------------------------------------------------------------------

    def begin_stroke(self, x: float, y: float, brush: Brush, pressure: float = 1.0) -> Rect:
        """Start a stroke and paint its first dab; returns the rectangle to repaint."""
        self.end_stroke()
        dab = brush.dab(x, y, pressure)
        coverage = np.zeros(self._mask.shape, dtype=np.float32)
        self._stroke = _Stroke(brush, self._mask.copy(), coverage, dab)
        return self._paint_segment(dab, dab)

    def stroke_to(self, x: float, y: float, pressure: float = 1.0) -> Rect:
        """Paint from the last point to here, without gaps however far; returns the rectangle to repaint."""
        if self._stroke is None:
            raise RuntimeError("stroke_to needs begin_stroke first.")
        dab = self._stroke.brush.dab(x, y, pressure)
        rect = self._paint_segment(self._stroke.last, dab)
        self._stroke.last = dab
        return rect

    def end_stroke(self) -> None:
        """Finish the stroke as one undo step (none if it changed nothing)."""
        stroke, self._stroke = self._stroke, None
        if stroke is None or stroke.touched.is_empty:
            return
        self._record(stroke.touched, stroke.base[stroke.touched.slices], self._mask[stroke.touched.slices])

    def _paint_segment(self, start: Dab, end: Dab) -> Rect:
        stroke = self._stroke
        assert stroke is not None
        rect = segment_bounds(start, end, self.width, self.height)
        if rect.is_empty:
            return rect
        region = stroke.coverage[rect.slices]
        np.maximum(region, segment_coverage(start, end, stroke.brush.hardness, rect), out=region)
        self._mask[rect.slices] = _composite(stroke.base[rect.slices], region, stroke.brush)
        stroke.touched = stroke.touched.union(rect)
        return rect

    # --- whole-mask operations, one undo step each ------------------------------------------------

    def fill(self) -> None:
        self._replace(np.full_like(self._mask, 255))

    def clear(self) -> None:
        self._replace(np.zeros_like(self._mask))

    def invert(self) -> None:
        self._replace(255 - self._mask)

    def grow(self, px: int) -> None:
        """Mask every pixel within `px` (Euclidean, centre to centre) of a masked one."""
        self._replace(dilate(self._mask, px))

    def shrink(self, px: int) -> None:
        """Keep only pixels whose whole `px` neighbourhood is masked; the image edge does not erode."""
        self._replace(erode(self._mask, px))

    def select_rectangle(self, x0: float, y0: float, x1: float, y1: float, erase: bool = False) -> None:
        """Mask (or, with erase, unmask) the pixels whose centre is inside the rectangle."""
        rect = rectangle_bounds(x0, y0, x1, y1, self.width, self.height)
        if not rect.is_empty:
            self._replace_region(rect, np.full((rect.height, rect.width), 0 if erase else 255, np.uint8))

    def select_lasso(self, points: Sequence[tuple[float, float]], erase: bool = False) -> None:
        """Mask (or unmask) the pixels whose centre is inside the closed polygon (even-odd rule)."""
        self.end_stroke()
        rect, inside = polygon_coverage(list(points), self.width, self.height)
        if rect.is_empty:
            return
        region = self._mask[rect.slices].copy()
        region[inside] = 0 if erase else 255
        self._replace_region(rect, region)

    def resize_canvas(self, left: int, right: int, top: int, bottom: int, fill: int) -> None:
        """Add `left`, `right`, `top`, `bottom` px around the mask, set to `fill` (255 to outpaint)."""
        if min(left, right, top, bottom) < 0 or not 0 <= fill <= 255:
            raise ValueError("Canvas extensions must be 0 or more px and the fill 0 to 255.")
        self.end_stroke()
        grown = np.full((self.height + top + bottom, self.width + left + right), fill, dtype=np.uint8)
        grown[top : top + self.height, left : left + self.width] = self._mask
        self._history.push(_Step(None, self._mask, grown.copy()))
        self._mask = grown

    def blurred(self, radius: float) -> np.ndarray:
        """The mask as the model receives it with A1111's "Mask blur" = radius (see gaussian_blur)."""
        return gaussian_blur(self._mask, radius)

    # --- files ------------------------------------------------------------------------------------

    def load_png(self, path: Path | str) -> None:
        """Replace the mask with an image (white = repaint, greys kept), scaled to the document."""
        new = _read_mask_image(Path(path), self.width, self.height)
        self._replace(new)

    def export_png(self, path: Path | str) -> Path:
        """Write the mask as a greyscale PNG, white = repaint."""
        self.end_stroke()
        return save_png_atomically(Image.fromarray(self._mask, mode="L"), Path(path), None, None)

    # --- undo -------------------------------------------------------------------------------------

    @property
    def can_undo(self) -> bool:
        return self._history.can_undo or self._stroke_changed()

    @property
    def can_redo(self) -> bool:
        return self._history.can_redo and not self._stroke_changed()

    def undo(self) -> bool:
        self.end_stroke()
        step = self._history.take_undo()
        if step is not None:
            self._restore(step.rect, step.before)
        return step is not None

    def redo(self) -> bool:
        self.end_stroke()
        step = self._history.take_redo()
        if step is not None:
            self._restore(step.rect, step.after)
        return step is not None

    def _stroke_changed(self) -> bool:
        return self._stroke is not None and not self._stroke.touched.is_empty

    def _restore(self, rect: Rect | None, values: np.ndarray) -> None:
        if rect is None:
            self._mask = values.copy()
        else:
            self._mask[rect.slices] = values

    def _replace(self, new: np.ndarray) -> None:
        self.end_stroke()
        changed = nonzero_bounds(new != self._mask)
        if not changed.is_empty:
            self._replace_region(changed, new[changed.slices])

    def _replace_region(self, rect: Rect, values: np.ndarray) -> None:
        self.end_stroke()
        self._record(rect, self._mask[rect.slices], values)
        self._mask[rect.slices] = values

    def _record(self, rect: Rect, before: np.ndarray, after: np.ndarray) -> None:
        if not np.array_equal(before, after):
            self._history.push(_Step(rect, before.copy(), after.copy()))


def _composite(base: np.ndarray, coverage: np.ndarray, brush: Brush) -> np.ndarray:
    """Lay one stroke's coverage over the mask it started from: paint is "source over", so strokes
    build up; the eraser removes the same fraction."""
    alpha = coverage * np.float32(brush.opacity)
    start = base.astype(np.float32)
    result = start * (1 - alpha) if brush.erase else start + (255 - start) * alpha
    return np.rint(result).astype(np.uint8)


def _read_mask_image(path: Path, width: int, height: int) -> np.ndarray:
    try:
        with Image.open(path) as image:
            grey = _mask_channel(image)
    except (UnidentifiedImageError, OSError) as error:
        raise EaselError(
            f"Cannot read the mask {path.name}.", hint="Use a PNG, JPEG or WebP image.", details=str(error)
        ) from error
    if grey.size != (width, height):
        _check_aspect(grey.size, (width, height), path.name)
        grey = grey.resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(grey, dtype=np.uint8).copy()


def _mask_channel(image: Image.Image) -> Image.Image:
    """As A1111's create_binary_mask: a mask with real transparency is its alpha, else its grey."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        alpha = rgba.getchannel("A")
        if alpha.getextrema() != (255, 255):
            return alpha
        return rgba.convert("L")
    return image.convert("L")


def _check_aspect(found: tuple[int, int], wanted: tuple[int, int], name: str) -> None:
    found_ratio, wanted_ratio = found[0] / found[1], wanted[0] / wanted[1]
    if abs(found_ratio / wanted_ratio - 1) > ASPECT_TOLERANCE:
        raise EaselError(
            f"The mask {name} is {found[0]}x{found[1]} but the image is {wanted[0]}x{wanted[1]}: "
            "a different shape.",
            hint="Use a mask made for this image, or crop it to the same aspect ratio first.",
        )

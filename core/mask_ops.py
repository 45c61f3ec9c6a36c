"""Pure array operations on inpaint masks: brush coverage, blur, grow/shrink, selections, crop region.

Masks are uint8 arrays, height x width, 0 = keep, 255 = repaint. Coordinates are continuous image
coordinates: pixel (column i, row j) covers [i, i+1) x [j, j+1) and its centre is (i + 0.5, j + 0.5).
Every geometric test below is made at pixel centres.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# Kernels longer than this blur through the FFT, which is faster here than one pass per tap.
_DIRECT_KERNEL_LIMIT = 41


@dataclass(frozen=True)
class Rect:
    """A pixel rectangle; right and bottom are exclusive. Qt: QRect(left, top, width, height)."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return max(0, self.right - self.left)

    @property
    def height(self) -> int:
        return max(0, self.bottom - self.top)

    @property
    def is_empty(self) -> bool:
        return self.width == 0 or self.height == 0

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.top, self.bottom), slice(self.left, self.right)

    def union(self, other: Rect) -> Rect:
        if self.is_empty:
            return other
        if other.is_empty:
            return self
        return Rect(
            min(self.left, other.left),
            min(self.top, other.top),
            max(self.right, other.right),
            max(self.bottom, other.bottom),
        )

    def clipped(self, width: int, height: int) -> Rect:
        return Rect(max(0, self.left), max(0, self.top), min(width, self.right), min(height, self.bottom))


EMPTY_RECT = Rect(0, 0, 0, 0)


def nonzero_bounds(mask: np.ndarray) -> Rect:
    """The smallest rectangle holding every nonzero pixel (empty if there is none)."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return EMPTY_RECT
    cols = np.flatnonzero(mask.any(axis=0))
    return Rect(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


# --- brush ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dab:
    """One end of a stroke segment: centre, radius and the opacity pressure gave it."""

    x: float
    y: float
    radius: float
    opacity: float = 1.0


def segment_bounds(a: Dab, b: Dab, width: int, height: int) -> Rect:
    """The pixels a segment between two dabs can touch, clipped to the image."""
    left = math.floor(min(a.x - a.radius, b.x - b.radius))
    top = math.floor(min(a.y - a.radius, b.y - b.radius))
    right = math.ceil(max(a.x + a.radius, b.x + b.radius))
    bottom = math.ceil(max(a.y + a.radius, b.y + b.radius))
    return Rect(left, top, right, bottom).clipped(width, height)


def segment_coverage(a: Dab, b: Dab, hardness: float, rect: Rect) -> np.ndarray:
    """Coverage (0..1, float32, rect-shaped) of the swept disc from dab `a` to dab `b`.

    This is the limit of stamping dabs along the segment with no spacing at all: each pixel takes
    the best coverage any dab on the segment would give it, radius and opacity varying linearly.
    A hard brush (hardness 1) covers exactly the pixels whose centre is within the radius.
    """
    ys = np.arange(rect.top, rect.bottom, dtype=np.float64)[:, None] + 0.5
    xs = np.arange(rect.left, rect.right, dtype=np.float64)[None, :] + 0.5
    t = _closest_sweep_parameter(a, b, xs, ys)
    cx, cy = a.x + t * (b.x - a.x), a.y + t * (b.y - a.y)
    radius = np.maximum(a.radius + t * (b.radius - a.radius), 1e-6)
    distance_sq = (xs - cx) ** 2 + (ys - cy) ** 2
    coverage = _falloff(distance_sq, radius, hardness)
    if a.opacity != 1.0 or b.opacity != 1.0:
        coverage = coverage * (a.opacity + t * (b.opacity - a.opacity))
    return coverage.astype(np.float32)


def _closest_sweep_parameter(a: Dab, b: Dab, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Per pixel, where on the segment the growing (or shrinking) disc reaches it first.

    Minimises |p - c(t)| - r(t) for c, r linear in t; with equal radii that is the projection.
    """
    dx, dy = b.x - a.x, b.y - a.y
    length_sq = dx * dx + dy * dy
    if length_sq < 1e-12:
        return np.zeros(np.broadcast_shapes(xs.shape, ys.shape)) + (1.0 if b.radius > a.radius else 0.0)
    px, py = xs - a.x, ys - a.y
    t = (px * dx + py * dy) / length_sq
    slope = (b.radius - a.radius) / math.sqrt(length_sq)
    if abs(slope) >= 1.0:  # one end's disc contains every other
        return np.zeros_like(t) + (1.0 if slope > 0 else 0.0)
    if slope != 0.0:
        perpendicular = np.abs(px * dy - py * dx) / math.sqrt(length_sq)
        t = t + slope * perpendicular / (math.sqrt(1.0 - slope * slope) * math.sqrt(length_sq))
    return np.clip(t, 0.0, 1.0)


def _falloff(distance_sq: np.ndarray, radius: np.ndarray, hardness: float) -> np.ndarray:
    """1 inside `hardness * radius`, a smoothstep down to 0 at the radius; hard: inside or not."""
    if hardness >= 1.0:
        return (distance_sq <= radius * radius).astype(np.float64)
    ratio = np.sqrt(distance_sq) / radius
    x = np.clip((ratio - hardness) / (1.0 - hardness), 0.0, 1.0)
    return 1.0 - x * x * (3.0 - 2.0 * x)


# --- blur -----------------------------------------------------------------------------------------


def gaussian_kernel(sigma: float) -> np.ndarray:
    """A1111's mask-blur kernel as OpenCV uses it on 8-bit images: size 2*int(2.5*sigma + 0.5) + 1,
    weights in 1/256ths (int64, summing to 256) rounded with error diffusion from the outside in,
    the centre taking what is left (getGaussianKernelBitExact + getGaussianKernelFixedPoint_ED)."""
    size = 2 * int(2.5 * sigma + 0.5) + 1
    offsets = np.arange(size, dtype=np.float64) - (size - 1) / 2
    weights = np.exp(-(offsets**2) / (2.0 * sigma * sigma))
    weights = weights / weights.sum()
    fixed = np.zeros(size, dtype=np.int64)
    error = 0.0
    for i in range(size // 2):
        adjusted = weights[i] * 256 + error
        fixed[i] = fixed[size - 1 - i] = round(adjusted)
        error = adjusted - fixed[i]
    fixed[size // 2] = 256 - 2 * fixed[: size // 2].sum()
    return fixed


def gaussian_blur(mask: np.ndarray, sigma: float) -> np.ndarray:
    """Blur a mask as A1111 (1.6 to 1.10) does for "Mask blur": cv2.GaussianBlur with this sigma
    across, then again down, each pass rounded to uint8, borders reflected (BORDER_REFLECT_101).

    Integer arithmetic on OpenCV's fixed-point kernel, so the result is OpenCV's to the bit.
    """
    if sigma <= 0:
        return mask.copy()
    kernel = gaussian_kernel(sigma)
    reach = len(kernel) // 2
    height, width = mask.shape
    # Zero stays zero under a blur, so only the masked area needs work; a margin of twice the reach
    # keeps the reflection at the margin's edge reflecting zeros.
    region = nonzero_bounds(mask)
    out = np.zeros_like(mask)
    if region.is_empty:
        return out
    margin = 2 * reach
    region = Rect(region.left - margin, region.top - margin, region.right + margin, region.bottom + margin)
    region = region.clipped(width, height)
    part = mask[region.slices]
    part = _blur_axis(part, kernel, axis=1)
    out[region.slices] = _blur_axis(part, kernel, axis=0)
    return out


def _blur_axis(values: np.ndarray, kernel: np.ndarray, axis: int) -> np.ndarray:
    if axis == 1:  # slices along rows are strided and several times slower: work on the transpose
        return np.ascontiguousarray(_blur_axis(np.ascontiguousarray(values.T), kernel, 0).T)
    reach = len(kernel) // 2
    padded = np.pad(values, [(reach, reach), (0, 0)], mode="reflect")
    if len(kernel) > _DIRECT_KERNEL_LIMIT:
        sums = _convolve_fft(padded, kernel, len(values))
    else:
        sums = _convolve_direct(padded, kernel, len(values))
    return ((sums + 128) >> 8).astype(np.uint8)  # fixed point to uint8, halves rounding up


def _convolve_direct(padded: np.ndarray, kernel: np.ndarray, length: int) -> np.ndarray:
    padded = padded.astype(np.int32)
    total = np.zeros((length,) + padded.shape[1:], dtype=np.int32)
    for offset, weight in enumerate(kernel):
        if weight:
            total += int(weight) * padded[offset : offset + length]
    return total


def _convolve_fft(padded: np.ndarray, kernel: np.ndarray, length: int) -> np.ndarray:
    """The same integer sums through the FFT: they are below 2^16, so rounding recovers them."""
    size = _smooth_size(len(padded) + len(kernel) - 1)
    spectrum = np.fft.rfft(padded, n=size, axis=0) * np.fft.rfft(kernel, n=size)[:, None]
    start = len(kernel) - 1
    return np.rint(np.fft.irfft(spectrum, n=size, axis=0)[start : start + length]).astype(np.int32)


def _smooth_size(minimum: int) -> int:
    """The smallest 2^a 3^b 5^c >= minimum: FFTs of such lengths are several times faster."""
    best = 1 << max(0, (minimum - 1).bit_length())
    power3 = 1
    while power3 < best:
        power35 = power3
        while power35 < best:
            candidate = power35 << max(0, (-(-minimum // power35) - 1).bit_length())
            best = min(best, candidate)
            power35 *= 5
        power3 *= 3
    return best


# --- grow and shrink ------------------------------------------------------------------------------


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Grey dilation by a Euclidean disc: each pixel takes the largest value within `radius` px
    (centre to centre, inclusive). A binary mask grows to every pixel within `radius` of it."""
    if radius <= 0:
        return mask.copy()
    height, width = mask.shape
    radius = min(radius, math.ceil(math.hypot(height, width)))  # beyond that it reaches every pixel
    region = nonzero_bounds(mask)
    out = np.zeros_like(mask)
    if region.is_empty:
        return out
    region = Rect(region.left - radius, region.top - radius, region.right + radius, region.bottom + radius)
    region = region.clipped(width, height)
    out[region.slices] = _dilate_all(mask[region.slices], radius)
    return out


def erode(mask: np.ndarray, radius: int) -> np.ndarray:
    """Grey erosion by a Euclidean disc; outside the image counts as fully masked, so a mask that
    reaches the image edge stays there (what outpainting masks need)."""
    return 255 - dilate(255 - mask, radius)


def _dilate_all(values: np.ndarray, radius: int) -> np.ndarray:
    """Dilate every pixel of `values` (outside = 0) as a union of row runs: for each row offset dy,
    a running maximum of half-width isqrt(radius^2 - dy^2), grown one step at a time."""
    height, width = values.shape
    padded = np.zeros((height + 2 * radius, width + 2 * radius), dtype=values.dtype)
    padded[radius : radius + height, radius : radius + width] = values
    row_offsets: dict[int, list[int]] = {}
    for dy in range(-radius, radius + 1):
        row_offsets.setdefault(math.isqrt(radius * radius - dy * dy), []).append(dy)
    out = np.zeros_like(values)
    running = padded.copy()
    for half_width in range(radius + 1):
        if half_width > 0:
            running[:, half_width:] = np.maximum(running[:, half_width:], padded[:, :-half_width])
            running[:, :-half_width] = np.maximum(running[:, :-half_width], padded[:, half_width:])
        for row_offset in row_offsets.get(half_width, []):
            rows = slice(radius + row_offset, radius + row_offset + height)
            np.maximum(out, running[rows, radius : radius + width], out=out)
    return out


# --- selections -----------------------------------------------------------------------------------


def rectangle_bounds(x0: float, y0: float, x1: float, y1: float, width: int, height: int) -> Rect:
    """The pixels whose centre lies in [min x, max x) x [min y, max y), clipped to the image."""
    left, right = sorted((x0, x1))
    top, bottom = sorted((y0, y1))
    columns = (math.ceil(left - 0.5), math.ceil(right - 0.5))
    rows = (math.ceil(top - 0.5), math.ceil(bottom - 0.5))
    return Rect(columns[0], rows[0], columns[1], rows[1]).clipped(width, height)


def polygon_coverage(points: list[tuple[float, float]], width: int, height: int) -> tuple[Rect, np.ndarray]:
    """Rasterise a closed polygon by the even-odd rule at pixel centres.

    Returns the clipped bounding rectangle and a bool array of that shape. A centre exactly on a
    left edge is inside and on a right edge outside, so shapes that share an edge do not overlap.
    """
    vertices = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(vertices) < 3:
        return EMPTY_RECT, np.zeros((0, 0), dtype=bool)
    xs, ys = vertices[:, 0], vertices[:, 1]
    rect = Rect(
        math.floor(xs.min()), math.floor(ys.min()), math.ceil(xs.max()) + 1, math.ceil(ys.max()) + 1
    ).clipped(width, height)
    if rect.is_empty:
        return rect, np.zeros((rect.height, rect.width), dtype=bool)
    return rect, _scanline_fill(xs, ys, rect)


def _scanline_fill(xs: np.ndarray, ys: np.ndarray, rect: Rect) -> np.ndarray:
    x0, y0 = xs, ys
    x1, y1 = np.roll(xs, -1), np.roll(ys, -1)
    centres = np.arange(rect.top, rect.bottom, dtype=np.float64)[:, None] + 0.5
    crosses = (y0[None, :] <= centres) != (y1[None, :] <= centres)  # half-open: a vertex counts once
    rows, edges = np.nonzero(crosses)
    y = centres[rows, 0]
    x_at = x0[edges] + (y - y0[edges]) * (x1[edges] - x0[edges]) / (y1[edges] - y0[edges])
    # The first column whose centre is at or right of the crossing toggles inside/outside.
    columns = np.ceil(x_at - 0.5).astype(np.int64) - rect.left
    columns = np.clip(columns, 0, rect.width)
    toggles = np.zeros((rect.height, rect.width + 1), dtype=np.int32)
    np.add.at(toggles, (rows, columns), 1)
    return (np.cumsum(toggles, axis=1)[:, : rect.width] & 1).astype(bool)

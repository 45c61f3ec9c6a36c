"""OpenCV's `cv2.resize`, as the openpose annotator's `smart_resize` calls it, in numpy (OpenCV is not a
dependency).

`smart_resize` (annotator/openpose/util.py) picks INTER_AREA when the sum of the sides shrinks and
INTER_LANCZOS4 otherwise. Each is separable, so it is written as one weight matrix per axis:

- LANCZOS4: a destination pixel maps to the source point (d + 0.5) * in / out - 0.5 and takes the 8 pixels
  from floor(point) - 3, weighted by sinc(t) sinc(t / 4) normalised to sum 1; taps past the border repeat
  the edge pixel. On 8-bit images OpenCV rounds the weights to 1/2048 and the result once, in fixed point;
  that is done here too, so the pixels are OpenCV's.
- AREA, shrinking: each destination pixel averages its footprint, partly covered source pixels weighted by
  their coverage (OpenCV's computeResizeAreaTab). 8-bit results are rounded from float.
- AREA with one side growing: OpenCV's linear weights of its area mode (rounded from float here, where
  OpenCV works in fixed point: a pixel may differ by one).

Float maps (the networks' heatmaps) are resized in float64; chained resizes of a float map can be
composed into one matrix per axis (`compose`).
"""

from __future__ import annotations

import math

import numpy as np

_COEF_SCALE = 2048  # INTER_RESIZE_COEF_SCALE
_FIXED_SHIFT = 22  # 2 * INTER_RESIZE_COEF_BITS
_S45 = math.sqrt(0.5)
_ROTATIONS = np.array([(1, 0), (-_S45, -_S45), (0, 1), (_S45, -_S45), (-1, 0), (_S45, _S45), (0, -1), (-_S45, _S45)])


def lanczos4_weights(size_in: int, size_out: int, fixed: bool = False) -> np.ndarray:
    """(size_out, size_in) weights of cv2.INTER_LANCZOS4 along one axis; `fixed`: each tap in 1/2048ths, as
    OpenCV rounds them for 8-bit images before adding up the taps that the border folds onto one pixel."""
    scale = size_in / size_out
    weights = np.zeros((size_out, size_in))
    for d in range(size_out):
        point = float(np.float32((d + 0.5) * scale - 0.5))  # OpenCV computes it in float32
        start = math.floor(point)
        taps = _lanczos4_taps(np.float32(point - start))
        if fixed:
            taps = np.rint(taps * np.float32(_COEF_SCALE))
        for k, tap in enumerate(taps):
            weights[d, min(max(start - 3 + k, 0), size_in - 1)] += tap
    return weights


def _lanczos4_taps(fraction: np.float32) -> np.ndarray:
    """OpenCV's interpolateLanczos4: the sines in double, the 8 weights and their sum in float32."""
    offsets = (fraction + np.float32(3) - np.arange(8, dtype=np.float32)).astype(np.float64)
    start = -(float(fraction) + 3) * math.pi / 4
    products = _ROTATIONS[:, 0] * math.sin(start) + _ROTATIONS[:, 1] * math.cos(start)
    near = np.abs(offsets) < 1e-6
    angles = np.where(near, 1.0, -offsets * math.pi / 4)
    taps = np.where(near, 1e30, products / (angles * angles)).astype(np.float32)
    total = np.float32(0)
    for tap in taps:
        total = np.float32(total + tap)
    return taps * (np.float32(1) / total)


def area_weights(size_in: int, size_out: int) -> np.ndarray:
    """(size_out, size_in) weights of cv2.INTER_AREA along a shrinking axis (computeResizeAreaTab)."""
    scale = size_in / size_out
    weights = np.zeros((size_out, size_in))
    for d in range(size_out):
        start, end = d * scale, d * scale + scale
        cell = min(scale, size_in - start)
        first, last = math.ceil(start), min(math.floor(end), size_in - 1)
        first = min(first, last)
        if first - start > 1e-3:
            weights[d, first - 1] = (first - start) / cell
        weights[d, first:last] = 1 / cell
        if end - last > 1e-3:
            weights[d, last] = min(min(end - last, 1.0), cell) / cell
    return weights


def area_growing_weights(size_in: int, size_out: int) -> np.ndarray:
    """(size_out, size_in) weights of cv2.INTER_AREA when not both sides shrink: linear, area-style offsets."""
    scale, inverse = size_in / size_out, size_out / size_in
    weights = np.zeros((size_out, size_in))
    for d in range(size_out):
        start = math.floor(d * scale)
        fraction = float(np.float32((d + 1) - (start + 1) * inverse))
        fraction = 0.0 if fraction <= 0 else fraction - math.floor(fraction)
        if start >= size_in - 1:
            start, fraction = size_in - 1, 0.0
        weights[d, start] += 1 - fraction
        weights[d, min(start + 1, size_in - 1)] += fraction
    return weights


def _grows(size_in: tuple[int, int], size_out: tuple[int, int]) -> bool:
    """smart_resize's choice: LANCZOS4 unless the sum of the sides shrinks."""
    return (size_out[0] + size_out[1]) / (size_in[0] + size_in[1]) >= 1


def smart_weights(size_in: tuple[int, int], size_out: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(rows, columns) weight matrices of the annotator's smart_resize from (h, w) to (h, w)."""
    (h_in, w_in), (h_out, w_out) = size_in, size_out
    if _grows(size_in, size_out):
        return lanczos4_weights(h_in, h_out), lanczos4_weights(w_in, w_out)
    if h_out <= h_in and w_out <= w_in:
        return area_weights(h_in, h_out), area_weights(w_in, w_out)
    return area_growing_weights(h_in, h_out), area_growing_weights(w_in, w_out)


def apply_weights(values: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """`rows @ values @ columns.T` over the first two axes of an (H, W) or (H, W, C) array."""
    tall = np.tensordot(rows, values, axes=(1, 0))  # (h, W, ...)
    return np.moveaxis(np.tensordot(tall, columns, axes=(1, 1)), -1, 1)  # (h, w, ...)


def smart_resize(values: np.ndarray, height: int, width: int) -> np.ndarray:
    """The annotator's smart_resize(values, (height, width)): uint8 images stay uint8, maps become float64."""
    size_in = values.shape[:2]
    if values.dtype == np.uint8 and _grows(size_in, (height, width)):
        rows = lanczos4_weights(size_in[0], height, fixed=True).astype(np.int64)
        columns = lanczos4_weights(size_in[1], width, fixed=True).astype(np.int64)
        total = apply_weights(values.astype(np.int64), rows, columns)
        return np.clip((total + (1 << (_FIXED_SHIFT - 1))) >> _FIXED_SHIFT, 0, 255).astype(np.uint8)
    result = apply_weights(values.astype(np.float64), *smart_weights(size_in, (height, width)))
    return result if values.dtype != np.uint8 else np.clip(np.rint(result), 0, 255).astype(np.uint8)


def compose(*steps: np.ndarray) -> np.ndarray:
    """One weight matrix doing `steps` in order (float maps only: 8-bit steps round in between)."""
    result = steps[0]
    for step in steps[1:]:
        result = step @ result
    return result

"""A 1-D kernel applied along the first two axes (height, width) of an array: the Gaussian blurs that
OpenCV and scipy do, written here because neither is a dependency."""

from __future__ import annotations

import numpy as np


def convolve_rows_and_columns(values: np.ndarray, kernel: np.ndarray, border: str) -> np.ndarray:
    """`kernel` (odd length, centred) along axis 0 then axis 1; `border` is a numpy pad mode:
    "reflect" is OpenCV's BORDER_REFLECT_101, "symmetric" is scipy's "reflect"."""
    reach = len(kernel) // 2
    for axis in (0, 1):
        widths = [(0, 0)] * values.ndim
        widths[axis] = (reach, reach)
        padded = np.pad(values, widths, mode=border)
        length = values.shape[axis]
        values = sum(weight * np.take(padded, range(i, i + length), axis=axis) for i, weight in enumerate(kernel))
    return values

"""OpenPose hands: where to look (from a person's arm), the hand network, and its 21 keypoints.

As ControlNet's openpose annotator (lllyasviel/ControlNet-v1-1-nightly and sd-webui-controlnet,
`annotator/openpose/util.py` handDetect, `hand.py` Hand.__call__):

- `hand_boxes`: a square past the wrist, 0.33 of the forearm further out, 1.5 x the longer of the forearm
  and 0.9 x the upper arm wide, clipped to the image, kept when at least 20 pixels.
- `hand_maps`: the BGR crop blurred (Gaussian, sigma 0.8), resized to squares of 0.5, 1, 1.5 and 2 x 368,
  padded to a multiple of 8 with grey, through the network (BGR / 256 - 0.5); each scale's maps brought
  up by 8, unpadded and resized to 128 x 128, then averaged.
- `hand_peaks`: per keypoint, the map smoothed (sigma 3) and thresholded at 0.05; of the connected regions
  (8-neighbours) the one with the largest sum of the raw map is kept and its maximum taken, scaled from
  128 x 128 back to the crop and truncated to whole pixels.

OpenCV, scipy and scikit-image are not dependencies: the blur is a separable convolution, the resizes
are `core.opencv_resize` (cv2's LANCZOS4 / AREA), the labelling is `label_regions` below (numpy).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from core.openpose_body import gaussian_smooth
from core.annotator_weights import HAND_POSE
from core.openpose_cpm import CpmNet, MapPeak, load_cpm_net
from core.opencv_resize import apply_weights, compose, lanczos4_weights, smart_resize, smart_weights
from core.pose import BODY_INDEX, Keypoint
from core.separable_filter import convolve_rows_and_columns

HAND_MAPS = 22  # 21 keypoints + background
HAND_POINTS = 21
SCALES = (0.5, 1.0, 1.5, 2.0)
BOX_SIZE = 368
STRIDE = 8
PAD_VALUE = 128
MAP_SIZE = 128  # the annotator's wsize
PEAK_THRESHOLD = 0.05
BLUR_SIGMA = 0.8
RATIO_WRIST_ELBOW = 0.33
MIN_BOX = 20
PARAMETER_COUNT = 36_832_324  # of the architecture; hand_pose_model.pth holds them as float32 (147 MB)


@dataclass(frozen=True)
class HandBox:
    """A square of the image (left, top, side in pixels) where one hand is looked for."""

    x: int
    y: int
    size: int
    is_left: bool


def load_hand_model(weights: Path | None, device: str = "cpu") -> CpmNet:
    """The hand network with `weights` (hand_pose_model.pth), safely loaded."""
    return load_cpm_net(weights, HAND_MAPS, HAND_POSE, device)


def hand_boxes(body: Sequence[Keypoint], width: int, height: int) -> list[HandBox]:
    """util.handDetect for one person's 18 body keypoints (pixels) in a `width` x `height` image."""
    arms = (("left_shoulder", "left_elbow", "left_wrist", True),
            ("right_shoulder", "right_elbow", "right_wrist", False))
    boxes = []
    for shoulder_name, elbow_name, wrist_name, is_left in arms:
        shoulder, elbow, wrist = (body[BODY_INDEX[name]] for name in (shoulder_name, elbow_name, wrist_name))
        if not (shoulder.present and elbow.present and wrist.present):
            continue
        box = _hand_box(shoulder, elbow, wrist, width, height)
        if box is not None:
            boxes.append(HandBox(*box, is_left))
    return boxes


def _hand_box(shoulder: Keypoint, elbow: Keypoint, wrist: Keypoint, width: int, height: int
              ) -> tuple[int, int, int] | None:
    x = wrist.x + RATIO_WRIST_ELBOW * (wrist.x - elbow.x)
    y = wrist.y + RATIO_WRIST_ELBOW * (wrist.y - elbow.y)
    forearm = math.sqrt((wrist.x - elbow.x) ** 2 + (wrist.y - elbow.y) ** 2)
    upper_arm = math.sqrt((elbow.x - shoulder.x) ** 2 + (elbow.y - shoulder.y) ** 2)
    side = 1.5 * max(forearm, 0.9 * upper_arm)
    x, y = max(x - side / 2, 0), max(y - side / 2, 0)
    side = min(width - x if x + side > width else side, height - y if y + side > height else side)
    return (int(x), int(y), int(side)) if side >= MIN_BOX else None


def gaussian_blur_8bit(pixels: np.ndarray, sigma: float) -> np.ndarray:
    """cv2.GaussianBlur(pixels, (0, 0), sigma) on uint8, bit for bit: kernel size round(6 sigma + 1) | 1,
    borders reflected (101), OpenCV's fixed point (weights in 1/256ths, rounded with error diffusion so
    they sum to 256; one rounding at the end)."""
    size = int(round(sigma * 6 + 1)) | 1
    offsets = np.arange(size) - (size - 1) / 2
    kernel = np.exp(-(offsets**2) / (2 * sigma * sigma))
    kernel /= kernel.sum()
    fixed = np.zeros(size, dtype=np.int64)
    error = 0.0
    for i in range(size // 2):
        wanted = kernel[i] * 256 + error
        fixed[i] = fixed[size - 1 - i] = int(np.rint(wanted))
        error = wanted - fixed[i]
    fixed[size // 2] = 256 - 2 * int(fixed[:size // 2].sum())
    total = convolve_rows_and_columns(pixels.astype(np.int64), fixed, "reflect")
    return np.clip((total + (1 << 15)) >> 16, 0, 255).astype(np.uint8)


def hand_maps(net: CpmNet, crop: np.ndarray, device: str = "cpu", scales: Sequence[float] | None = None
              ) -> np.ndarray:
    """(128, 128, 22) maps of a BGR uint8 crop, averaged over `scales` (of 368 pixels; default SCALES)."""
    scales = SCALES if scales is None else scales
    blurred = gaussian_blur_8bit(crop, BLUR_SIGMA)
    average = np.zeros((MAP_SIZE, MAP_SIZE, HAND_MAPS))
    for scale in scales:
        side = int(scale * BOX_SIZE)
        resized = smart_resize(blurred, side, side)
        pad = -side % STRIDE
        padded = np.pad(resized, ((0, pad), (0, pad), (0, 0)), constant_values=PAD_VALUE)
        image = torch.from_numpy(padded.astype(np.float32)).permute(2, 0, 1)[None] / 256 - 0.5
        with torch.no_grad():
            out = net(image.to(device))[0].float().cpu().permute(1, 2, 0).numpy()
        average += _to_map_size(out, side) / len(scales)
    return average


def _to_map_size(out: np.ndarray, side: int) -> np.ndarray:
    """Up by the stride (LANCZOS4), the padding cut off, then to 128 x 128: one matrix per axis."""
    cells = out.shape[0]  # square: the input was
    up = lanczos4_weights(cells, cells * STRIDE)[:side]
    rows, _ = smart_weights((side, side), (MAP_SIZE, MAP_SIZE))
    step = compose(up, rows)
    return apply_weights(out.astype(np.float64), step, step)


def hand_peaks(maps: np.ndarray, crop_height: int, crop_width: int) -> list[MapPeak | None]:
    """The 21 keypoints in crop pixels from (128, 128, 22) maps; None where no region passes the threshold."""
    smooth = gaussian_smooth(maps[:, :, :HAND_POINTS])
    peaks: list[MapPeak | None] = []
    for part in range(HAND_POINTS):
        raw = maps[:, :, part].copy()
        labels, count = label_regions(smooth[:, :, part] > PEAK_THRESHOLD)
        if count == 0:
            peaks.append(None)
            continue
        sums = np.bincount(labels.ravel(), weights=raw.ravel(), minlength=count + 1)[1:]
        raw[labels != int(np.argmax(sums)) + 1] = 0
        y, x = np.unravel_index(int(np.argmax(raw)), raw.shape)
        peaks.append(MapPeak(int(float(x) * float(crop_width) / float(MAP_SIZE)),
                              int(float(y) * float(crop_height) / float(MAP_SIZE)), float(raw[y, x])))
    return peaks


def label_regions(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """skimage.measure.label(mask, connectivity=2, return_num=True): 8-connected regions numbered from 1
    in the raster order of their first pixel, 0 outside."""
    height, width = mask.shape
    outside = height * width
    labels = np.where(mask, np.arange(outside).reshape(height, width), outside)
    while True:  # every pixel takes the smallest index among its 8 neighbours until nothing changes
        padded = np.pad(labels, 1, constant_values=outside)
        smallest = np.minimum.reduce([padded[dy:dy + height, dx:dx + width] for dy in range(3) for dx in range(3)])
        spread = np.where(mask, smallest, outside)
        # A label is a pixel of the same region: taking that pixel's label too shortens long, thin regions.
        spread = np.append(spread.ravel(), outside)[spread]
        if np.array_equal(spread, labels):
            break
        labels = spread
    firsts = np.unique(labels[mask])  # each region's smallest index is its first pixel in raster order
    numbered = np.zeros((height, width), dtype=np.int64)
    numbered[mask] = np.searchsorted(firsts, labels[mask]) + 1
    return numbered, len(firsts)

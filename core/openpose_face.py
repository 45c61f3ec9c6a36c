"""OpenPose faces: where to look (from a person's head), the face network, and its 70 landmarks.

As ControlNet's openpose annotator (lllyasviel/ControlNet-v1-1-nightly and sd-webui-controlnet,
`annotator/openpose/util.py` faceDetect, `face.py` Face.__call__ and compute_peaks_from_heatmaps):

- `face_box`: around the nose, half-side the largest of 3 x the nose-eye and 1.5 x the nose-ear distances
  (each the larger of |dx| and |dy|); the left and top clipped at 0; the side clipped only where the
  *half*-side passes the image's edge (the annotator's test), so the crop (a numpy slice) may come out
  narrower than square; kept when at least 20 pixels.
- `face_maps`: the BGR crop resized to 384 x 384 (cv2 LANCZOS4 or AREA, `core.opencv_resize`), through
  the network (BGR / 256 - 0.5), the last stage's maps resized back to the crop bilinearly (align corners).
- `face_peaks`: per landmark, the maximum of its map where the map passes 0.05.

One deliberate difference: the annotator runs its peak step over all 71 maps, background included, and
skips the landmarks below the threshold, so its list can hold a 71st point (the background's maximum,
drawn as one more dot unless it lies at the crop's x or y 0) and shifts the landmarks after a missing one.
Easel keeps OpenPose's 70 landmarks at their indices (absent where below the threshold), as the
face_keypoints_2d of the JSON mean them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from core.annotator_weights import FACE_POSE
from core.openpose_cpm import CpmNet, MapPeak, load_cpm_net
from core.opencv_resize import smart_resize
from core.pose import BODY_INDEX, Keypoint

FACE_MAPS = 71  # 70 landmarks + background
FACE_POINTS = 70
INPUT_SIZE = 384
PEAK_THRESHOLD = 0.05
MIN_BOX = 20
PARAMETER_COUNT = 38_425_706  # of the architecture; facenet.pth holds them as float32 (154 MB)
# (body keypoint, multiple of its distance to the nose): eyes x3, ears x1.5
_REACH = (("right_eye", 3.0), ("left_eye", 3.0), ("right_ear", 1.5), ("left_ear", 1.5))


@dataclass(frozen=True)
class FaceBox:
    """The part of the image (left, top, side in pixels) where the face is looked for; the crop is
    image[y:y + size, x:x + size], which the image's edge may cut short."""

    x: int
    y: int
    size: int


def load_face_model(weights: Path | None, device: str = "cpu") -> CpmNet:
    """The face network with `weights` (facenet.pth), safely loaded."""
    return load_cpm_net(weights, FACE_MAPS, FACE_POSE, device)


def face_box(body: Sequence[Keypoint], width: int, height: int) -> FaceBox | None:
    """util.faceDetect for one person's 18 body keypoints (pixels) in a `width` x `height` image."""
    nose = body[BODY_INDEX["nose"]]
    around = [(body[BODY_INDEX[name]], reach) for name, reach in _REACH]
    if not nose.present or not any(point.present for point, _ in around):
        return None
    half = 0.0
    for point, reach in around:
        if point.present:
            half = max(half, max(abs(nose.x - point.x), abs(nose.y - point.y)) * reach)
    x, y = max(nose.x - half, 0), max(nose.y - half, 0)
    side = min(width - x if x + half > width else half * 2, height - y if y + half > height else half * 2)
    return FaceBox(int(x), int(y), int(side)) if side >= MIN_BOX else None


def face_maps(net: CpmNet, crop: np.ndarray, device: str = "cpu") -> np.ndarray:
    """(71, H, W) maps of a BGR uint8 crop of H x W pixels."""
    height, width = crop.shape[:2]
    resized = torch.from_numpy(smart_resize(crop, INPUT_SIZE, INPUT_SIZE)).permute(2, 0, 1)
    image = (resized / 256.0 - 0.5)[None].to(device)
    with torch.no_grad():
        maps = F.interpolate(net(image).float(), (height, width), mode="bilinear", align_corners=True)
    return maps.cpu().numpy()[0]


def face_peaks(maps: np.ndarray) -> list[MapPeak | None]:
    """The 70 landmarks in crop pixels from (71, H, W) maps; None where the map stays below the threshold."""
    peaks: list[MapPeak | None] = []
    for part in range(FACE_POINTS):
        values = maps[part]
        index = int(np.argmax(values))  # the first maximum in raster order, as argmax over the positions
        y, x = divmod(index, values.shape[1])
        score = float(values[y, x])
        peaks.append(MapPeak(int(x), int(y), score) if score > PEAK_THRESHOLD else None)
    return peaks

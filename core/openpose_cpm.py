"""The single-branch OpenPose network that the hand and the face models share, and its safe loading.

Both are a VGG-19 front (conv1_1 ... conv5_3_CPM, 128 channels at stride 8), a first stage
(conv6_1_CPM, conv6_2_CPM) and five refinement stages (Mconv1..7_stage2..6), each fed the previous
stage's maps and the front's features; every convolution but the last of each stage has a ReLU. Only
the number of maps differs: 22 for the hand (21 keypoints + background), 71 for the face (70 + background).

The layer names are those of the published files: `hand_pose_model.pth` (the annotator's `handpose_model`
in `annotator/openpose/model.py`, whose `transfer()` strips the `model1_0.`-style prefixes back to these
names) and `facenet.pth` (the annotator's `FaceNet` in `annotator/openpose/face.py`, loaded as is), both
from huggingface.co/lllyasviel/Annotators.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from core.annotator_weights import AnnotatorFile
from core.annotators.weights import load_published

FEATURES = 128


@dataclass(frozen=True)
class MapPeak:
    """A hand or face keypoint in crop pixels and the (averaged) map's value there."""

    x: int
    y: int
    score: float

_Layer = tuple[str, int, int, int]  # name, in, out, kernel; a name starting with "pool" is a 2x2 max pool
_FRONT: tuple[_Layer, ...] = (
    ("conv1_1", 3, 64, 3), ("conv1_2", 64, 64, 3), ("pool1_stage1", 0, 0, 2),
    ("conv2_1", 64, 128, 3), ("conv2_2", 128, 128, 3), ("pool2_stage1", 0, 0, 2),
    ("conv3_1", 128, 256, 3), ("conv3_2", 256, 256, 3), ("conv3_3", 256, 256, 3), ("conv3_4", 256, 256, 3),
    ("pool3_stage1", 0, 0, 2),
    ("conv4_1", 256, 512, 3), ("conv4_2", 512, 512, 3), ("conv4_3", 512, 512, 3), ("conv4_4", 512, 512, 3),
    ("conv5_1", 512, 512, 3), ("conv5_2", 512, 512, 3), ("conv5_3_CPM", 512, FEATURES, 3),
)


def _stages(maps: int) -> list[tuple[_Layer, ...]]:
    first = (("conv6_1_CPM", FEATURES, 512, 1), ("conv6_2_CPM", 512, maps, 1))
    later = [tuple((f"Mconv{i}_stage{s}", maps + FEATURES if i == 1 else 128, 128, 7) for i in range(1, 6))
             + ((f"Mconv6_stage{s}", 128, 128, 1), (f"Mconv7_stage{s}", 128, maps, 1)) for s in range(2, 7)]
    return [first, *later]


class CpmNet(nn.Module):
    """Image (N, 3, H, W; BGR / 256 - 0.5) -> the last stage's maps (N, maps, H/8, W/8)."""

    def __init__(self, maps: int) -> None:
        super().__init__()
        self.maps = maps
        self.front = tuple(name for name, *_ in _FRONT)
        self.stages = [tuple(name for name, *_ in stage) for stage in _stages(maps)]
        for name, c_in, c_out, kernel in (*_FRONT, *(layer for stage in _stages(maps) for layer in stage)):
            if not name.startswith("pool"):
                self.add_module(name, nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2))

    def _run(self, names: tuple[str, ...], x: torch.Tensor, last_relu: bool) -> torch.Tensor:
        for name in names:
            if name.startswith("pool"):
                x = F.max_pool2d(x, 2, 2)
                continue
            x = getattr(self, name)(x)
            if last_relu or name != names[-1]:
                x = F.relu(x)
        return x

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        features = self._run(self.front, image, last_relu=True)
        maps = self._run(self.stages[0], features, last_relu=False)  # a stage's maps have no ReLU
        for stage in self.stages[1:]:
            maps = self._run(stage, torch.cat([maps, features], 1), last_relu=False)
        return maps


def load_cpm_net(weights: Path | None, maps: int, file: AnnotatorFile, device: str = "cpu") -> CpmNet:
    """The network with `maps` outputs and the weights in `weights` (which must be `file`), safely loaded."""
    return load_published(lambda: CpmNet(maps), weights, file, device)

"""The OpenPose body network (COCO-18) and the parsing of its maps into people.

The network is `bodypose_model` of lllyasviel's ControlNet annotator (`annotator/openpose/model.py`,
from Hzzone's pytorch-openpose): the first ten VGG-19 convolutions, two CPM convolutions, then six
stages, each with a PAF branch (L1, 38 channels: 19 limbs x (x, y)) and a heatmap branch (L2,
19 channels: 18 joints + background). Layers are registered under their own names, so the state
dict keys are exactly those of the published `body_pose_model.pth` (`conv1_1.weight`,
`Mconv7_stage6_L2.bias`, ...), which the annotator's `transfer()` maps onto its `model0.`-prefixed
modules.

`parse_body_maps` is the annotator's `Body.__call__` after the network (`annotator/openpose/body.py`):
peaks in the smoothed heatmaps, a 10-sample PAF line integral per candidate limb, greedy matching,
and assembly of limbs into people.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.separable_filter import convolve_rows_and_columns

PARAMETER_COUNT = 52_311_446  # of the published body_pose_model.pth
PAF_CHANNELS = 38
HEATMAP_CHANNELS = 19
JOINT_COUNT = 18
PEAK_THRESHOLD = 0.1  # thre1
PAF_THRESHOLD = 0.05  # thre2
PAF_SAMPLES = 10  # mid_num
HEATMAP_SIGMA = 3.0

# (name, in, out, kernel); a name starting with "pool" is a 2x2 max pool.
_Layer = tuple[str, int, int, int]
_BACKBONE: tuple[_Layer, ...] = (
    ("conv1_1", 3, 64, 3), ("conv1_2", 64, 64, 3), ("pool1_stage1", 0, 0, 2),
    ("conv2_1", 64, 128, 3), ("conv2_2", 128, 128, 3), ("pool2_stage1", 0, 0, 2),
    ("conv3_1", 128, 256, 3), ("conv3_2", 256, 256, 3), ("conv3_3", 256, 256, 3), ("conv3_4", 256, 256, 3),
    ("pool3_stage1", 0, 0, 2),
    ("conv4_1", 256, 512, 3), ("conv4_2", 512, 512, 3), ("conv4_3_CPM", 512, 256, 3), ("conv4_4_CPM", 256, 128, 3),
)
_STAGE_INPUT = PAF_CHANNELS + HEATMAP_CHANNELS + 128  # 185


def _stage1(branch: int, out: int) -> tuple[_Layer, ...]:
    return (
        (f"conv5_1_CPM_L{branch}", 128, 128, 3), (f"conv5_2_CPM_L{branch}", 128, 128, 3),
        (f"conv5_3_CPM_L{branch}", 128, 128, 3), (f"conv5_4_CPM_L{branch}", 128, 512, 1),
        (f"conv5_5_CPM_L{branch}", 512, out, 1),
    )


def _refinement(stage: int, branch: int, out: int) -> tuple[_Layer, ...]:
    sevens = tuple((f"Mconv{i}_stage{stage}_L{branch}", _STAGE_INPUT if i == 1 else 128, 128, 7) for i in range(1, 6))
    return (*sevens, (f"Mconv6_stage{stage}_L{branch}", 128, 128, 1),
            (f"Mconv7_stage{stage}_L{branch}", 128, out, 1))


def _branches() -> list[tuple[tuple[_Layer, ...], tuple[_Layer, ...]]]:
    """(PAF layers, heatmap layers) per stage."""
    stages = [(_stage1(1, PAF_CHANNELS), _stage1(2, HEATMAP_CHANNELS))]
    stages += [(_refinement(s, 1, PAF_CHANNELS), _refinement(s, 2, HEATMAP_CHANNELS)) for s in range(2, 7)]
    return stages


# The annotator's list names Mconv7_stage6_L1 twice and Mconv7_stage6_L2 never, so its final
# heatmap layer has a ReLU. Kept: the published weights were used that way.
_NO_RELU = frozenset({"conv5_5_CPM_L1", "conv5_5_CPM_L2",
                      *(f"Mconv7_stage{s}_L{b}" for s in range(2, 6) for b in (1, 2)), "Mconv7_stage6_L1"})


class BodyPoseNet(nn.Module):
    """Image (N, 3, H, W; BGR / 256 - 0.5) -> (PAFs (N, 38, H/8, W/8), heatmaps (N, 19, H/8, W/8))."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = tuple(name for name, *_ in _BACKBONE)
        self.stages = [(tuple(n for n, *_ in paf), tuple(n for n, *_ in heat)) for paf, heat in _branches()]
        layers = list(_BACKBONE) + [layer for paf, heat in _branches() for layer in (*paf, *heat)]
        for name, c_in, c_out, kernel in layers:
            if not name.startswith("pool"):
                self.add_module(name, nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2))

    def _run(self, names: tuple[str, ...], x: torch.Tensor) -> torch.Tensor:
        for name in names:
            if name.startswith("pool"):
                x = F.max_pool2d(x, 2, 2)
                continue
            x = getattr(self, name)(x)
            if name not in _NO_RELU:
                x = F.relu(x)
        return x

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self._run(self.backbone, image)
        x = features
        for paf_names, heat_names in self.stages:
            pafs, heatmaps = self._run(paf_names, x), self._run(heat_names, x)
            x = torch.cat([pafs, heatmaps, features], 1)
        return pafs, heatmaps


# 1-based joints per limb, and the PAF channels (offset by 19, as in the annotator) of each limb.
LIMB_SEQ = ((2, 3), (2, 6), (3, 4), (4, 5), (6, 7), (7, 8), (2, 9), (9, 10), (10, 11), (2, 12), (12, 13),
            (13, 14), (2, 1), (1, 15), (15, 17), (1, 16), (16, 18), (3, 17), (6, 18))
MAP_IDX = ((31, 32), (39, 40), (33, 34), (35, 36), (41, 42), (43, 44), (19, 20), (21, 22), (23, 24), (25, 26),
           (27, 28), (29, 30), (47, 48), (49, 50), (53, 54), (51, 52), (55, 56), (37, 38), (45, 46))
_NEW_PERSON_LIMBS = 17  # the two ear-shoulder limbs only extend people, never start one


@dataclass(frozen=True)
class Peak:
    x: int
    y: int
    score: float
    id: int


BodyJoints = tuple[Peak | None, ...]  # 18, COCO order


def gaussian_smooth(values: np.ndarray, sigma: float = HEATMAP_SIGMA) -> np.ndarray:
    """scipy.ndimage.gaussian_filter on (H, W, C) over H and W: truncate 4 sigma, mode "reflect"."""
    reach = int(4.0 * sigma + 0.5)
    offsets = np.arange(-reach, reach + 1)
    kernel = np.exp(-0.5 * offsets**2 / sigma**2)
    kernel /= kernel.sum()
    return convolve_rows_and_columns(values, kernel, "symmetric")  # numpy's "symmetric" is scipy's "reflect"


def find_peaks(heatmaps: np.ndarray) -> list[list[Peak]]:
    """Local maxima (4-neighbourhood) above the threshold in each smoothed joint heatmap; ids run on."""
    smooth = gaussian_smooth(heatmaps[:, :, :JOINT_COUNT].astype(np.float64))
    padded = np.pad(smooth, ((1, 1), (1, 1), (0, 0)))  # zeros outside, as the annotator's shifted maps
    centre = padded[1:-1, 1:-1]
    is_peak = ((centre >= padded[:-2, 1:-1]) & (centre >= padded[2:, 1:-1]) & (centre >= padded[1:-1, :-2])
               & (centre >= padded[1:-1, 2:]) & (centre > PEAK_THRESHOLD))
    peaks: list[list[Peak]] = []
    next_id = 0
    for part in range(JOINT_COUNT):
        ys, xs = np.nonzero(is_peak[:, :, part])
        peaks.append([Peak(int(x), int(y), float(heatmaps[y, x, part]), next_id + i)
                      for i, (x, y) in enumerate(zip(xs, ys))])
        next_id += len(xs)
    return peaks


def _limb_score(a: Peak, b: Peak, paf: np.ndarray, image_height: int) -> float | None:
    """Mean PAF along a->b plus the distance prior, or None if the limb fails the annotator's criteria."""
    dx, dy = b.x - a.x, b.y - a.y
    norm = max(0.001, math.sqrt(dx * dx + dy * dy))
    xs = np.linspace(a.x, b.x, num=PAF_SAMPLES)
    ys = np.linspace(a.y, b.y, num=PAF_SAMPLES)
    rows = [int(round(y)) for y in ys]
    cols = [int(round(x)) for x in xs]
    along = paf[rows, cols, 0] * (dx / norm) + paf[rows, cols, 1] * (dy / norm)
    score = float(along.sum() / len(along)) + min(0.5 * image_height / norm - 1, 0)
    mostly_aligned = np.count_nonzero(along > PAF_THRESHOLD) > 0.8 * len(along)
    return score if mostly_aligned and score > 0 else None


Connection = tuple[int, int, float]  # peak id of joint A, peak id of joint B, limb score


def connect_limb(cand_a: list[Peak], cand_b: list[Peak], paf: np.ndarray, image_height: int) -> list[Connection]:
    """Greedy, best first, each peak used once, at most min(nA, nB) connections."""
    scored = []
    for i, a in enumerate(cand_a):
        for j, b in enumerate(cand_b):
            score = _limb_score(a, b, paf, image_height)
            if score is not None:
                scored.append((score, i, j))
    scored.sort(key=lambda item: item[0], reverse=True)  # stable, as the annotator's sorted()
    connections: list[Connection] = []
    used_a: set[int] = set()
    used_b: set[int] = set()
    for score, i, j in scored:
        if i in used_a or j in used_b:
            continue
        connections.append((cand_a[i].id, cand_b[j].id, score))
        used_a.add(i)
        used_b.add(j)
        if len(connections) >= min(len(cand_a), len(cand_b)):
            break
    return connections


def parse_body_maps(heatmaps: np.ndarray, pafs: np.ndarray) -> list[BodyJoints]:
    """People from full-size heatmaps (H, W, 19) and PAFs (H, W, 38), as the annotator's body.py finds them."""
    peaks = find_peaks(heatmaps)
    limbs: list[list[Connection] | None] = []
    for (a, b), (px, py) in zip(LIMB_SEQ, MAP_IDX):
        cand_a, cand_b = peaks[a - 1], peaks[b - 1]
        if cand_a and cand_b:
            limbs.append(connect_limb(cand_a, cand_b, pafs[:, :, [px - 19, py - 19]], heatmaps.shape[0]))
        else:
            limbs.append(None)
    by_id = {peak.id: peak for part in peaks for peak in part}
    rows = _assemble(limbs, by_id)
    return [tuple(by_id[int(i)] if i >= 0 else None for i in row[:JOINT_COUNT]) for row in rows]


def _assemble(limbs: list[list[Connection] | None], by_id: dict[int, Peak]) -> list[list[float]]:
    """The annotator's subset: per person 18 peak ids (-1 absent), total score, joint count."""
    subset: list[list[float]] = []
    for k, connections in enumerate(limbs):
        if connections is None:
            continue
        index_a, index_b = LIMB_SEQ[k][0] - 1, LIMB_SEQ[k][1] - 1
        for part_a, part_b, score in connections:
            _add_connection(subset, k, index_a, index_b, part_a, part_b, score, by_id)
    return [row for row in subset if row[-1] >= 4 and row[-2] / row[-1] >= 0.4]


def _add_connection(subset: list[list[float]], k: int, index_a: int, index_b: int, part_a: int, part_b: int,
                    score: float, by_id: dict[int, Peak]) -> None:
    found = [j for j, row in enumerate(subset) if row[index_a] == part_a or row[index_b] == part_b][:2]
    if len(found) == 1 or (len(found) == 2 and _overlap(subset[found[0]], subset[found[1]])):
        row = subset[found[0]]
        # found once: only if B differs; found twice but overlapping: always (as the annotator)
        if len(found) == 2 or row[index_b] != part_b:
            row[index_b] = part_b
            row[-1] += 1
            row[-2] += by_id[part_b].score + score
    elif len(found) == 2:
        first, second = subset[found[0]], subset[found[1]]
        for i in range(JOINT_COUNT):
            first[i] += second[i] + 1
        first[-2] += second[-2] + score
        first[-1] += second[-1]
        del subset[found[1]]
    elif k < _NEW_PERSON_LIMBS:
        row = [-1.0] * (JOINT_COUNT + 2)
        row[index_a], row[index_b] = part_a, part_b
        row[-1] = 2
        row[-2] = by_id[part_a].score + by_id[part_b].score + score
        subset.append(row)


def _overlap(first: list[float], second: list[float]) -> bool:
    return any(a >= 0 and b >= 0 for a, b in zip(first[:JOINT_COUNT], second[:JOINT_COUNT]))

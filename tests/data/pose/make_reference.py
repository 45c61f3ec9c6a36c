"""Re-create the reference PNGs beside this file from the JSON poses beside it.

Needs OpenCV, numpy, matplotlib and Pillow, none of which Easel depends on; the test suite only
reads the PNGs. Run it with any Python that has them (the references here were made with
opencv-python-headless 4.14 and matplotlib 3.11):

    python tests/data/pose/make_reference.py

The drawing is lllyasviel's ControlNet 1.1 openpose annotator (`annotator/openpose/util.py`:
draw_bodypose, draw_handpose, draw_facepose, called by `draw_pose` in `__init__.py` with all
bodies, then all hands, then all faces), fed the way it is fed: keypoints normalised by the
canvas size, absent ones as -1 (hands, faces) or left out of the subset (bodies). A keypoint is
absent when its confidence is 0. It is written out here, without Easel's code, so the test
compares Easel's renderer with an independent statement of the published algorithm.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import matplotlib.colors
import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
EPS = 0.01
LIMB_SEQ = [[2, 3], [2, 6], [3, 4], [4, 5], [6, 7], [7, 8], [2, 9], [9, 10], [10, 11], [2, 12], [12, 13],
            [13, 14], [2, 1], [1, 15], [15, 17], [1, 16], [16, 18], [3, 17], [6, 18]]
COLORS = [[255, 0, 0], [255, 85, 0], [255, 170, 0], [255, 255, 0], [170, 255, 0], [85, 255, 0], [0, 255, 0],
          [0, 255, 85], [0, 255, 170], [0, 255, 255], [0, 170, 255], [0, 85, 255], [0, 0, 255], [85, 0, 255],
          [170, 0, 255], [255, 0, 255], [255, 0, 170], [255, 0, 85]]
HAND_EDGES = [[0, 1], [1, 2], [2, 3], [3, 4], [0, 5], [5, 6], [6, 7], [7, 8], [0, 9], [9, 10], [10, 11],
              [11, 12], [0, 13], [13, 14], [14, 15], [15, 16], [0, 17], [17, 18], [18, 19], [19, 20]]


def draw_bodypose(canvas, candidate, subset):
    H, W, C = canvas.shape
    candidate, subset = np.array(candidate), np.array(subset)
    for i in range(17):
        for n in range(len(subset)):
            index = subset[n][np.array(LIMB_SEQ[i]) - 1]
            if -1 in index:
                continue
            Y = candidate[index.astype(int), 0] * float(W)
            X = candidate[index.astype(int), 1] * float(H)
            mX, mY = np.mean(X), np.mean(Y)
            length = ((X[0] - X[1]) ** 2 + (Y[0] - Y[1]) ** 2) ** 0.5
            angle = math.degrees(math.atan2(X[0] - X[1], Y[0] - Y[1]))
            polygon = cv2.ellipse2Poly((int(mY), int(mX)), (int(length / 2), 4), int(angle), 0, 360, 1)
            cv2.fillConvexPoly(canvas, polygon, COLORS[i])
    canvas = (canvas * 0.6).astype(np.uint8)
    for i in range(18):
        for n in range(len(subset)):
            index = int(subset[n][i])
            if index == -1:
                continue
            x, y = candidate[index][0:2]
            cv2.circle(canvas, (int(x * W), int(y * H)), 4, COLORS[i], thickness=-1)
    return canvas


def draw_handpose(canvas, all_hand_peaks):
    H, W, C = canvas.shape
    for peaks in all_hand_peaks:
        peaks = np.array(peaks)
        for ie, e in enumerate(HAND_EDGES):
            x1, y1 = peaks[e[0]]
            x2, y2 = peaks[e[1]]
            x1, y1, x2, y2 = int(x1 * W), int(y1 * H), int(x2 * W), int(y2 * H)
            if x1 > EPS and y1 > EPS and x2 > EPS and y2 > EPS:
                color = matplotlib.colors.hsv_to_rgb([ie / float(len(HAND_EDGES)), 1.0, 1.0]) * 255
                cv2.line(canvas, (x1, y1), (x2, y2), color, thickness=2)
        for x, y in peaks:
            x, y = int(x * W), int(y * H)
            if x > EPS and y > EPS:
                cv2.circle(canvas, (x, y), 4, (0, 0, 255), thickness=-1)
    return canvas


def draw_facepose(canvas, all_lmks):
    H, W, C = canvas.shape
    for lmks in all_lmks:
        for x, y in np.array(lmks):
            x, y = int(x * W), int(y * H)
            if x > EPS and y > EPS:
                cv2.circle(canvas, (x, y), 3, (255, 255, 255), thickness=-1)
    return canvas


def annotator_input(pose: dict) -> tuple[list, list, list, list]:
    """OpenPose JSON (pixels) -> the annotator's candidate, subset, hands and faces (normalised)."""
    width, height = pose["canvas_width"], pose["canvas_height"]
    candidate, subset, hands, faces = [], [], [], []

    def normalised(values: list[float]) -> list[list[float]]:
        triples = [values[i:i + 3] for i in range(0, len(values), 3)]
        return [[x / width, y / height] if c > 0 else [-1.0, -1.0] for x, y, c in triples]

    for person in pose["people"]:
        row = []
        for x, y in normalised(person["pose_keypoints_2d"]):
            row.append(-1 if x == -1.0 else len(candidate))
            if x != -1.0:
                candidate.append([x, y])
        subset.append(row)
        hands += [normalised(person[k]) for k in ("hand_left_keypoints_2d", "hand_right_keypoints_2d") if person.get(k)]
        if person.get("face_keypoints_2d"):
            faces.append(normalised(person["face_keypoints_2d"]))
    return candidate, subset, hands, faces


def draw_pose(pose: dict) -> np.ndarray:
    candidate, subset, hands, faces = annotator_input(pose)
    canvas = np.zeros((pose["canvas_height"], pose["canvas_width"], 3), dtype=np.uint8)
    canvas = draw_bodypose(canvas, candidate, subset)
    canvas = draw_handpose(canvas, hands)
    return draw_facepose(canvas, faces)


def main() -> None:
    for source in sorted(HERE.glob("*.json")):
        pose = json.loads(source.read_text(encoding="utf-8"))
        Image.fromarray(draw_pose(pose), "RGB").save(source.with_suffix(".png"), optimize=True)
        print(source.with_suffix(".png").name, cv2.__version__)


if __name__ == "__main__":
    main()

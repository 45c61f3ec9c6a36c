"""The openpose control image, drawn as lllyasviel's ControlNet 1.1 annotator draws it.

`annotator/openpose/util.py` (draw_bodypose, draw_handpose, draw_facepose; the same code in
controlnet_aux and A1111's ControlNet extension): on black, every person's limbs as filled
ellipses of half-width 4 in the fixed limb colours, the whole canvas then scaled by 0.6, then
joints as radius-4 discs; hands as 2-px lines in 20 hues with blue radius-4 keypoints; faces as
white radius-3 dots. Coordinates go through the annotator's normalise-then-scale step so the
integer truncations land on the same pixels.

Two near relatives draw differently: ControlNet 1.0's annotator drew joints first and blended
each limb over them at 0.6; A1111's extension draws people one at a time, dimming the earlier
ones again for each later person (the same image for one person).
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from core.pose import Keypoint, Person, PoseDocument, Points
from core.pose_raster import ellipse_polygon, fill_circle, fill_convex_poly, thick_line

STICK_WIDTH = 4
JOINT_RADIUS = 4
FACE_DOT_RADIUS = 3
HAND_LINE_WIDTH = 2
HAND_KEYPOINT_COLOR = (0, 0, 255)
FACE_COLOR = (255, 255, 255)
LIMB_DIMMING = 0.6

# 1-based COCO-18 indices, as in the annotator; only the first 17 are drawn (the ear-shoulder
# pairs at the end of the original list never were).
LIMBS = ((2, 3), (2, 6), (3, 4), (4, 5), (6, 7), (7, 8), (2, 9), (9, 10), (10, 11), (2, 12), (12, 13),
         (13, 14), (2, 1), (1, 15), (15, 17), (1, 16), (16, 18))
COLORS = ((255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0), (0, 255, 0),
          (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255), (0, 0, 255), (85, 0, 255),
          (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85))
HAND_EDGES = ((0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (0, 9), (9, 10), (10, 11),
              (11, 12), (0, 13), (13, 14), (14, 15), (15, 16), (0, 17), (17, 18), (18, 19), (19, 20))
_EPS = 0.01


def render_pose(doc: PoseDocument, size: tuple[int, int] | None = None) -> Image.Image:
    """RGB image of `doc` at `size` (default: the document's canvas), keypoints scaled to fit."""
    width, height = size or (doc.width, doc.height)
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    canvas = _draw_bodies(canvas, doc)
    hands = [h for p in doc.people for h in (p.left_hand, p.right_hand) if h is not None]
    for hand in hands:
        _draw_hand(canvas, doc, hand)
    for person in doc.people:
        if person.face is not None:
            _draw_face(canvas, doc, person.face)
    return Image.fromarray(canvas, "RGB")


def hand_edge_color(index: int) -> tuple[int, int, int]:
    """`matplotlib.colors.hsv_to_rgb([index / 20, 1, 1]) * 255`, as cv2 rounds it into a colour."""
    h = index / float(len(HAND_EDGES))
    sector = int(h * 6.0)
    f = h * 6.0 - sector
    q, t = 1.0 * (1.0 - f), 1.0 * (1.0 - (1.0 - f))
    rgb = [(1.0, t, 0.0), (q, 1.0, 0.0), (0.0, 1.0, t), (0.0, q, 1.0), (t, 0.0, 1.0), (1.0, 0.0, q)][sector % 6]
    return tuple(min(255, max(0, round(c * 255))) for c in rgb)  # type: ignore[return-value]


def _pixel(doc: PoseDocument, canvas: np.ndarray, k: Keypoint) -> tuple[float, float]:
    height, width = canvas.shape[:2]
    return k.x / doc.width * float(width), k.y / doc.height * float(height)


def _draw_bodies(canvas: np.ndarray, doc: PoseDocument) -> np.ndarray:
    for limb, color in zip(LIMBS, COLORS):
        for person in doc.people:
            _draw_limb(canvas, doc, person, limb, color)
    canvas = (canvas * LIMB_DIMMING).astype(np.uint8)
    for index, color in enumerate(COLORS):
        for person in doc.people:
            joint = person.body[index]
            if joint.present:
                x, y = _pixel(doc, canvas, joint)
                fill_circle(canvas, (int(x), int(y)), JOINT_RADIUS, color)
    return canvas


def _draw_limb(canvas: np.ndarray, doc: PoseDocument, person: Person, limb: tuple[int, int],
               color: tuple[int, int, int]) -> None:
    start, end = person.body[limb[0] - 1], person.body[limb[1] - 1]
    if not (start.present and end.present):
        return
    (x0, y0), (x1, y1) = _pixel(doc, canvas, start), _pixel(doc, canvas, end)
    center = (int((x0 + x1) / 2), int((y0 + y1) / 2))
    length = ((y0 - y1) ** 2 + (x0 - x1) ** 2) ** 0.5
    angle = math.degrees(math.atan2(y0 - y1, x0 - x1))
    polygon = ellipse_polygon(center, (int(length / 2), STICK_WIDTH), int(angle))
    fill_convex_poly(canvas, polygon, color)


def _draw_hand(canvas: np.ndarray, doc: PoseDocument, hand: Points) -> None:
    pixels = [_truncated(doc, canvas, k) for k in hand]
    for index, (a, b) in enumerate(HAND_EDGES):
        if pixels[a] and pixels[b]:
            thick_line(canvas, pixels[a], pixels[b], hand_edge_color(index), HAND_LINE_WIDTH)
    for pixel in pixels:
        if pixel:
            fill_circle(canvas, pixel, JOINT_RADIUS, HAND_KEYPOINT_COLOR)


def _draw_face(canvas: np.ndarray, doc: PoseDocument, face: Points) -> None:
    for pixel in (_truncated(doc, canvas, k) for k in face):
        if pixel:
            fill_circle(canvas, pixel, FACE_DOT_RADIUS, FACE_COLOR)


def _truncated(doc: PoseDocument, canvas: np.ndarray, k: Keypoint) -> tuple[int, int] | None:
    """Integer pixel of a hand or face point; None where the annotator skips it (absent or x, y < 1)."""
    if not k.present:
        return None
    x, y = _pixel(doc, canvas, k)
    x, y = int(x), int(y)
    return (x, y) if x > _EPS and y > _EPS else None


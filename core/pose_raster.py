"""OpenCV's non-antialiased drawing primitives, ported so pose images match the ControlNet annotator.

ControlNet's openpose models were trained on images drawn with `cv2.ellipse2Poly`,
`cv2.fillConvexPoly`, `cv2.circle` and `cv2.line` (8-connected, no antialiasing). PIL rasterises
edges and discs differently, so this is a line-by-line port of OpenCV's `drawing.cpp`
(fixed point with 16 fractional bits, C integer division, round-half-to-even) on numpy arrays.
OpenCV itself is not a dependency. Canvases are HxWx3 uint8 arrays, modified in place.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

Color = tuple[int, int, int]
Point = tuple[int, int]

XY_SHIFT = 16
XY_ONE = 1 << XY_SHIFT

# OpenCV's SinTable: sin of whole degrees 0..450 written with 7 decimals, stored as float32.
_SIN_TABLE = [float(v) for v in np.round(np.sin(np.radians(np.arange(451))), 7).astype(np.float32)]


def _div(a: int, b: int) -> int:
    """C integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def ellipse_polygon(center: Point, axes: Point, angle: int, arc_start: int = 0, arc_end: int = 360,
                    delta: int = 1) -> list[Point]:
    """`cv2.ellipse2Poly` with integer arguments: the rounded outline of a rotated ellipse."""
    while angle < 0:
        angle += 360
    while angle > 360:
        angle -= 360
    arc_start, arc_end = min(arc_start, arc_end), max(arc_start, arc_end)
    while arc_start < 0:
        arc_start, arc_end = arc_start + 360, arc_end + 360
    while arc_end > 360:
        arc_start, arc_end = arc_start - 360, arc_end - 360
    if arc_end - arc_start > 360:
        arc_start, arc_end = 0, 360
    sin_a, cos_a = _SIN_TABLE[angle], _SIN_TABLE[450 - angle]
    points: list[Point] = []
    for step in range(arc_start, arc_end + delta, delta):
        theta = min(step, arc_end)
        theta = theta + 360 if theta < 0 else theta
        x, y = axes[0] * _SIN_TABLE[450 - theta], axes[1] * _SIN_TABLE[theta]
        point = (round(center[0] + x * cos_a - y * sin_a), round(center[1] + x * sin_a + y * cos_a))
        if not points or points[-1] != point:
            points.append(point)
    return points if len(points) != 1 else [center, center]


def _clip_line(width: int, height: int, p1: list[int], p2: list[int]) -> bool:
    """`cv::clipLine`: clip the segment to [0, width-1] x [0, height-1] in place; False if outside."""
    right, bottom = width - 1, height - 1
    if width <= 0 or height <= 0:
        return False

    def code(p: list[int]) -> int:
        return (p[0] < 0) + (p[0] > right) * 2 + (p[1] < 0) * 4 + (p[1] > bottom) * 8

    c1, c2 = code(p1), code(p2)
    if (c1 & c2) == 0 and (c1 | c2) != 0:
        if c1 & 12:
            a = 0 if c1 < 8 else bottom
            p1[0] += _div((a - p1[1]) * (p2[0] - p1[0]), p2[1] - p1[1])
            p1[1] = a
            c1 = (p1[0] < 0) + (p1[0] > right) * 2
        if c2 & 12:
            a = 0 if c2 < 8 else bottom
            p2[0] += _div((a - p2[1]) * (p2[0] - p1[0]), p2[1] - p1[1])
            p2[1] = a
            c2 = (p2[0] < 0) + (p2[0] > right) * 2
        if (c1 & c2) == 0 and (c1 | c2) != 0:
            if c1:
                a = 0 if c1 == 1 else right
                p1[1] += _div((a - p1[0]) * (p2[1] - p1[1]), p2[0] - p1[0])
                p1[0] = a
                c1 = 0
            if c2:
                a = 0 if c2 == 1 else right
                p2[1] += _div((a - p2[0]) * (p2[1] - p1[1]), p2[0] - p1[0])
                p2[0] = a
                c2 = 0
    return (c1 | c2) == 0


def _line(canvas: np.ndarray, pt1: Point, pt2: Point, color: Color) -> None:
    """`cv::Line` through an 8-connected `LineIterator`, drawn left to right."""
    height, width = canvas.shape[:2]
    p1, p2 = list(pt1), list(pt2)
    if not (0 <= p1[0] < width and 0 <= p2[0] < width and 0 <= p1[1] < height and 0 <= p2[1] < height):
        if not _clip_line(width, height, p1, p2):
            return
    dx, dy = p2[0] - p1[0], p2[1] - p1[1]
    if dx < 0:
        dx, dy, p1 = -dx, -dy, p2
    step_y = -1 if dy < 0 else 1
    dy = abs(dy)
    x, y = p1
    vertical = dy > dx
    if vertical:
        dx, dy = dy, dx
    err = dx - 2 * dy
    for _ in range(dx + 1):
        canvas[y, x] = color
        diagonal = err < 0
        err += -2 * dy + (2 * dx if diagonal else 0)
        if vertical:
            y += step_y
            x += 1 if diagonal else 0
        else:
            x += 1
            y += step_y if diagonal else 0


def _line_fixed(canvas: np.ndarray, pt1: Point, pt2: Point, color: Color) -> None:
    """`cv::Line2`: a line between points with 16 fractional bits."""
    height, width = canvas.shape[:2]
    p1, p2 = list(pt1), list(pt2)
    if not _clip_line(width << XY_SHIFT, height << XY_SHIFT, p1, p2):
        return
    dx, dy = p2[0] - p1[0], p2[1] - p1[1]
    x_major = abs(dx) > abs(dy)
    if (dx < 0) if x_major else (dy < 0):
        p1, p2 = p2, p1
    dx, dy = p2[0] - p1[0], p2[1] - p1[1]

    def put(x: int, y: int) -> None:
        if 0 <= x < width and 0 <= y < height:
            canvas[y, x] = color

    put((p2[0] + (XY_ONE >> 1)) >> XY_SHIFT, (p2[1] + (XY_ONE >> 1)) >> XY_SHIFT)
    x, y = p1[0] + (XY_ONE >> 1), p1[1] + (XY_ONE >> 1)
    if x_major:
        y_step = _div(dy << XY_SHIFT, dx | 1)
        x >>= XY_SHIFT
        for _ in range((dx >> XY_SHIFT) + 1):
            put(x, y >> XY_SHIFT)
            x, y = x + 1, y + y_step
    else:
        x_step = _div(dx << XY_SHIFT, dy | 1)
        y >>= XY_SHIFT
        for _ in range((dy >> XY_SHIFT) + 1):
            put(x >> XY_SHIFT, y)
            x, y = x + x_step, y + 1


def fill_convex_poly(canvas: np.ndarray, points: Sequence[Point], color: Color, shift: int = 0) -> None:
    """`cv2.fillConvexPoly(canvas, points, color, LINE_8, shift)`: outline, then scanline fill."""
    height, width = canvas.shape[:2]
    n = len(points)
    delta = 1 << shift >> 1
    previous = (points[-1][0] << (XY_SHIFT - shift), points[-1][1] << (XY_SHIFT - shift))
    for x, y in points:
        current = (x << (XY_SHIFT - shift), y << (XY_SHIFT - shift))
        if shift == 0:
            _line(canvas, (previous[0] >> XY_SHIFT, previous[1] >> XY_SHIFT),
                  (current[0] >> XY_SHIFT, current[1] >> XY_SHIFT), color)
        else:
            _line_fixed(canvas, previous, current, color)
        previous = current
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    xmin, xmax = (min(xs) + delta) >> shift, (max(xs) + delta) >> shift
    ymin, ymax = (min(ys) + delta) >> shift, (max(ys) + delta) >> shift
    if n < 3 or xmax < 0 or ymax < 0 or xmin >= width or ymin >= height:
        return
    _scan_convex(canvas, points, color, shift, ys.index(min(ys)), ymin, min(ymax, height - 1))


def _scan_convex(canvas: np.ndarray, points: Sequence[Point], color: Color, shift: int,
                 top: int, ymin: int, ymax: int) -> None:
    """The scanline half of `cv::FillConvexPoly`: walk the left and right chains down from `top`."""
    width = canvas.shape[1]
    n, delta, half = len(points), 1 << shift >> 1, XY_ONE >> 1
    edges = [[top, 1, -XY_ONE, 0, ymin], [top, n - 1, -XY_ONE, 0, ymin]]  # idx, di, x, dx, ye
    remaining = n
    y = ymin
    while True:
        for edge in edges:
            if y < edge[4]:
                continue
            idx0, di = edge[0], edge[1]
            idx = (idx0 + di) % n
            while remaining > 0:
                remaining -= 1
                ty = (points[idx][1] + delta) >> shift
                if ty > y:
                    xs = points[idx0][0] << (XY_SHIFT - shift)
                    xe = points[idx][0] << (XY_SHIFT - shift)
                    edge[4] = ty
                    edge[3] = _div((xe - xs) * 2 + (ty - y), 2 * (ty - y))
                    edge[2] = xs
                    edge[0] = idx
                    break
                idx0, idx = idx, (idx + di) % n
            else:
                remaining -= 1
        if remaining < 0:
            return
        if y >= 0:
            left, right = sorted((edges[0][2], edges[1][2]))
            x1, x2 = (left + half) >> XY_SHIFT, (right + half) >> XY_SHIFT
            if x2 >= 0 and x1 < width:
                canvas[y, max(x1, 0):min(x2, width - 1) + 1] = color
        edges[0][2] += edges[0][3]
        edges[1][2] += edges[1][3]
        y += 1
        if y > ymax:
            return


def fill_circle(canvas: np.ndarray, center: Point, radius: int, color: Color) -> None:
    """`cv2.circle(canvas, center, radius, color, thickness=-1)`: OpenCV's integer disc."""
    height, width = canvas.shape[:2]
    cx, cy = center
    err, dx, dy, plus, minus = 0, radius, 0, 1, 2 * radius - 1

    def span(y: int, x1: int, x2: int) -> None:
        if 0 <= y < height and x1 < width and x2 >= 0:
            canvas[y, max(x1, 0):min(x2, width - 1) + 1] = color

    while dx >= dy:
        span(cy - dy, cx - dx, cx + dx)
        span(cy + dy, cx - dx, cx + dx)
        span(cy - dx, cx - dy, cx + dy)
        span(cy + dx, cx - dy, cx + dy)
        dy += 1
        err += plus
        plus += 2
        if err > 0:
            err -= minus
            dx -= 1
            minus -= 2


def thick_line(canvas: np.ndarray, pt1: Point, pt2: Point, color: Color, thickness: int) -> None:
    """`cv2.line(canvas, pt1, pt2, color, thickness)` for thickness > 1: a quad with round caps.

    OpenCV 4.x first clips the segment to the image grown by `thickness` on every side.
    """
    height, width = canvas.shape[:2]
    start, end = [pt1[0] + thickness, pt1[1] + thickness], [pt2[0] + thickness, pt2[1] + thickness]
    if not _clip_line(width + 2 * thickness, height + 2 * thickness, start, end):
        return
    p0 = ((start[0] - thickness) << XY_SHIFT, (start[1] - thickness) << XY_SHIFT)
    p1 = ((end[0] - thickness) << XY_SHIFT, (end[1] - thickness) << XY_SHIFT)
    dx, dy = (p0[0] - p1[0]) / XY_ONE, (p1[1] - p0[1]) / XY_ONE
    length_sq = dx * dx + dy * dy
    odd = thickness & 1
    half = thickness << (XY_SHIFT - 1)
    if abs(length_sq) > np.finfo(float).eps:
        r = (half + odd * XY_ONE * 0.5) / np.sqrt(length_sq)
        ox, oy = round(dy * r), round(dx * r)
        quad = [(p0[0] + ox, p0[1] + oy), (p0[0] - ox, p0[1] - oy),
                (p1[0] - ox, p1[1] - oy), (p1[0] + ox, p1[1] + oy)]
        fill_convex_poly(canvas, quad, color, shift=XY_SHIFT)
    cap = (half + (XY_ONE >> 1)) >> XY_SHIFT
    for end in (p0, p1):
        fill_circle(canvas, ((end[0] + (XY_ONE >> 1)) >> XY_SHIFT, (end[1] + (XY_ONE >> 1)) >> XY_SHIFT), cap, color)

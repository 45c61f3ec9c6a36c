"""Edits of one person's keypoints: pure functions that return a new `Person`.

Rotation is in degrees clockwise as seen on screen (image y points down). "Centre" is the
centre of the bounding box of the person's present keypoints.
"""

from __future__ import annotations

import math

from core.pose import BODY_INDEX, Keypoint, Part, Person

# Each body joint's parent in a tree rooted at the neck; hands are rooted at the wrist (0).
BODY_PARENT = {0: 1, 2: 1, 3: 2, 4: 3, 5: 1, 6: 5, 7: 6, 8: 1, 9: 8, 10: 9, 11: 1, 12: 11, 13: 12,
               14: 0, 15: 0, 16: 14, 17: 15}
HAND_PARENT = {i: 0 if i % 4 == 1 else i - 1 for i in range(1, 21)}
# Where each keypoint comes from when the person is mirrored (left and right swap).
BODY_MIRROR = (0, 1, 5, 6, 7, 2, 3, 4, 11, 12, 13, 8, 9, 10, 15, 14, 17, 16)
_FACE_PAIRS = [(i, 16 - i) for i in range(8)] + [(17 + i, 26 - i) for i in range(5)] + [
    (31, 35), (32, 34), (36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46), (48, 54), (49, 53),
    (50, 52), (55, 59), (56, 58), (60, 64), (61, 63), (65, 67), (68, 69)]
FACE_MIRROR = tuple(next((b if a == i else a for a, b in _FACE_PAIRS if i in (a, b)), i) for i in range(70))
# Parts that travel with a body joint when it moves.
ATTACHED = {BODY_INDEX["right_wrist"]: Part.RIGHT_HAND, BODY_INDEX["left_wrist"]: Part.LEFT_HAND,
            BODY_INDEX["nose"]: Part.FACE}


def center(person: Person) -> tuple[float, float]:
    points = person.present_points()
    if not points:
        raise ValueError("this person has no visible keypoints")
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2


def translate(person: Person, dx: float, dy: float) -> Person:
    return person.map_points(lambda x, y: (x + dx, y + dy))


def scale(person: Person, factor: float, about: tuple[float, float] | None = None) -> Person:
    cx, cy = about or center(person)
    return person.map_points(lambda x, y: (cx + (x - cx) * factor, cy + (y - cy) * factor))


def rotate(person: Person, degrees: float, about: tuple[float, float] | None = None) -> Person:
    cx, cy = about or center(person)
    cos, sin = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return person.map_points(lambda x, y: (cx + (x - cx) * cos - (y - cy) * sin,
                                           cy + (x - cx) * sin + (y - cy) * cos))


def mirror(person: Person, axis_x: float | None = None) -> Person:
    """Reflect about a vertical line (default: through the centre) and swap left and right labels."""
    axis = center(person)[0] if axis_x is None else axis_x
    flipped = person.map_points(lambda x, y: (2 * axis - x, y))
    face = None if flipped.face is None else tuple(flipped.face[i] for i in FACE_MIRROR)
    return Person(tuple(flipped.body[i] for i in BODY_MIRROR), left_hand=flipped.right_hand,
                  right_hand=flipped.left_hand, face=face, extras=person.extras)


def set_visible(person: Person, part: Part, index: int, visible: bool,
                at: tuple[float, float] | None = None) -> Person:
    """Hide a keypoint (confidence 0, position kept) or show it, at `at` if given."""
    keypoint = person.keypoint(part, index)
    if not visible:
        return person.with_keypoint(part, index, Keypoint(keypoint.x, keypoint.y, 0.0))
    x, y = at or ((keypoint.x, keypoint.y) if not keypoint.is_placeholder else _guess_position(person, part, index))
    return person.with_keypoint(part, index, Keypoint(x, y, 1.0))


def move_keypoint(person: Person, part: Part, index: int, x: float, y: float,
                  keep_lengths: bool = False) -> Person:
    """Move one keypoint to (x, y); hands follow their wrist and the face its nose.

    With `keep_lengths`, the keypoint swings around its parent at its old distance and everything
    below it in the skeleton moves along with it.
    """
    points = list(person.points(part) or ())
    old = points[index]
    parents = _parents(part)
    if keep_lengths:
        x, y = _at_same_distance(points, parents.get(index), old, x, y)
    dx, dy = x - old.x, y - old.y
    moving = {index} | (_descendants(parents, index) if keep_lengths else set())
    for i in moving:
        if not points[i].is_placeholder or i == index:
            points[i] = points[i].moved_to(points[i].x + dx, points[i].y + dy)
    moved = person.with_points(part, points)
    if part is Part.BODY:
        for joint in moving & ATTACHED.keys():
            moved = _translate_part(moved, ATTACHED[joint], dx, dy)
    return moved


def without_part(person: Person, part: Part) -> Person:
    """Remove a hand or the face (the body stays: hide its keypoints instead)."""
    return person.with_points(part, None)


def _parents(part: Part) -> dict[int, int]:
    return {Part.BODY: BODY_PARENT, Part.FACE: {}}.get(part, HAND_PARENT)


def _descendants(parents: dict[int, int], index: int) -> set[int]:
    children = {child for child, parent in parents.items() if parent == index}
    return children.union(*(_descendants(parents, child) for child in children))


def _at_same_distance(points: list[Keypoint], parent: int | None, old: Keypoint,
                      x: float, y: float) -> tuple[float, float]:
    if parent is None or not points[parent].present:
        return x, y
    anchor = points[parent]
    length = math.hypot(old.x - anchor.x, old.y - anchor.y)
    reach = math.hypot(x - anchor.x, y - anchor.y)
    if reach == 0:
        return old.x, old.y
    return anchor.x + (x - anchor.x) * length / reach, anchor.y + (y - anchor.y) * length / reach


def _translate_part(person: Person, part: Part, dx: float, dy: float) -> Person:
    points = person.points(part)
    if points is None:
        return person
    moved = tuple(k if k.is_placeholder else k.moved_to(k.x + dx, k.y + dy) for k in points)
    return person.with_points(part, moved)


def _guess_position(person: Person, part: Part, index: int) -> tuple[float, float]:
    """Where to show a joint that was never placed: just beside its parent, else at the centre."""
    parent = _parents(part).get(index)
    points = person.points(part) or ()
    if parent is not None and points[parent].present:
        return points[parent].x + 10.0, points[parent].y + 10.0
    return center(person)

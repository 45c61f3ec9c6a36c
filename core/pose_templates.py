"""Shipped poses (`resources/poses/*.json`) and fitting them to a canvas, a wrist or a head.

Templates are OpenPose JSON on a 512x512 canvas. `hand.json` and `face.json` are a standing
person carrying a right hand or a face; a hand or face is fitted to another person by the
similarity transform that carries the template's forearm (elbow to wrist) or head (ear to ear,
else eye to eye, else nose to neck) onto that person's.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

from core.errors import EaselError
from core.paths import resources_dir
from core.pose import BODY_INDEX, Part, Person, PoseDocument, read_pose_file
from core.pose_ops import mirror

TEMPLATE_NAMES = ("standing", "walking", "sitting", "arms-up", "t-pose")
Transform = Callable[[float, float], tuple[float, float]]
_HEAD_ANCHORS = (("right_ear", "left_ear"), ("right_eye", "left_eye"), ("nose", "neck"))


class PoseEditError(EaselError):
    """An edit that the person's current keypoints do not allow."""


def poses_dir() -> Path:
    return resources_dir() / "poses"


def load_template(name: str, folder: Path | None = None) -> PoseDocument:
    """A shipped pose (one of TEMPLATE_NAMES, or "hand" / "face") as a document."""
    return read_pose_file((folder or poses_dir()) / f"{name}.json")


def add_template(doc: PoseDocument, template: PoseDocument) -> PoseDocument:
    """Add the template's people, its canvas scaled to fit inside the document's and centred."""
    factor = min(doc.width / template.width, doc.height / template.height)
    left, top = (doc.width - template.width * factor) / 2, (doc.height - template.height * factor) / 2
    for person in template.people:
        doc = doc.add_person(person.map_points(lambda x, y: (left + x * factor, top + y * factor)))
    return doc


def fit_hand(person: Person, side: Part, template: Person) -> Person:
    """`person` with the template's right hand scaled, turned and placed on its `side` wrist."""
    if side not in (Part.LEFT_HAND, Part.RIGHT_HAND) or template.right_hand is None:
        raise ValueError("fit_hand needs a side (LEFT_HAND or RIGHT_HAND) and a template with a right hand")
    prefix = "right" if side is Part.RIGHT_HAND else "left"
    source = template if side is Part.RIGHT_HAND else mirror(template)
    wrist = BODY_INDEX[f"{prefix}_wrist"]
    if not person.body[wrist].present:
        raise PoseEditError(f"Place the {prefix} wrist first.", hint="The hand is fitted to the wrist.")
    transform = _fit((source, person), (f"{prefix}_elbow", f"{prefix}_wrist"), wrist)
    hand = source.points(side) or ()
    return person.with_points(side, [k if k.is_placeholder else k.moved_to(*transform(k.x, k.y)) for k in hand])


def fit_face(person: Person, template: Person) -> Person:
    """`person` with the template's face scaled, turned and placed on its head."""
    if template.face is None:
        raise ValueError("the face template carries no face")
    nose = BODY_INDEX["nose"]
    if not person.body[nose].present:
        raise PoseEditError("Place the nose first.", hint="The face is fitted to the head around the nose.")
    pair = next((p for p in _HEAD_ANCHORS if _has_both(template, p) and _has_both(person, p)), None)
    # In profile the nose leans ahead of the neck: that pair gives a size, not a tilt.
    transform = _fit((template, person), pair, nose, turn=pair != ("nose", "neck"))
    return person.with_points(Part.FACE, [k if k.is_placeholder else k.moved_to(*transform(k.x, k.y))
                                          for k in template.face])


def _has_both(person: Person, pair: tuple[str, str]) -> bool:
    return all(person.body[BODY_INDEX[name]].present for name in pair)


def _fit(people: tuple[Person, Person], pair: tuple[str, str] | None, pin: int, turn: bool = True) -> Transform:
    """Similarity carrying `pair` of the first person onto the second's, with joint `pin` landing exactly.

    Without both joints of the pair on both people, only scale by overall body size (no turn).
    """
    source, target = people
    angle, factor = 0.0, _body_height(target) / max(_body_height(source), 1e-9)
    if pair is not None and _has_both(source, pair) and _has_both(target, pair):
        a, b = BODY_INDEX[pair[0]], BODY_INDEX[pair[1]]
        (sx, sy), (tx, ty) = _vector(source, a, b), _vector(target, a, b)
        factor = math.hypot(tx, ty) / max(math.hypot(sx, sy), 1e-9)
        angle = math.atan2(ty, tx) - math.atan2(sy, sx) if turn else 0.0
    cos, sin = math.cos(angle) * factor, math.sin(angle) * factor
    origin, destination = source.body[pin], target.body[pin]

    def transform(x: float, y: float) -> tuple[float, float]:
        dx, dy = x - origin.x, y - origin.y
        return destination.x + dx * cos - dy * sin, destination.y + dx * sin + dy * cos

    return transform


def _vector(person: Person, a: int, b: int) -> tuple[float, float]:
    return person.body[b].x - person.body[a].x, person.body[b].y - person.body[a].y


def _body_height(person: Person) -> float:
    ys = [k.y for k in person.body if k.present]
    return max(ys) - min(ys) if len(ys) > 1 else 1.0

"""OpenPose people on a canvas: the document the pose editor edits and ControlNet renders.

Immutable values: every change returns a new `PoseDocument`, so the editor's undo is a list of
documents. Coordinates are pixels on the canvas; a keypoint with confidence 0 is absent.
Geometry lives in `core.pose_ops`, drawing in `core.pose_render`, templates in `core.pose_templates`.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from PIL import Image

from core.atomic_json import write_json_atomically
from core.errors import EaselError

# COCO-18, the order ControlNet's openpose annotator and sd-webui-openpose-editor use.
BODY_KEYPOINTS = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
    "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
    "right_eye", "left_eye", "right_ear", "left_ear",
)
BODY_INDEX = {name: index for index, name in enumerate(BODY_KEYPOINTS)}
HAND_KEYPOINT_COUNT = 21
FACE_KEYPOINT_COUNT = 70
DEFAULT_CANVAS = (512, 512)

# OpenPose's default BODY_25 model: the COCO-18 joints sit at these indices (MidHip and feet dropped).
_BODY25_TO_COCO18 = (0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18)


class Part(str, Enum):
    """A group of keypoints of one person; the value is its key in OpenPose JSON."""

    BODY = "pose_keypoints_2d"
    LEFT_HAND = "hand_left_keypoints_2d"
    RIGHT_HAND = "hand_right_keypoints_2d"
    FACE = "face_keypoints_2d"

    @property
    def size(self) -> int:
        return {Part.BODY: len(BODY_KEYPOINTS), Part.FACE: FACE_KEYPOINT_COUNT}.get(self, HAND_KEYPOINT_COUNT)


class PoseFormatError(EaselError):
    """A pose JSON file that is not in the OpenPose format."""


@dataclass(frozen=True)
class Keypoint:
    x: float
    y: float
    confidence: float = 1.0

    @property
    def present(self) -> bool:
        return self.confidence > 0

    @property
    def is_placeholder(self) -> bool:
        """Absent and parked at (0, 0) or (-1, -1), as writers do for joints never detected."""
        return not self.present and self.x <= 0 and self.y <= 0

    def moved_to(self, x: float, y: float) -> "Keypoint":
        return dataclasses.replace(self, x=x, y=y)


ABSENT = Keypoint(0.0, 0.0, 0.0)
Points = tuple[Keypoint, ...]


@dataclass(frozen=True)
class Person:
    body: Points
    left_hand: Points | None = None
    right_hand: Points | None = None
    face: Points | None = None
    extras: Mapping[str, Any] = field(default_factory=dict)  # other JSON keys, written back unchanged

    def __post_init__(self) -> None:
        for part in Part:
            points = self.points(part)
            if points is not None and len(points) != part.size:
                raise ValueError(f"{part.name.lower()} needs {part.size} keypoints, got {len(points)}")

    def points(self, part: Part) -> Points | None:
        return {Part.BODY: self.body, Part.LEFT_HAND: self.left_hand,
                Part.RIGHT_HAND: self.right_hand, Part.FACE: self.face}[part]

    def with_points(self, part: Part, points: Sequence[Keypoint] | None) -> "Person":
        name = {Part.BODY: "body", Part.LEFT_HAND: "left_hand", Part.RIGHT_HAND: "right_hand", Part.FACE: "face"}
        value = None if points is None else tuple(points)
        if part is Part.BODY and value is None:
            raise ValueError("a person always has a body")
        return dataclasses.replace(self, **{name[part]: value})

    def with_keypoint(self, part: Part, index: int, keypoint: Keypoint) -> "Person":
        points = list(self.points(part) or ())
        points[index] = keypoint
        return self.with_points(part, points)

    def keypoint(self, part: Part, index: int) -> Keypoint:
        points = self.points(part)
        if points is None:
            raise LookupError(f"this person has no {part.name.lower().replace('_', ' ')}")
        return points[index]

    def present_points(self) -> list[tuple[float, float]]:
        return [(k.x, k.y) for part in Part for k in (self.points(part) or ()) if k.present]

    def map_points(self, transform: Callable[[float, float], tuple[float, float]]) -> "Person":
        """Apply `transform` to every keypoint but the placeholders of joints never placed."""
        def moved(points: Points | None) -> Points | None:
            if points is None:
                return None
            return tuple(k if k.is_placeholder else k.moved_to(*transform(k.x, k.y)) for k in points)

        return dataclasses.replace(self, body=moved(self.body), left_hand=moved(self.left_hand),
                                   right_hand=moved(self.right_hand), face=moved(self.face))


@dataclass(frozen=True)
class PoseDocument:
    width: int
    height: int
    people: tuple[Person, ...] = ()
    extras: Mapping[str, Any] = field(default_factory=dict)

    def replace_person(self, index: int, person: Person) -> "PoseDocument":
        people = list(self.people)
        people[index] = person
        return dataclasses.replace(self, people=tuple(people))

    def add_person(self, person: Person) -> "PoseDocument":
        return dataclasses.replace(self, people=(*self.people, person))

    def remove_person(self, index: int) -> "PoseDocument":
        return dataclasses.replace(self, people=self.people[:index] + self.people[index + 1:])

    @classmethod
    def from_openpose_json(cls, obj: Mapping[str, Any], default_size: tuple[int, int] = DEFAULT_CANVAS
                           ) -> "PoseDocument":
        """Read OpenPose / sd-webui-openpose-editor JSON; normalised 0..1 coordinates are scaled to pixels."""
        return _document_from_json(obj, default_size)

    def to_openpose_json(self) -> dict[str, Any]:
        people = [_person_to_json(person) for person in self.people]
        return {**self.extras, "people": people, "canvas_width": self.width, "canvas_height": self.height}


def read_pose_file(path: Path) -> PoseDocument:
    """A pose JSON file as a document, or a PoseFormatError that says what is wrong with it."""
    try:
        obj = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PoseFormatError(f"{path} does not exist.", hint="Check the path.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PoseFormatError(f"{path} is not a readable JSON file.", details=str(error)) from error
    return PoseDocument.from_openpose_json(obj)


def write_pose_file(doc: PoseDocument, path: Path) -> None:
    write_json_atomically(Path(path), doc.to_openpose_json())


HIDDEN_KEY = "easel_hidden"  # in a person's extras: kept in the JSON, left out of the control image


def is_hidden(person: Person) -> bool:
    return bool(person.extras.get(HIDDEN_KEY, False))


def with_hidden(person: Person, hidden: bool) -> Person:
    extras = {key: value for key, value in person.extras.items() if key != HIDDEN_KEY}
    if hidden:
        extras[HIDDEN_KEY] = True
    return dataclasses.replace(person, extras=extras)


def shown_document(document: PoseDocument) -> PoseDocument:
    """The document without its hidden people: what the control image shows."""
    return dataclasses.replace(document, people=tuple(p for p in document.people if not is_hidden(p)))


def render(doc: PoseDocument, size: tuple[int, int] | None = None) -> Image.Image:
    """The ControlNet openpose control image of `doc`, hidden people left out (see `core.pose_render`)."""
    from core.pose_render import render_pose

    return render_pose(shown_document(doc), size)


def _document_from_json(obj: Mapping[str, Any], default_size: tuple[int, int]) -> PoseDocument:
    if not isinstance(obj, Mapping) or not isinstance(obj.get("people", []), list):
        raise PoseFormatError("This is not an OpenPose pose file.",
                              hint='Expected a JSON object with a "people" list.')
    width = _canvas_size(obj, "canvas_width", default_size[0])
    height = _canvas_size(obj, "canvas_height", default_size[1])
    people = tuple(_person_from_json(person, number) for number, person in enumerate(obj.get("people", []), 1))
    if _looks_normalised(people):
        people = tuple(p.map_points(lambda x, y: (x * width, y * height)) for p in people)
    extras = {k: v for k, v in obj.items() if k not in ("people", "canvas_width", "canvas_height")}
    return PoseDocument(width, height, people, extras)


def _canvas_size(obj: Mapping[str, Any], key: str, default: int) -> int:
    value = obj.get(key, default)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 1:
        raise PoseFormatError(f"The pose file's {key} is {value!r}.", hint="It must be a positive number of pixels.")
    return int(value)


def _person_from_json(obj: Any, number: int) -> Person:
    if not isinstance(obj, Mapping):
        raise PoseFormatError(f"Person {number} in the pose file is not a JSON object.")
    extras = {k: v for k, v in obj.items() if k not in {p.value for p in Part}}
    parts: dict[Part, Points | None] = {}
    for part in Part:
        values = obj.get(part.value)
        if values is None or values == []:
            if part.value in obj:
                extras[part.value] = values  # written back as it came: null or []
            parts[part] = None
        else:
            parts[part] = _points_from_json(values, part, number)
    body = parts[Part.BODY] or tuple(ABSENT for _ in BODY_KEYPOINTS)
    return Person(body, parts[Part.LEFT_HAND], parts[Part.RIGHT_HAND], parts[Part.FACE], extras)


def _points_from_json(values: Any, part: Part, number: int) -> Points:
    name = part.name.lower().replace("_", " ")
    if not isinstance(values, list) or not all(_is_number(v) for v in values):
        raise PoseFormatError(f"Person {number}'s {name} keypoints are not a list of numbers.")
    triples = [Keypoint(*values[i:i + 3]) for i in range(0, len(values) - 2, 3)]
    if part is Part.BODY and len(values) == 25 * 3:
        return tuple(triples[i] for i in _BODY25_TO_COCO18)
    if len(values) != part.size * 3:
        raise PoseFormatError(f"Person {number}'s {name} has {len(values)} numbers; expected {part.size * 3}.",
                              hint="Each keypoint is written as x, y, confidence.")
    return tuple(triples)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _looks_normalised(people: Sequence[Person]) -> bool:
    coordinates = [c for person in people for point in person.present_points() for c in point]
    return bool(coordinates) and all(0.0 <= c <= 1.0 for c in coordinates)


def _person_to_json(person: Person) -> dict[str, Any]:
    obj = dict(person.extras)
    for part in Part:
        points = person.points(part)
        if points is not None:
            obj[part.value] = [value for k in points for value in (k.x, k.y, k.confidence)]
    return obj

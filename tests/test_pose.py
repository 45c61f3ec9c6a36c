"""The pose model: OpenPose JSON in and out, the ControlNet annotator drawing, and the editor's edits."""

from __future__ import annotations

import dataclasses
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.cli import main
from core.pose import (BODY_INDEX, Keypoint, Part, Person, PoseDocument, PoseFormatError, read_pose_file, render,
                       write_pose_file)
from core.pose_ops import center, mirror, move_keypoint, rotate, scale, set_visible, without_part
from core.pose_render import COLORS
from core.pose_templates import TEMPLATE_NAMES, add_template, fit_face, fit_hand, load_template

DATA = Path(__file__).parent / "data" / "pose"
EXPORT = DATA / "openpose_editor_export.json"


def load(name: str) -> PoseDocument:
    return PoseDocument.from_openpose_json(json.loads((DATA / name).read_text()))


def joint(person: Person, name: str) -> tuple[float, float]:
    k = person.body[BODY_INDEX[name]]
    return k.x, k.y


def heading(start: tuple[float, float], end: tuple[float, float]) -> float:
    """Direction from start to end in degrees, clockwise on screen from the +x axis."""
    return math.degrees(math.atan2(end[1] - start[1], end[0] - start[0]))


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def standing() -> Person:
    return load_template("standing").people[0]


# --- JSON ---------------------------------------------------------------------------------------

def test_editor_export_round_trips_value_for_value():
    original = json.loads(EXPORT.read_text())
    doc = PoseDocument.from_openpose_json(original)
    assert doc.to_openpose_json() == original
    assert json.loads(json.dumps(doc.to_openpose_json())) == original


def test_editor_export_reads_two_people_their_hands_and_a_hidden_ear():
    doc = PoseDocument.from_openpose_json(json.loads(EXPORT.read_text()))
    first, second = doc.people
    assert (doc.width, doc.height) == (512, 512)
    assert first.left_hand is not None and first.right_hand is not None and first.face is None
    assert second.left_hand is None and len(second.right_hand or ()) == 21
    left_ear = first.body[BODY_INDEX["left_ear"]]
    assert not left_ear.present and left_ear.x > 0  # hidden in the editor, its position kept


def test_openpose_output_keeps_confidences_and_unknown_fields():
    body = [v for i in range(18) for v in (100.5 + i, 200.25 + i, round(0.05 * i, 2))]
    original = {"version": 1.3, "people": [{
        "person_id": [-1], "pose_keypoints_2d": body, "face_keypoints_2d": [],
        "hand_left_keypoints_2d": [], "hand_right_keypoints_2d": [7.0, 8.0, 0.31] * 21,
        "pose_keypoints_3d": [], "face_keypoints_3d": [], "hand_left_keypoints_3d": [],
        "hand_right_keypoints_3d": []}], "canvas_width": 640, "canvas_height": 480}
    doc = PoseDocument.from_openpose_json(original)
    assert doc.to_openpose_json() == original
    assert doc.people[0].body[0] == Keypoint(100.5, 200.25, 0.0)  # confidence 0: absent
    assert not doc.people[0].body[0].present and doc.people[0].body[1].present


def test_a_written_pose_file_reads_back_the_same(tmp_path):
    doc = load("hands_and_face.json")
    write_pose_file(doc, tmp_path / "pose.json")
    assert read_pose_file(tmp_path / "pose.json") == doc


def test_normalised_coordinates_are_scaled_to_the_canvas():
    pixel_doc = load("one_person.json")
    normalised = pixel_doc.to_openpose_json()
    for person in normalised["people"]:
        values = person["pose_keypoints_2d"]
        person["pose_keypoints_2d"] = [v / (640 if i % 3 == 0 else 480) if i % 3 < 2 else v
                                       for i, v in enumerate(values)]
    normalised.update(canvas_width=640, canvas_height=480)
    doc = PoseDocument.from_openpose_json(normalised)
    nose, expected = doc.people[0].body[0], pixel_doc.people[0].body[0]
    assert (nose.x, nose.y) == pytest.approx((expected.x, expected.y))
    assert doc.width == 640 and max(k.x for k in doc.people[0].body) > 1


def test_openpose_body25_is_read_as_coco18():
    body25 = [v for i in range(25) for v in (10.0 * i + 1, 5.0 * i + 1, 1.0)]
    doc = PoseDocument.from_openpose_json({"people": [{"pose_keypoints_2d": body25}]})
    person = doc.people[0]
    assert (doc.width, doc.height) == (512, 512)
    assert joint(person, "neck") == (11.0, 6.0)
    assert joint(person, "right_hip") == (91.0, 46.0)  # BODY_25's MidHip (8) is skipped
    assert joint(person, "left_ear") == (181.0, 91.0)


@pytest.mark.parametrize("obj, words", [
    ({"people": [{"pose_keypoints_2d": [1, 2, 1] * 17}]}, "51 numbers"),
    ({"people": [{"pose_keypoints_2d": [1, 2, 1] * 18, "hand_left_keypoints_2d": [1] * 5}]}, "left hand"),
    ({"people": "nobody"}, "not an OpenPose pose file"),
    ({"people": [], "canvas_width": 0}, "canvas_width"),
])
def test_malformed_pose_files_say_what_is_wrong(obj, words):
    with pytest.raises(PoseFormatError, match=words):
        PoseDocument.from_openpose_json(obj)


# --- rendering ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["one_person", "two_people", "absent_keypoints", "hands_and_face",
                                  "openpose_editor_export"])
def test_render_matches_the_controlnet_annotator(name):
    reference = pixels(Image.open(DATA / f"{name}.png"))
    image = render(load(f"{name}.json"))
    assert image.mode == "RGB" and image.size == (reference.shape[1], reference.shape[0])
    difference = np.abs(pixels(image) - reference)
    assert difference.mean() < 1.0
    # The images are mostly black (a blank one scores 1.5 to 4.8), so also count differing pixels:
    # hand lines 3 px wide instead of 2 differ in about 1% of the drawn ones.
    assert difference.any(axis=2).sum() <= 0.005 * reference.any(axis=2).sum()


def test_hidden_joint_and_its_limbs_are_not_drawn():
    person = standing()
    shoulder, elbow, wrist = (joint(person, n) for n in ("left_shoulder", "left_elbow", "left_wrist"))
    hidden = set_visible(person, Part.BODY, BODY_INDEX["left_elbow"], False)
    before = pixels(render(PoseDocument(512, 512, (person,))))
    after = pixels(render(PoseDocument(512, 512, (hidden,))))

    def at(image, point):
        return tuple(image[int(point[1]), int(point[0])])

    def midpoint(a, b):
        return (a[0] + b[0]) / 2, (a[1] + b[1]) / 2

    assert at(before, elbow) == COLORS[BODY_INDEX["left_elbow"]]
    for point in (elbow, midpoint(shoulder, elbow), midpoint(elbow, wrist)):
        assert at(before, point) != (0, 0, 0) and at(after, point) == (0, 0, 0)
    assert at(after, shoulder) == COLORS[BODY_INDEX["left_shoulder"]]
    assert at(after, wrist) == COLORS[BODY_INDEX["left_wrist"]]


def test_render_at_another_size_scales_the_pose():
    doc = PoseDocument(512, 512, (standing(),))
    image = pixels(render(doc, (1024, 1024)))
    x, y = joint(standing(), "neck")
    assert image.shape == (1024, 1024, 3)
    assert tuple(image[int(y * 2), int(x * 2)]) == COLORS[BODY_INDEX["neck"]]


# --- edits --------------------------------------------------------------------------------------

def test_mirror_swaps_left_and_right_at_mirrored_positions():
    hand = load_template("hand").people[0]
    person = fit_hand(standing(), Part.RIGHT_HAND, hand)
    person = fit_face(person, load_template("face").people[0])
    person = move_keypoint(person, Part.BODY, BODY_INDEX["right_wrist"], 150.0, 120.0)  # right arm up
    axis = center(person)[0]
    flipped = mirror(person)

    right_wrist = joint(person, "right_wrist")
    assert joint(flipped, "left_wrist") == pytest.approx((2 * axis - right_wrist[0], right_wrist[1]))
    assert joint(flipped, "right_wrist") == pytest.approx((2 * axis - joint(person, "left_wrist")[0],
                                                           joint(person, "left_wrist")[1]))
    assert joint(flipped, "nose") == pytest.approx((2 * axis - joint(person, "nose")[0], joint(person, "nose")[1]))
    assert flipped.right_hand is None and flipped.left_hand is not None
    assert flipped.left_hand[4].x == pytest.approx(2 * axis - person.right_hand[4].x)  # thumb tip
    # Face: the outer corner of the right eye (36) becomes the outer corner of the left eye (45).
    assert flipped.face[45].x == pytest.approx(2 * axis - person.face[36].x)
    assert flipped.face[45].y == pytest.approx(person.face[36].y)
    assert center(flipped) == pytest.approx(center(person))


def test_scale_about_the_centre_keeps_the_centre_and_scales_distances():
    person = standing()
    cx, cy = center(person)
    bigger = scale(person, 1.5)
    assert center(bigger) == pytest.approx((cx, cy))
    for before, after in zip(person.body, bigger.body):
        assert math.dist((after.x, after.y), (cx, cy)) == pytest.approx(1.5 * math.dist((before.x, before.y), (cx, cy)))


def test_rotate_about_the_centre_turns_every_point_clockwise_on_screen():
    person = load_template("t-pose").people[0]
    cx, cy = center(person)
    turned = rotate(person, 90)
    assert center(turned) == pytest.approx((cx, cy), abs=1e-6)
    x, y = joint(person, "left_wrist")  # right of the centre ...
    tx, ty = joint(turned, "left_wrist")
    assert (tx, ty) == pytest.approx((cx - (y - cy), cy + (x - cx)))  # ... ends up below it
    for before, after in zip(person.body, rotate(person, 30).body):
        old, new = (before.x, before.y), (after.x, after.y)
        assert (heading((cx, cy), new) - heading((cx, cy), old)) % 360 == pytest.approx(30)
        assert math.dist(new, (cx, cy)) == pytest.approx(math.dist(old, (cx, cy)))


def test_moving_a_joint_moves_only_that_joint():
    person = standing()
    moved = move_keypoint(person, Part.BODY, BODY_INDEX["right_elbow"], 150.0, 210.0)
    assert joint(moved, "right_elbow") == (150.0, 210.0)
    changed = [i for i, (a, b) in enumerate(zip(person.body, moved.body)) if a != b]
    assert changed == [BODY_INDEX["right_elbow"]]


def test_limb_lock_keeps_the_upper_arm_length_and_carries_the_forearm_and_hand():
    person = fit_hand(standing(), Part.RIGHT_HAND, load_template("hand").people[0])
    shoulder, elbow, wrist = (joint(person, n) for n in ("right_shoulder", "right_elbow", "right_wrist"))
    moved = move_keypoint(person, Part.BODY, BODY_INDEX["right_elbow"], 60.0, 130.0, keep_lengths=True)
    new_elbow, new_wrist = joint(moved, "right_elbow"), joint(moved, "right_wrist")
    assert math.dist(new_elbow, shoulder) == pytest.approx(math.dist(elbow, shoulder))
    # on the way from the shoulder to where the pointer is
    assert heading(shoulder, new_elbow) == pytest.approx(heading(shoulder, (60.0, 130.0)))
    shift = (new_elbow[0] - elbow[0], new_elbow[1] - elbow[1])
    assert new_wrist == pytest.approx((wrist[0] + shift[0], wrist[1] + shift[1]))
    assert moved.right_hand[12].x == pytest.approx(person.right_hand[12].x + shift[0])
    assert joint(moved, "left_elbow") == joint(person, "left_elbow")


def test_dragging_the_neck_with_the_lock_moves_the_whole_person():
    person = standing()
    moved = move_keypoint(person, Part.BODY, BODY_INDEX["neck"], 300.0, 150.0, keep_lengths=True)
    dx, dy = 300.0 - joint(person, "neck")[0], 150.0 - joint(person, "neck")[1]
    for before, after in zip(person.body, moved.body):
        assert (after.x, after.y) == pytest.approx((before.x + dx, before.y + dy))


def test_hide_and_show_a_keypoint_restores_it():
    person = standing()
    index = BODY_INDEX["right_knee"]
    hidden = set_visible(person, Part.BODY, index, False)
    assert not hidden.body[index].present
    shown = set_visible(hidden, Part.BODY, index, True)
    assert shown.body[index] == Keypoint(person.body[index].x, person.body[index].y, 1.0)


def test_edits_return_new_documents_and_leave_the_old_one_for_undo():
    doc = add_template(add_template(PoseDocument(512, 512), load_template("standing")), load_template("walking"))
    snapshot = doc.to_openpose_json()
    edited = doc.replace_person(0, mirror(doc.people[0])).remove_person(1)
    assert len(edited.people) == 1 and len(doc.people) == 2
    assert doc.to_openpose_json() == snapshot
    assert edited.people[0] == mirror(doc.people[0])


# --- templates, hands and faces ------------------------------------------------------------------

@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_templates_are_people_with_human_proportions(name):
    doc = load_template(name)
    assert (doc.width, doc.height) == (512, 512) and len(doc.people) == 1
    person = doc.people[0]
    for k in person.body:
        assert not k.present or (0 <= k.x < 512 and 0 <= k.y < 512)
    assert joint(person, "nose")[1] < joint(person, "neck")[1] < joint(person, "right_hip")[1]
    torso = math.dist(joint(person, "neck"), joint(person, "right_hip"))
    for a, b in (("right_hip", "right_knee"), ("left_knee", "left_ankle"), ("right_shoulder", "right_elbow"),
                 ("left_elbow", "left_wrist")):
        assert 0.4 < math.dist(joint(person, a), joint(person, b)) / torso < 0.9, (a, b)
    assert pixels(render(doc)).any(axis=2).mean() > 0.005


def test_a_template_is_fitted_into_the_canvas():
    small = add_template(PoseDocument(256, 384), load_template("standing"))
    wide = add_template(PoseDocument(1024, 512), load_template("t-pose"))
    source = standing()
    person = small.people[0]
    assert math.dist(joint(person, "neck"), joint(person, "right_ankle")) == pytest.approx(
        0.5 * math.dist(joint(source, "neck"), joint(source, "right_ankle")))
    assert all(0 <= x < 256 and 0 <= y < 384 for x, y in person.present_points())
    assert center(wide.people[0])[0] == pytest.approx(512, abs=1)


@pytest.mark.parametrize("side, wrist, elbow", [(Part.RIGHT_HAND, "right_wrist", "right_elbow"),
                                                 (Part.LEFT_HAND, "left_wrist", "left_elbow")])
def test_added_hand_sits_on_the_wrist_sized_by_the_forearm(side, wrist, elbow):
    person = rotate(scale(load_template("t-pose").people[0], 0.7), 20)
    fitted = fit_hand(person, side, load_template("hand").people[0])
    hand = fitted.points(side)
    assert (hand[0].x, hand[0].y) == pytest.approx(joint(person, wrist))
    forearm = math.dist(joint(person, elbow), joint(person, wrist))
    middle_tip = (hand[12].x, hand[12].y)
    assert 0.6 < math.dist(middle_tip, joint(person, wrist)) / forearm < 0.9
    turn = heading(joint(person, wrist), middle_tip) - heading(joint(person, elbow), joint(person, wrist))
    assert abs((turn + 180) % 360 - 180) < 15  # the fingers carry on along the forearm
    assert without_part(fitted, side).points(side) is None


def test_left_and_right_hands_have_their_thumbs_on_opposite_sides():
    person = standing()
    hand = load_template("hand").people[0]
    right = fit_hand(person, Part.RIGHT_HAND, hand).right_hand
    left = fit_hand(person, Part.LEFT_HAND, hand).left_hand
    # Hanging arms, facing the viewer: both thumbs point away from the body.
    assert right[4].x < right[20].x and left[4].x > left[20].x


def test_added_face_sits_on_the_head_sized_and_tilted_by_the_ears():
    person = rotate(scale(standing(), 2.0, about=(256, 80)), 30, about=(256, 80))
    face = fit_face(person, load_template("face").people[0]).face
    assert (face[30].x, face[30].y) == pytest.approx(joint(person, "nose"))  # nose tip on the nose
    ears = joint(person, "right_ear"), joint(person, "left_ear")
    jaw = (face[0].x, face[0].y), (face[16].x, face[16].y)
    assert 0.8 < math.dist(*jaw) / math.dist(*ears) < 1.1
    assert heading(*jaw) == pytest.approx(heading(*ears))


# --- CLI ----------------------------------------------------------------------------------------

def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), out=out, err=err), out.getvalue(), err.getvalue()


def test_easel_pose_render_writes_the_control_image(tmp_path):
    target = tmp_path / "pose.png"
    code, out, err = run("pose", "render", str(DATA / "two_people.json"), str(target))
    assert code == 0, err
    assert out.strip() == str(target)
    assert np.array_equal(pixels(Image.open(target)), pixels(render(load("two_people.json"))))


def test_easel_pose_render_at_another_width_keeps_the_aspect(tmp_path):
    target = tmp_path / "small.png"
    code, _, err = run("pose", "render", str(DATA / "two_people.json"), str(target), "--width", "384")
    assert code == 0, err
    assert Image.open(target).size == (384, 256)


def test_easel_pose_render_explains_a_missing_file(tmp_path):
    code, _, err = run("pose", "render", str(tmp_path / "nope.json"), str(tmp_path / "out.png"))
    assert code == 1 and "does not exist" in err
    assert not (tmp_path / "out.png").exists()


def test_hidden_people_are_left_out_of_the_control_image():
    from core.pose import render, with_hidden

    doc = PoseDocument.from_openpose_json(json.loads((DATA / "two_people.json").read_text()))
    shown_alone = dataclasses.replace(doc, people=doc.people[:1])
    hidden = doc.replace_person(1, with_hidden(doc.people[1], True))
    assert np.array_equal(np.asarray(render(hidden)), np.asarray(render(shown_alone)))
    assert PoseDocument.from_openpose_json(hidden.to_openpose_json()).people[1] == hidden.people[1]

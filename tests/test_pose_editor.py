"""The pose editor: joints and people follow the pointer exactly at any zoom, handles scale and turn about
the centre, every edit is one undo step, and the panel's people, parts and files act on the canvas.
The pose model itself (operations, JSON, rendering) is tested in test_pose.py."""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw, ImageFilter  # noqa: E402
from PySide6.QtCore import QEvent, QPointF, QRectF, Qt  # noqa: E402
from PySide6.QtGui import QColor, QImage, QMouseEvent  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from core.pose import BODY_INDEX, Part, PoseDocument, render  # noqa: E402
from core.pose_ops import center, translate  # noqa: E402
from core.pose import with_hidden  # noqa: E402
from desktop.pose_canvas import HIT_RADIUS, KeypointRef, PoseCanvas  # noqa: E402
from desktop.pose_editor import PoseEditor  # noqa: E402
from desktop.pose_panel import FileDialogs  # noqa: E402

LEFT = Qt.MouseButton.LeftButton
NO_KEYS = Qt.KeyboardModifier.NoModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
CTRL = Qt.KeyboardModifier.ControlModifier
SIZE = 512


class Answers:
    """File dialogs that answer with the paths a test sets, as a person would pick them."""

    def __init__(self) -> None:
        self.open_path = ""
        self.save_path = ""

    def dialogs(self) -> FileDialogs:
        return FileDialogs(open_file=lambda parent, title, filters: self.open_path,
                           save_file=lambda parent, title, suggested, filters: self.save_path)


@pytest.fixture
def answers() -> Answers:
    return Answers()


@pytest.fixture
def editor(qtbot, answers):
    widget = PoseEditor(dialogs=answers.dialogs())
    qtbot.addWidget(widget)
    widget.resize(1000, 700)
    with qtbot.waitExposed(widget):
        widget.show()
    widget.set_document(PoseDocument(SIZE, SIZE))
    return widget


def with_template(editor: PoseEditor, *names: str) -> PoseEditor:
    for name in names:
        editor.panel.add_template(name)
    editor.canvas.set_zoom(1.0)
    editor.canvas.centerOn(SIZE / 2, SIZE / 2)
    return editor


def send_mouse(canvas: PoseCanvas, kind: QEvent.Type, position: QPointF, button=LEFT, modifiers=NO_KEYS) -> None:
    held = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseButtonRelease else button
    moving = kind == QEvent.Type.MouseMove
    event = QMouseEvent(kind, position, canvas.viewport().mapToGlobal(position),
                        Qt.MouseButton.NoButton if moving else button, held, modifiers)
    QApplication.sendEvent(canvas.viewport(), event)


def drag(canvas: PoseCanvas, start: QPointF, end: QPointF, steps: int = 6, modifiers=NO_KEYS) -> None:
    """Press at `start` (viewport), move there in `steps` steps, release: as a hand on a mouse would."""
    send_mouse(canvas, QEvent.Type.MouseButtonPress, start, modifiers=modifiers)
    for step in range(1, steps + 1):
        send_mouse(canvas, QEvent.Type.MouseMove, start + (end - start) * (step / steps), modifiers=modifiers)
    send_mouse(canvas, QEvent.Type.MouseButtonRelease, end, modifiers=modifiers)


def click(canvas: PoseCanvas, position: QPointF) -> None:
    send_mouse(canvas, QEvent.Type.MouseButtonPress, position)
    send_mouse(canvas, QEvent.Type.MouseButtonRelease, position)


def joint_spot(canvas: PoseCanvas, person: int, name: str) -> QPointF:
    point = canvas.document.people[person].body[BODY_INDEX[name]]
    return canvas.view_point(point.x, point.y)


def body_xy(document: PoseDocument, person: int = 0) -> np.ndarray:
    return np.array([(k.x, k.y) for k in document.people[person].body])


def shown_color(canvas: PoseCanvas, spot: QPointF) -> QColor:
    QApplication.processEvents()
    return canvas.viewport().grab().toImage().pixelColor(spot.toPoint())


def highlighted_pixels(canvas: PoseCanvas, area: QRectF) -> int:
    """How many pixels in `area` (viewport) show the selection colour."""
    QApplication.processEvents()
    shot = canvas.viewport().grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    pixels = np.frombuffer(shot.constBits(), np.uint8).reshape(shot.height(), shot.bytesPerLine())
    pixels = pixels[:, :shot.width() * 3].reshape(shot.height(), shot.width(), 3).astype(int)
    box = area.toAlignedRect().intersected(shot.rect())
    patch = pixels[box.top():box.bottom() + 1, box.left():box.right() + 1]
    color = canvas.selection_color()
    target = np.array([color.red(), color.green(), color.blue()])
    return int(np.count_nonzero(np.abs(patch - target).sum(axis=2) < 24))


# --- dragging ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("zoom, ratio", [(1.0, 1.0), (2.0, 1.0), (1.0, 2.0), (2.0, 2.0)])
def test_a_dragged_joint_moves_by_the_same_distance_in_image_pixels_at_any_zoom(editor, monkeypatch, zoom, ratio):
    """Zoom counts device pixels per image pixel: at zoom 2 a 30 px move in the image is 60 device pixels
    (60 logical pixels on a 1x screen, 30 on a 2x Retina one). The joint stays under the pointer."""
    canvas = with_template(editor, "standing").canvas
    monkeypatch.setattr(canvas, "devicePixelRatioF", lambda: ratio)
    canvas.set_zoom(zoom)
    screen = 30 * zoom / ratio
    elbow = canvas.document.people[0].body[BODY_INDEX["left_elbow"]]
    canvas.centerOn(elbow.x, elbow.y)
    before = body_xy(canvas.document)
    start = joint_spot(canvas, 0, "left_elbow")
    drag(canvas, start, start + QPointF(screen, -screen))
    after = body_xy(canvas.document)
    moved = after - before
    elbow_index = BODY_INDEX["left_elbow"]
    assert moved[elbow_index] == pytest.approx((30, -30), abs=1e-9)
    assert np.all(np.delete(moved, elbow_index, axis=0) == 0)  # nothing else moved
    assert joint_spot(canvas, 0, "left_elbow") == start + QPointF(screen, -screen)


@pytest.mark.parametrize("grab", ["limb", "inside"])
def test_dragging_a_person_by_the_body_moves_all_its_keypoints_and_no_one_else(editor, grab):
    canvas = with_template(editor, "standing", "t-pose").canvas
    body = canvas.document.people[0].body
    hip, knee, neck = (body[BODY_INDEX[name]] for name in ("right_hip", "right_knee", "neck"))
    if grab == "limb":  # the middle of the right thigh
        start = canvas.view_point((hip.x + knee.x) / 2, (hip.y + knee.y) / 2)
    else:  # the belly: inside the person's frame, clear of joints and limbs
        start = canvas.view_point(neck.x, (neck.y + hip.y) / 2 + 10)
    assert canvas.hit_at(start).kind == "person"
    before, other = canvas.document, canvas.document.people[1]
    drag(canvas, start, start + QPointF(40, 25))
    moved = body_xy(canvas.document) - body_xy(before)
    assert moved == pytest.approx(np.tile([40, 25], (18, 1)), abs=1e-9)
    assert canvas.document.people[1] == other
    assert canvas.selected_person == 0


@pytest.mark.parametrize("zoom, ratio", [(0.5, 1.0), (1.0, 1.0), (4.0, 1.0), (1.0, 2.0)])
def test_joints_are_grabbed_within_the_same_screen_distance_at_any_zoom(editor, monkeypatch, zoom, ratio):
    canvas = with_template(editor, "t-pose").canvas
    monkeypatch.setattr(canvas, "devicePixelRatioF", lambda: ratio)
    canvas.set_zoom(zoom)
    wrist = canvas.document.people[0].body[BODY_INDEX["right_wrist"]]  # the left-most point of a T-pose
    canvas.centerOn(wrist.x, wrist.y)
    start = joint_spot(canvas, 0, "right_wrist")
    before = canvas.document
    drag(canvas, start - QPointF(HIT_RADIUS + 15, 0), start + QPointF(-HIT_RADIUS - 15, 40))
    assert canvas.document == before  # outside the radius and the person's frame: a pan, not an edit
    canvas.centerOn(wrist.x, wrist.y)
    start = joint_spot(canvas, 0, "right_wrist")
    drag(canvas, start - QPointF(HIT_RADIUS - 2, 0), start + QPointF(-HIT_RADIUS + 2, 40))
    moved = body_xy(canvas.document) - body_xy(before)
    assert moved[BODY_INDEX["right_wrist"]] == pytest.approx((0, 40 * ratio / zoom))
    assert np.count_nonzero(moved.any(axis=1)) == 1


def test_the_corner_handle_scales_the_person_about_its_centre(editor):
    canvas = with_template(editor, "standing").canvas
    canvas.select_person(0)
    before = canvas.document.people[0]
    cx, cy = center(before)
    pivot = canvas.view_point(cx, cy)
    corner = canvas.handles(0)["bottom-right"]
    assert canvas.hit_at(corner).kind == "scale"
    drag(canvas, corner, pivot + (corner - pivot) * 1.5)
    after = canvas.document.people[0]
    assert center(after) == pytest.approx((cx, cy))
    expected = [(cx + (k.x - cx) * 1.5, cy + (k.y - cy) * 1.5) for k in before.body]
    assert np.array([(k.x, k.y) for k in after.body]) == pytest.approx(np.array(expected))


def test_the_rotate_handle_turns_the_person_about_its_centre(editor):
    canvas = with_template(editor, "standing").canvas
    canvas.select_person(0)
    cx, cy = center(canvas.document.people[0])
    pivot = canvas.view_point(cx, cy)
    handle = canvas.handles(0)["rotate"]
    reach = (handle - pivot).manhattanLength()
    drag(canvas, handle, pivot + QPointF(reach, 0), steps=12)  # a quarter turn clockwise: head to the right
    after = canvas.document.people[0]
    nose, ankle = after.body[BODY_INDEX["nose"]], after.body[BODY_INDEX["left_ankle"]]
    assert nose.x > cx + 100 and abs(nose.y - cy) < 40
    assert ankle.x < cx - 100
    assert center(after) == pytest.approx((cx, cy), abs=1.0)


def test_limb_lengths_stay_when_locked(editor):
    canvas = with_template(editor, "standing").canvas
    editor.panel.keep_lengths_box.click()
    body = canvas.document.people[0].body
    shoulder, elbow, wrist = (body[BODY_INDEX[f"left_{n}"]] for n in ("shoulder", "elbow", "wrist"))
    start = joint_spot(canvas, 0, "left_elbow")
    drag(canvas, start, start + QPointF(60, -10))
    moved = canvas.document.people[0].body
    new_elbow, new_wrist = moved[BODY_INDEX["left_elbow"]], moved[BODY_INDEX["left_wrist"]]
    length = math.dist((shoulder.x, shoulder.y), (elbow.x, elbow.y))
    assert math.dist((shoulder.x, shoulder.y), (new_elbow.x, new_elbow.y)) == pytest.approx(length)
    assert new_elbow.x > elbow.x + 20  # it did swing towards the pointer
    assert (new_wrist.x - wrist.x, new_wrist.y - wrist.y) == pytest.approx((new_elbow.x - elbow.x,
                                                                            new_elbow.y - elbow.y))


def test_the_right_click_menu_hides_a_joint_and_shows_it_again(editor):
    canvas = with_template(editor, "standing").canvas
    image_before = editor.control_image().tobytes()
    elbow = joint_spot(canvas, 0, "left_elbow")
    menu = canvas.context_menu(canvas.hit_at(elbow))
    next(action for action in menu.actions() if action.text() == "Hide left elbow").trigger()
    assert not canvas.document.people[0].body[BODY_INDEX["left_elbow"]].present
    assert editor.control_image().tobytes() != image_before  # the elbow and its limbs are gone
    hit = canvas.hit_at(elbow)
    assert hit is None or hit.kind != "keypoint"  # a hidden joint cannot be grabbed
    menu = canvas.context_menu(canvas.hit_at(joint_spot(canvas, 0, "left_shoulder")))
    shown = next(action.menu() for action in menu.actions() if action.text() == "Show joint")
    next(action for action in shown.actions() if action.text() == "left elbow").trigger()
    assert editor.control_image().tobytes() == image_before  # back where it was


# --- undo, keys --------------------------------------------------------------------------------------------

def test_each_drag_is_one_undo_step_and_redo_reapplies_it(editor, qtbot):
    canvas = with_template(editor, "standing").canvas
    original = canvas.document
    changes: list[PoseDocument] = []
    canvas.pose_changed.connect(changes.append)
    start = joint_spot(canvas, 0, "right_knee")
    drag(canvas, start, start + QPointF(-25, 12), steps=15)
    after_joint = canvas.document
    start = joint_spot(canvas, 0, "right_knee") + QPointF(0, -30)  # on the thigh
    drag(canvas, start, start + QPointF(50, 0), steps=15)
    after_person = canvas.document
    assert changes == [after_joint, after_person]  # once per drag, not per pointer move
    canvas.setFocus()
    QTest.keyClick(canvas, Qt.Key.Key_Z, CTRL)
    assert canvas.document == after_joint
    QTest.keyClick(canvas, Qt.Key.Key_Z, CTRL)
    assert canvas.document == original
    QTest.keyClick(canvas, Qt.Key.Key_Z, CTRL | SHIFT)
    assert canvas.document == after_joint
    QTest.keyClick(canvas, Qt.Key.Key_Y, CTRL)
    assert canvas.document == after_person
    assert not editor.panel.redo_button.isEnabled()
    editor.panel.undo_button.click()
    assert canvas.document == after_joint


def test_arrows_nudge_the_selected_joint_or_person_and_shift_nudges_ten_pixels(editor):
    canvas = with_template(editor, "standing").canvas
    original = canvas.document
    click(canvas, joint_spot(canvas, 0, "nose"))
    assert canvas.selection.keypoint is not None
    canvas.setFocus()
    QTest.keyClick(canvas, Qt.Key.Key_Right)
    QTest.keyClick(canvas, Qt.Key.Key_Down, SHIFT)
    moved = body_xy(canvas.document) - body_xy(original)
    assert moved[BODY_INDEX["nose"]] == pytest.approx((1, 10))
    assert np.count_nonzero(moved.any(axis=1)) == 1
    QTest.keyClick(canvas, Qt.Key.Key_Escape)
    canvas.select_person(0)
    QTest.keyClick(canvas, Qt.Key.Key_Left, SHIFT)
    moved_again = body_xy(canvas.document) - body_xy(original)
    assert moved_again - moved == pytest.approx(np.tile([-10, 0], (18, 1)))
    for _ in range(3):
        QTest.keyClick(canvas, Qt.Key.Key_Z, CTRL)
    assert canvas.document == original


def test_delete_removes_the_selected_person_and_undo_brings_it_back(editor):
    canvas = with_template(editor, "standing", "walking").canvas
    original = canvas.document
    canvas.select_person(0)
    canvas.setFocus()
    QTest.keyClick(canvas, Qt.Key.Key_Delete)
    assert canvas.document.people == original.people[1:]
    assert editor.panel.people_list.count() == 1
    QTest.keyClick(canvas, Qt.Key.Key_Z, CTRL)
    assert canvas.document == original
    assert canvas.selected_person == 0


# --- the panel ---------------------------------------------------------------------------------------------

def test_selecting_a_person_in_the_list_highlights_it_on_the_canvas(editor, qtbot):
    canvas = with_template(editor, "standing", "walking").canvas
    canvas.edit_person(1, lambda person: translate(person, 80, 0))  # frames side by side, not overlapping
    canvas.select_person(None)
    people = editor.panel.people_list
    assert people.count() == 2
    frames = [canvas.frame(index).adjusted(-6, -40, 6, 6) for index in (0, 1)]  # with the rotate handle
    assert highlighted_pixels(canvas, frames[0]) == highlighted_pixels(canvas, frames[1]) == 0
    for row in (1, 0):
        qtbot.mouseClick(people.viewport(), LEFT, pos=people.visualItemRect(people.item(row)).center())
        assert canvas.selected_person == row
        assert highlighted_pixels(canvas, frames[row]) > 200  # its frame and handles
        assert highlighted_pixels(canvas, frames[1 - row]) == 0


def test_a_person_hidden_in_the_list_is_left_out_of_the_control_image(editor):
    editor = with_template(editor, "standing", "walking")
    document = editor.document
    assert editor.control_image().tobytes() == render(document).tobytes()
    editor.panel.people_list.item(1).setCheckState(Qt.CheckState.Unchecked)
    assert editor.control_image().tobytes() == render(PoseDocument(SIZE, SIZE, document.people[:1])).tobytes()
    assert editor.document.people[1] == with_hidden(document.people[1], True)  # kept, only hidden
    editor.canvas.undo()
    assert editor.control_image().tobytes() == render(document).tobytes()


def test_export_then_import_through_the_panel_gives_back_the_same_people(editor, answers, tmp_path):
    editor = with_template(editor, "standing", "sitting")
    editor.canvas.select_person(1)
    editor.panel.set_part(Part.FACE, True)
    editor.panel.people_list.item(0).setCheckState(Qt.CheckState.Unchecked)
    exported = editor.document
    answers.save_path = str(tmp_path / "pose.json")
    editor.panel.export_button.click()
    written = json.loads((tmp_path / "pose.json").read_text(encoding="utf-8"))
    assert (written["canvas_width"], written["canvas_height"]) == (SIZE, SIZE)
    assert len(written["people"]) == 2 and len(written["people"][1]["face_keypoints_2d"]) == 70 * 3
    editor.canvas.delete_person(0)
    answers.open_path = str(tmp_path / "pose.json")
    editor.panel.import_button.click()
    assert editor.document == exported
    assert editor.panel.people_list.item(0).checkState() == Qt.CheckState.Unchecked
    editor.canvas.undo()
    assert len(editor.document.people) == 1  # importing is one undo step too


def test_a_file_that_is_not_a_pose_is_reported_and_changes_nothing(editor, answers, tmp_path):
    editor = with_template(editor, "standing")
    before = editor.document
    (tmp_path / "notes.json").write_text('{"people": "none"}', encoding="utf-8")
    answers.open_path = str(tmp_path / "notes.json")
    editor.panel.import_button.click()
    assert editor.document == before
    assert editor.panel.message_label.isVisibleTo(editor) and "not an OpenPose" in editor.panel.message_label.text()


def test_save_png_writes_the_control_image(editor, answers, tmp_path):
    editor = with_template(editor, "arms-up")
    answers.save_path = str(tmp_path / "control.png")
    editor.panel.save_png_button.click()
    with Image.open(tmp_path / "control.png") as saved:
        assert saved.size == (SIZE, SIZE)
        assert saved.convert("RGB").tobytes() == editor.control_image().tobytes()


def test_the_hand_toggle_adds_a_hand_fitted_to_the_wrist_and_takes_it_away(editor, qtbot):
    canvas = with_template(editor, "standing").canvas
    box = editor.panel.part_boxes[Part.LEFT_HAND]
    canvas.select_person(None)
    assert not box.isEnabled()  # no one to give a hand to
    canvas.select_person(0)
    qtbot.mouseClick(box, LEFT)
    person = canvas.document.people[0]
    wrist, elbow = person.body[BODY_INDEX["left_wrist"]], person.body[BODY_INDEX["left_elbow"]]
    hand = person.left_hand
    assert hand is not None and person.right_hand is None
    assert (hand[0].x, hand[0].y) == pytest.approx((wrist.x, wrist.y))
    fingertip = hand[12]  # the middle finger carries on from the forearm
    assert math.dist((fingertip.x, fingertip.y), (elbow.x, elbow.y)) > math.dist((wrist.x, wrist.y),
                                                                                 (elbow.x, elbow.y))
    assert box.isChecked() and "left hand" in editor.panel.people_list.item(0).text()
    qtbot.mouseClick(box, LEFT)
    assert canvas.document.people[0].left_hand is None


def test_a_hand_needs_its_wrist_and_says_so(editor):
    canvas = with_template(editor, "standing").canvas
    canvas.select_person(0)
    canvas.set_keypoint_shown(KeypointRef(0, Part.BODY, BODY_INDEX["right_wrist"]), False)
    before = canvas.document
    editor.panel.part_boxes[Part.RIGHT_HAND].click()
    assert canvas.document == before
    assert not editor.panel.part_boxes[Part.RIGHT_HAND].isChecked()
    assert "wrist" in editor.panel.message_label.text()


def test_duplicate_adds_a_selected_copy_beside_the_original(editor):
    canvas = with_template(editor, "walking").canvas
    canvas.select_person(0)
    editor.panel.duplicate_button.click()
    assert len(canvas.document.people) == 2 and canvas.selected_person == 1
    first, copy = canvas.document.people
    offsets = {(b.x - a.x, b.y - a.y) for a, b in zip(first.body, copy.body) if a.present}
    assert len(offsets) == 1 and next(iter(offsets))[0] > 0


def test_templates_added_twice_do_not_land_on_top_of_each_other(editor):
    canvas = with_template(editor, "standing", "standing").canvas
    first, second = (center(person) for person in canvas.document.people)
    assert abs(first[0] - second[0]) > 50


def test_the_canvas_follows_the_generation_size_and_keeps_people_in_proportion(editor):
    editor = with_template(editor, "standing")
    original = editor.document
    height = np.ptp(body_xy(original)[:, 1])
    editor.set_canvas_size(768, 512)
    assert (editor.document.width, editor.document.height) == (768, 512)
    assert np.ptp(body_xy(editor.document)[:, 1]) == pytest.approx(height)
    assert center(editor.document.people[0])[0] == pytest.approx(center(original.people[0])[0] + 128)
    assert editor.control_image().size == (768, 512)
    assert editor.panel.size_label.text().startswith("768 × 512")
    editor.set_canvas_size(1024, 1024)
    assert np.ptp(body_xy(editor.document)[:, 1]) == pytest.approx(2 * height)
    editor.set_canvas_size(SIZE, SIZE)
    assert body_xy(editor.document) == pytest.approx(body_xy(original))
    editor.canvas.undo()  # the history was refitted too: undo never brings back another canvas size
    assert (editor.document.width, editor.document.height) == (SIZE, SIZE)


def test_the_opacity_slider_fades_the_reference_image_in_and_out(editor, answers, tmp_path):
    canvas = editor.canvas
    Image.new("RGB", (64, 64), "white").save(tmp_path / "photo.png")
    answers.open_path = str(tmp_path / "photo.png")
    editor.panel.open_reference_button.click()
    spot = canvas.view_point(SIZE / 2, SIZE / 2)
    levels = {}
    for value in (0, 50, 100):
        editor.panel.opacity_slider.setValue(value)
        levels[value] = shown_color(canvas, spot).lightness()
    assert levels[0] == 0 and levels[100] == 255 and 100 < levels[50] < 155
    assert editor.control_image().getextrema() == ((0, 0), (0, 0), (0, 0))  # never part of the control image
    editor.panel.clear_reference_button.click()
    assert shown_color(canvas, spot).lightness() == 0


# --- the screenshot ------------------------------------------------------------------------------------------

def reference_photo(document: PoseDocument) -> Image.Image:
    """A studio shot drawn from shapes: a figure standing in each person's pose, to trace over."""
    width, height = document.width, document.height
    rows = np.linspace(0.0, 1.0, height)[:, None, None]
    wall = (1 - rows) * np.array([126, 134, 146]) + rows * np.array([72, 76, 86])
    picture = Image.fromarray(np.broadcast_to(wall, (height, width, 3)).astype(np.uint8))
    draw = ImageDraw.Draw(picture)
    draw.rectangle((0, round(height * 0.86), width, height), fill=(96, 82, 70))
    draw.ellipse((width * 0.08, height * 0.1, width * 0.5, height * 0.95), fill=(156, 162, 176))
    for person, tone in zip(document.people, ((46, 42, 52), (64, 48, 44))):
        body = person.body
        for a, b in ((1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (1, 11), (8, 11), (8, 9),
                     (9, 10), (11, 12), (12, 13), (2, 8), (5, 11)):
            draw.line([(body[a].x, body[a].y), (body[b].x, body[b].y)], fill=tone, width=26, joint="curve")
        for joint in body[:14]:
            draw.ellipse((joint.x - 13, joint.y - 13, joint.x + 13, joint.y + 13), fill=tone)
        nose = body[BODY_INDEX["nose"]]
        draw.ellipse((nose.x - 26, nose.y - 34, nose.x + 22, nose.y + 22), fill=tone)
    return picture.filter(ImageFilter.GaussianBlur(2.5))


def render_screenshot(path: Path) -> None:
    """The pose editor with two people over a reference photo, one selected: docs/screenshots/pose-editor.png."""
    app = QApplication.instance() or QApplication([])
    editor = PoseEditor()
    editor.resize(1280, 800)
    editor.show()
    editor.set_canvas_size(640, 512)
    editor.panel.add_template("standing")
    editor.panel.add_template("walking")
    canvas = editor.canvas
    canvas.select_person(1)
    editor.panel.set_part(Part.RIGHT_HAND, True)
    editor.panel.set_part(Part.FACE, True)
    canvas.set_reference(reference_photo(canvas.document))
    editor.panel.opacity_slider.setValue(55)
    app.processEvents()
    canvas.fit()
    app.processEvents()
    wrist = canvas.document.people[1].body[BODY_INDEX["left_wrist"]]
    send_mouse(canvas, QEvent.Type.MouseMove, canvas.view_point(wrist.x, wrist.y), Qt.MouseButton.NoButton)
    app.processEvents()
    path.parent.mkdir(parents=True, exist_ok=True)
    editor.grab().save(str(path))
    editor.close()
    editor.deleteLater()


def test_the_screenshot_shows_two_people_over_the_reference(qtbot, tmp_path):
    render_screenshot(tmp_path / "pose-editor.png")
    shot = QImage(str(tmp_path / "pose-editor.png"))
    assert (shot.width(), shot.height()) == (1280, 800)
    colors = {shot.pixelColor(x, y).name() for x in range(0, 1000, 10) for y in range(0, 800, 10)}
    assert len(colors) > 100  # a photo and skeletons, not an empty canvas


if __name__ == "__main__":
    os.environ.setdefault("QT_QPA_PLATFORM",
                          f"offscreen:configfile={Path(__file__).with_name('offscreen-screen.json')}")
    default = Path(__file__).resolve().parent.parent / "docs" / "screenshots" / "pose-editor.png"
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    render_screenshot(target)
    print(target)

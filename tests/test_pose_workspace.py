"""The Pose tab's workspace: detect people in a photo into the editor, and hand requests the pose."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("PySide6")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from PySide6.QtWidgets import QPushButton  # noqa: E402

from core.openpose_body import BodyPoseNet  # noqa: E402
from core.pose import PoseDocument  # noqa: E402
from desktop.background import BackgroundTasks  # noqa: E402
from desktop.notifications import NotificationArea  # noqa: E402
from desktop.pose_workspace import PoseWorkspace  # noqa: E402
from tests.test_pose_detect import SKELETON, _synthetic_maps  # noqa: E402


@pytest.fixture
def workspace(qtbot, tmp_path):
    widget = PoseWorkspace(tmp_path / "models", tmp_path / "inputs", BackgroundTasks(), NotificationArea(),
                           choose_file=lambda parent, caption, filter_text: "")
    qtbot.addWidget(widget)
    widget.editor.set_canvas_size(512, 512)
    return widget


def test_detected_people_land_in_the_editor_fitted_to_the_canvas(qtbot, workspace, tmp_path, monkeypatch):
    weights = tmp_path / "models" / "annotators" / "body_pose_model.pth"
    weights.parent.mkdir(parents=True)
    torch.save(BodyPoseNet().state_dict(), weights)  # random weights of the real architecture
    person = [(60 + dx, 15 + dy) for dx, dy in SKELETON]
    monkeypatch.setattr("core.pose_detect.network_maps", lambda net, image, device: _synthetic_maps([person], 200, 120))
    photo = tmp_path / "photo.png"
    Image.new("RGB", (120, 200)).save(photo)
    found = []
    workspace.info.connect(found.append)
    workspace.detect(photo)
    qtbot.waitUntil(lambda: bool(found), timeout=60_000)
    assert found == ["Found 1 person(s); drag the joints to adjust."]
    [detected] = workspace.editor.document.people
    # The 120x200 photo fits the 512x512 canvas at 2.56x, centred sideways.
    nose_x, nose_y = person[0]
    assert detected.body[0].x == pytest.approx(256 - 60 * 2.56 + nose_x * 2.56)
    assert detected.body[0].y == pytest.approx(nose_y * 2.56)
    workspace.editor.canvas.undo()
    assert workspace.editor.document.people == ()


def test_without_weights_it_asks_for_them_and_runs_nothing(qtbot, workspace, tmp_path):
    needed = []
    workspace.weights_needed.connect(needed.append)
    workspace.detect(tmp_path / "photo.png")
    assert needed == [tmp_path / "photo.png"]  # the window offers Download / Choose file… for this photo
    workspace.choose_weights(tmp_path / "photo.png")  # the dialog is cancelled: nothing happens
    assert workspace.detect_button.isEnabled() and workspace.status.text() == ""


def test_a_request_gets_the_pose_as_openpose_json_written_once(workspace):
    first = workspace.pose_file()
    assert first == workspace.pose_file()
    doc = PoseDocument.from_openpose_json(json.loads(first.read_text()))
    assert doc == PoseDocument.from_openpose_json(workspace.editor.document.to_openpose_json())


def test_the_hands_and_face_choices_are_given_to_the_window_and_restored(qtbot, workspace, tmp_path):
    assert workspace.detect_options() == {"hands": False, "face": False}
    with qtbot.waitSignal(workspace.options_changed):
        workspace.hands_box.setChecked(True)
    assert workspace.detect_options() == {"hands": True, "face": False}
    later = PoseWorkspace(tmp_path / "models", tmp_path / "inputs", BackgroundTasks(), NotificationArea())
    qtbot.addWidget(later)
    later.restore_detect_options({"hands": True, "face": True})
    assert later.detect_options() == {"hands": True, "face": True}
    later.restore_detect_options("damaged")  # a damaged entry leaves the boxes as they are
    assert later.detect_options() == {"hands": True, "face": True}


def test_hands_without_their_weights_offer_that_file_only(qtbot, tmp_path):
    notifications = NotificationArea()
    widget = PoseWorkspace(tmp_path / "models", tmp_path / "inputs", BackgroundTasks(), notifications)
    qtbot.addWidget(widget)
    (tmp_path / "models" / "annotators").mkdir(parents=True)
    (tmp_path / "models" / "annotators" / "body_pose_model.pth").write_bytes(b"x")  # present: not offered
    widget.hands_box.setChecked(True)
    needed = []
    widget.weights_needed.connect(needed.append)
    widget.detect(tmp_path / "photo.png")
    assert needed == [tmp_path / "photo.png"] and widget.detect_button.isEnabled()
    offer = notifications.messages()[-1].message_label.text()
    assert "hand_pose_model.pth (about 147 MB)" in offer and "body_pose_model.pth" not in offer
    assert "facenet.pth" not in offer


def test_missing_hand_and_face_weights_download_one_after_another_then_detect(qtbot, tmp_path, monkeypatch):
    import io

    from core.openpose_cpm import CpmNet
    from tests.fake_hub import FakeHub
    from tests.test_openpose_hands_face import _blob

    notifications = NotificationArea()
    with FakeHub() as hub:
        widget = PoseWorkspace(tmp_path / "models", tmp_path / "inputs", BackgroundTasks(), notifications,
                               endpoint=lambda: hub.endpoint)
        qtbot.addWidget(widget)
        widget.editor.set_canvas_size(120, 200)
        body = tmp_path / "models" / "annotators" / "body_pose_model.pth"
        body.parent.mkdir(parents=True)
        torch.save({k: v.half() for k, v in BodyPoseNet().state_dict().items()}, body)
        for name, maps in (("hand_pose_model.pth", 22), ("facenet.pth", 71)):
            buffer = io.BytesIO()
            torch.save({k: v.half() for k, v in CpmNet(maps).state_dict().items()}, buffer)
            hub.add_file("lllyasviel/Annotators", name, buffer.getvalue())
        person = [(60 + dx, 15 + dy) for dx, dy in SKELETON]
        monkeypatch.setattr("core.pose_detect.network_maps",
                            lambda net, image, device: _synthetic_maps([person], 200, 120))

        def hand_maps(net, crop, device):  # keypoint 0 in the middle of the hand's box
            maps = np.zeros((128, 128, 22))
            maps[:, :, 0] = _blob(128, 64, 64)
            return maps

        monkeypatch.setattr("core.pose_detect.hand_maps", hand_maps)
        monkeypatch.setattr("core.pose_detect.face_maps", lambda net, crop, device: np.zeros((71, *crop.shape[:2])))
        photo = tmp_path / "photo.png"
        Image.new("RGB", (120, 200)).save(photo)
        widget.hands_box.setChecked(True)
        widget.face_box.setChecked(True)
        found = []
        widget.info.connect(found.append)

        widget.detect(photo)
        offer = notifications.messages()[-1]
        assert "hand_pose_model.pth" in offer.message_label.text() and "facenet.pth" in offer.message_label.text()
        assert hub.gets() == []  # asked, not fetched
        next(b for b in offer.findChildren(QPushButton) if b.text() == "Download").click()
        qtbot.waitUntil(lambda: bool(found), timeout=120_000)

    folder = tmp_path / "models" / "annotators"
    assert (folder / "hand_pose_model.pth").is_file() and (folder / "facenet.pth").is_file()
    [detected] = widget.editor.document.people
    assert detected.left_hand is not None and detected.right_hand is not None and detected.face is None
    assert detected.left_hand[0].present and not detected.left_hand[1].present

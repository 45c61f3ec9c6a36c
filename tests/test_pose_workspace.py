"""The Pose tab's workspace: detect people in a photo into the editor, and hand requests the pose."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("PySide6")

import torch  # noqa: E402
from PIL import Image  # noqa: E402

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

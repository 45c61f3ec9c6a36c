"""The Pose / ControlNet mode's centre: the pose editor, "Detect pose from image" (bodies, and with the
Hands and Face boxes ticked, hands and faces), and the pose a request gets (its JSON, written once per
distinct pose)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from core.annotator_weights import AnnotatorFile
from core.content_files import write_by_content
from core.pose import PoseDocument
from desktop.background import BackgroundTasks
from desktop.notifications import NotificationArea
from desktop.pose_editor import PoseEditor

if TYPE_CHECKING:  # torch comes with it: imported when detection runs, not at start
    from core.pose_detect import DetectorWeights

ChooseFile = Callable[[QWidget, str, str], str]  # (parent, caption, filter) -> path, "" when cancelled


def _choose_file(parent: QWidget, caption: str, filter_text: str) -> str:
    return QFileDialog.getOpenFileName(parent, caption, "", filter_text)[0]


class PoseWorkspace(QWidget):
    problem = Signal(str, str)  # message, hint
    info = Signal(str)
    weights_needed = Signal(object)  # the photo waiting for detection, once the weights are there
    options_changed = Signal()  # Hands or Face ticked or unticked (for the window to remember)

    def __init__(self, models_dir: Path, inputs_dir: Path, tasks: BackgroundTasks,
                 notifications: NotificationArea, endpoint: Callable[[], str | None] = lambda: None,
                 choose_file: ChooseFile = _choose_file) -> None:
        super().__init__()
        self._models_dir = models_dir
        self._inputs_dir = inputs_dir
        self._tasks = tasks
        self._notifications = notifications
        self._endpoint = endpoint
        self._choose_file = choose_file
        self._download: Any = None
        self._chosen: dict[str, Path] = {}  # weights files the person pointed to, by published name
        self.editor = PoseEditor()
        self.detect_button = QPushButton("Detect pose from image…", clicked=self.choose_photo)
        self.detect_button.setToolTip("Find the people in a photo with the OpenPose body model (with Hands and "
                                      "Face ticked, their hands and faces too) and edit them here")
        self.hands_box = QCheckBox("Hands")
        self.hands_box.setToolTip("Also find each person's hands (the OpenPose hand model, hand_pose_model.pth; "
                                  "slow without a GPU)")
        self.face_box = QCheckBox("Face")
        self.face_box.setToolTip("Also find each person's face (the OpenPose face model, facenet.pth)")
        for box in (self.hands_box, self.face_box):
            box.toggled.connect(lambda _checked: self.options_changed.emit())
        self.status = QLabel()
        header = QHBoxLayout()
        header.addWidget(self.detect_button)
        header.addWidget(self.hands_box)
        header.addWidget(self.face_box)
        header.addWidget(self.status, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self.editor, 1)

    def save_document(self, path: Path) -> None:
        from core.pose import write_pose_file

        try:
            write_pose_file(self.editor.document, path)
        except OSError as error:
            self.problem.emit(f"The pose could not be saved in {path.parent}: {error.strerror or error}", "")

    def restore_document(self, path: Path) -> None:
        """The pose from the last session; a damaged file is reported and set aside."""
        from core.pose import read_pose_file

        if not path.is_file():
            return
        try:
            self.editor.set_document(read_pose_file(path))
        except Exception as error:  # noqa: BLE001 - the app must start whatever the file holds
            path.replace(path.with_suffix(".broken.json"))
            self.problem.emit(f"The last pose could not be restored: {error}", "It was kept as pose.broken.json.")

    def pose_file(self) -> Path:
        """The editor's pose as OpenPose JSON for a request; the same pose is written once."""
        data = json.dumps(self.editor.document.to_openpose_json(), sort_keys=True).encode()
        return write_by_content(self._inputs_dir, "pose", ".json", data)

    def choose_photo(self) -> None:
        photo = self._choose_file(self, "Detect the pose in a photo", "Images (*.png *.jpg *.jpeg *.webp)")
        if photo:
            self.detect(Path(photo))

    def detect_options(self) -> dict[str, bool]:
        """The Hands and Face choices, for the window to keep between runs."""
        return {"hands": self.hands_box.isChecked(), "face": self.face_box.isChecked()}

    def restore_detect_options(self, options: object) -> None:
        """The choices `detect_options` gave last time; anything else (a damaged entry) is ignored."""
        if isinstance(options, dict):
            self.hands_box.setChecked(options.get("hands") is True)
            self.face_box.setChecked(options.get("face") is True)

    def detect(self, photo: Path, weights: Path | None = None) -> None:
        """Runs the detector off the main thread; the people found replace the editor's (one undo step).

        `weights`: a body weights file to use instead of the one found. Hands and Face, when ticked, need
        their own files: a missing one is offered for download, as the body's is, and nothing runs meanwhile.
        """
        from core.annotator_weights import BODY_POSE
        from core.pose_detect import missing_files

        if weights is not None:
            self._chosen[BODY_POSE.filename] = weights
        found = self._weights()
        hands, face = self.hands_box.isChecked(), self.face_box.isChecked()
        missing = missing_files(found, hands, face)
        if missing:
            self.weights_needed.emit(photo)
            self._offer_weights(photo, missing)
            return
        self.detect_button.setEnabled(False)
        extras = " and ".join(name for name, on in (("hands", hands), ("faces", face)) if on)
        self.status.setText(f"Detecting people{' with their ' + extras if extras else ''} in {photo.name}…")
        self._tasks.run(lambda: _detect(photo, found, hands, face), self._on_detected, self._on_failed)

    def _weights(self) -> DetectorWeights:
        from core.annotator_weights import BODY_POSE, FACE_POSE, HAND_POSE
        from core.pose_detect import DetectorWeights, find_detector_weights

        found = find_detector_weights(self._models_dir)
        chosen = [self._chosen.get(file.filename) for file in (BODY_POSE, HAND_POSE, FACE_POSE)]
        return DetectorWeights(chosen[0] or found.body, chosen[1] or found.hand, chosen[2] or found.face)

    def _offer_weights(self, photo: Path, missing: list[AnnotatorFile]) -> None:
        """Nothing is downloaded without a click: say what is needed and offer both ways to get it."""
        from core.annotator_weights import BODY_POSE
        from core.pose_detect import weights_folder

        names = ", ".join(f"{file.filename} ({_size_text(file)})" for file in missing)
        networks = " and ".join(_network_name(file) for file in missing)
        message = self._notifications.show_warning(
            f"Detecting poses needs {networks}: {names}.",
            f"Download {'them' if len(missing) > 1 else 'it'} from {missing[0].repo_id} into "
            f"{weights_folder(self._models_dir)}, or choose the file if you have it (an A1111 ControlNet install "
            "keeps them in extensions/sd-webui-controlnet/annotator/downloads/openpose)."
            + ("" if missing == [BODY_POSE] else " Hands and Face are optional: untick them to detect bodies only."))
        message.add_action("Download", lambda: self.download_weights(photo, missing), closes=True)
        message.add_action("Choose file…", lambda: self.choose_weights(photo, missing[0]), closes=True)

    def download_weights(self, photo: Path, files: list[AnnotatorFile] | None = None) -> None:
        """The published weights through the first-run downloader (resumable, checked), one file after
        another, then detection."""
        from core.annotator_weights import BODY_POSE
        from core.pose_detect import weights_download, weights_folder
        from desktop.download_worker import DownloadTask

        files = list(files or [BODY_POSE])
        file, rest = files[0], files[1:]
        task = DownloadTask(weights_download(file), weights_folder(self._models_dir), self._endpoint())
        self._download = task
        task.progress.connect(lambda done, total: self.status.setText(
            f"Downloading {file.filename}: {done / 1e6:.0f} of {total / 1e6:.0f} MB"))
        task.finished.connect(lambda path: self.download_weights(photo, rest) if rest else self.detect(photo))
        task.failed.connect(self._download_failed)
        task.start()

    def _download_failed(self, message: str, hint: str, details: str) -> None:
        self.status.setText("")
        self._notifications.show_error(message, hint, details)

    def shutdown(self) -> None:
        """Stop a running download (it resumes next time) and wait for its thread."""
        if self._download is not None and self._download.is_running():
            self._download.cancel()
            self._download.wait()

    def choose_weights(self, photo: Path, file: AnnotatorFile | None = None) -> None:
        """The person points to the weights file themselves (kept for this session), then detection runs."""
        from core.annotator_weights import BODY_POSE

        file = file or BODY_POSE
        chosen = self._choose_file(self, f"Choose {file.filename}", "OpenPose weights (*.pth *.safetensors)")
        if chosen:
            self._chosen[file.filename] = Path(chosen)
            self.detect(photo)

    def _on_detected(self, found: PoseDocument) -> None:
        self.detect_button.setEnabled(True)
        self.status.setText("")
        canvas = self.editor.canvas
        document = canvas.document
        canvas.edit(dataclasses.replace(document, people=fitted_people(found, document.width, document.height)))
        self.info.emit(f"Found {len(found.people)} person(s); drag the joints to adjust." if found.people
                       else "No people were found in that image.")

    def _on_failed(self, error: Exception) -> None:
        self.detect_button.setEnabled(True)
        self.status.setText("")
        self.problem.emit(getattr(error, "message", str(error)), getattr(error, "hint", ""))


def fitted_people(found: PoseDocument, width: int, height: int) -> tuple:
    """The people found in a photo, scaled to fit inside a `width` x `height` canvas and centred."""
    factor = min(width / found.width, height / found.height)
    left, top = (width - found.width * factor) / 2, (height - found.height * factor) / 2
    return tuple(person.map_points(lambda x, y: (left + x * factor, top + y * factor)) for person in found.people)


def _size_text(file: AnnotatorFile) -> str:
    """The download's size: published, or (hand, face: not pinned) the network's float32 parameters."""
    from core import openpose_face, openpose_hand

    if file.size is not None:
        return f"{file.size / 1e6:.0f} MB"
    parameters = {"hand_pose_model.pth": openpose_hand.PARAMETER_COUNT,
                  "facenet.pth": openpose_face.PARAMETER_COUNT}.get(file.filename)
    return f"about {parameters * 4 / 1e6:.0f} MB" if parameters else "size unknown"


def _network_name(file: AnnotatorFile) -> str:
    return file.network.replace(" network", " model")  # "the OpenPose hand model"


def _detect(photo: Path, weights: DetectorWeights, hands: bool, face: bool) -> PoseDocument:
    from PIL import Image

    from core.pose_detect import detect_pose

    with Image.open(photo) as image:
        return detect_pose(image.convert("RGB"), weights, hands=hands, face=face)

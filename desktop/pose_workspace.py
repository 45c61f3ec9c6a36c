"""The Pose / ControlNet mode's centre: the pose editor, "Detect pose from image", and the pose a request
gets (its JSON, written once per distinct pose)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from core.content_files import write_by_content
from core.pose import PoseDocument
from desktop.background import BackgroundTasks
from desktop.notifications import NotificationArea
from desktop.pose_editor import PoseEditor

ChooseFile = Callable[[QWidget, str, str], str]  # (parent, caption, filter) -> path, "" when cancelled


def _choose_file(parent: QWidget, caption: str, filter_text: str) -> str:
    return QFileDialog.getOpenFileName(parent, caption, "", filter_text)[0]


class PoseWorkspace(QWidget):
    problem = Signal(str, str)  # message, hint
    info = Signal(str)
    weights_needed = Signal(object)  # the photo waiting for detection, once the weights are there

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
        self.editor = PoseEditor()
        self.detect_button = QPushButton("Detect pose from image…", clicked=self.choose_photo)
        self.detect_button.setToolTip("Find the people in a photo with the OpenPose body model and edit them here")
        self.status = QLabel()
        header = QHBoxLayout()
        header.addWidget(self.detect_button)
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

    def detect(self, photo: Path, weights: Path | None = None) -> None:
        """Runs the detector off the main thread; the people found replace the editor's (one undo step)."""
        from core.pose_detect import find_weights

        weights = weights or find_weights(self._models_dir)
        if weights is None:
            self.weights_needed.emit(photo)
            self._offer_weights(photo)
            return
        self.detect_button.setEnabled(False)
        self.status.setText(f"Detecting people in {photo.name}…")
        self._tasks.run(lambda: _detect(photo, weights), self._on_detected, self._on_failed)

    def _offer_weights(self, photo: Path) -> None:
        """Nothing is downloaded without a click: say what is needed and offer both ways to get it."""
        from core.pose_detect import DEFAULT_WEIGHTS_NAME, detector_download, weights_folder

        spec = detector_download()
        message = self._notifications.show_warning(
            f"Detecting poses needs the OpenPose body model, {DEFAULT_WEIGHTS_NAME} ({spec.size / 1e6:.0f} MB).",
            f"Download it from {spec.repo_id} into {weights_folder(self._models_dir)}, or choose the file if you "
            "have it (an A1111 ControlNet install keeps it in extensions/sd-webui-controlnet/annotator/downloads/"
            "openpose).")
        message.add_action("Download", lambda: self.download_weights(photo), closes=True)
        message.add_action("Choose file…", lambda: self.choose_weights(photo), closes=True)

    def download_weights(self, photo: Path) -> None:
        """The published weights through the first-run downloader (resumable, checked), then detection."""
        from core.pose_detect import detector_download, weights_folder
        from desktop.download_worker import DownloadTask

        task = DownloadTask(detector_download(), weights_folder(self._models_dir), self._endpoint())
        self._download = task
        task.progress.connect(lambda done, total: self.status.setText(
            f"Downloading the pose detector: {done / 1e6:.0f} of {total / 1e6:.0f} MB"))
        task.finished.connect(lambda path: self.detect(photo, Path(path)))
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

    def choose_weights(self, photo: Path) -> None:
        """The person points to the weights file themselves, then detection runs."""
        from core.pose_detect import DEFAULT_WEIGHTS_NAME

        chosen = self._choose_file(self, f"Choose {DEFAULT_WEIGHTS_NAME}", "OpenPose weights (*.pth *.safetensors)")
        if chosen:
            self.detect(photo, Path(chosen))

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


def _detect(photo: Path, weights: Path) -> PoseDocument:
    from PIL import Image

    from core.pose_detect import detect_pose

    with Image.open(photo) as image:
        return detect_pose(image.convert("RGB"), weights)

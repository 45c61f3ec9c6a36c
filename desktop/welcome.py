"""The first-run view, shown while there is no checkpoint: use A1111/ComfyUI models, add a file, or download one."""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Callable

from PySide6.QtCore import Signal
from PySide6.QtGui import QPalette, QShowEvent
from PySide6.QtWidgets import (
    QFileDialog, QFrame, QHBoxLayout, QLabel, QProgressBar, QPushButton, QSizePolicy, QVBoxLayout, QWidget,
)

from core.downloads import RecommendedModel, partial_path, recommend_model
from core.first_run import STABILITY_MATRIX, FoundInstall, find_model_installs
from core.system_memory import gpu_memory_bytes, system_memory_bytes
from core.models.scan import install_layout
from core.paths import AppPaths
from core.settings import Settings
from desktop.download_worker import DownloadTask

FolderChooser = Callable[[QWidget, str], str]  # (parent, caption) -> folder, "" when cancelled
FileChooser = Callable[[QWidget, str, str], str]  # (parent, caption, filter) -> file, "" when cancelled
TaskFactory = Callable[[RecommendedModel, Path, "str | None"], DownloadTask]

CHECKPOINT_FILTER = "Checkpoints (*.safetensors *.ckpt);;All files (*)"
DEFAULT_HUB = "huggingface.co"
KIND_NAMES = {"a1111": "AUTOMATIC1111", "comfyui": "ComfyUI", STABILITY_MATRIX: "Stability Matrix"}
UNKNOWN_MEMORY = 8 * 1024**3  # when the system will not say: the smaller model, which runs everywhere


def choose_folder_with_dialog(parent: QWidget, caption: str) -> str:
    return QFileDialog.getExistingDirectory(parent, caption)


def choose_file_with_dialog(parent: QWidget, caption: str, file_filter: str) -> str:
    return QFileDialog.getOpenFileName(parent, caption, "", file_filter)[0]


def format_size(size: int) -> str:
    """Decimal units, as Finder, Explorer and Hugging Face show file sizes."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


def install_text(install: FoundInstall) -> str:
    count = "1 checkpoint" if install.checkpoints == 1 else f"{install.checkpoints} checkpoints"
    return f"{KIND_NAMES.get(install.kind, install.kind)} — {install.path}\n{count}"


CARD_MAX_WIDTH = 680


def _card(title: str, text: str) -> tuple[QFrame, QVBoxLayout]:
    card = QFrame(frameShape=QFrame.Shape.StyledPanel, autoFillBackground=True)
    card.setBackgroundRole(QPalette.ColorRole.Base)
    card.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
    heading = QLabel(title)
    font = heading.font()
    font.setBold(True)
    font.setPointSizeF(font.pointSizeF() * 1.2)
    heading.setFont(font)
    layout = QVBoxLayout(card)
    layout.addWidget(heading)
    if text:
        layout.addWidget(QLabel(text, wordWrap=True))
    return card, layout


class WelcomeView(QWidget):
    """Three ways to a first checkpoint. Nothing is downloaded until the Download button is clicked.

    `memory_bytes`/`system` default to this computer's; `home` and `recommendation` replace the user's home
    folder and the recommended model (tests).
    The window calls `shutdown()` before it closes, to stop a running download.
    """

    install_root_chosen = Signal(object)  # Path of an A1111 or ComfyUI folder
    model_folder_chosen = Signal(object)  # Path of a plain folder of model files
    checkpoint_file_chosen = Signal(object)  # Path of a .safetensors/.ckpt file; the window copies or links it
    download_finished = Signal(object)  # Path of the downloaded, verified checkpoint

    def __init__(self, paths: AppPaths, settings: Settings, memory_bytes: int | None = None,
                 system: str | None = None, home: Path | None = None,
                 recommendation: RecommendedModel | None = None,
                 choose_folder: FolderChooser = choose_folder_with_dialog,
                 choose_file: FileChooser = choose_file_with_dialog, task_factory: TaskFactory = DownloadTask,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._endpoint = settings.hub_endpoint or None
        self._home = home
        self._choose_folder = choose_folder
        self._choose_file = choose_file
        self._task_factory = task_factory
        self._task: DownloadTask | None = None
        self._memory_bytes = memory_bytes
        self._system = system or platform.system()
        self.recommendation = recommendation
        self.installs: list[FoundInstall] = []
        self.use_buttons: list[QPushButton] = []
        self._dest = paths.models_dir / "checkpoints"
        self._done = 0  # bytes on disk from an unfinished download
        self._prepared = False
        self._build()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        self.prepare()
        super().showEvent(event)

    def prepare(self) -> None:
        """Look for installs and size up this computer when first shown, not while the window is built:
        the window always makes this view, and most starts never show it."""
        if self._prepared:
            return
        self._prepared = True
        if self.recommendation is None:
            self.recommendation = _recommendation(self._memory_bytes, self._system)
        self._show_recommendation(self.recommendation)
        self.refresh_installs()

    def _build(self) -> None:
        heading = QLabel("Welcome to Easel")
        font = heading.font()
        font.setPointSizeF(font.pointSizeF() * 1.8)
        font.setBold(True)
        heading.setFont(font)
        intro = QLabel("Easel needs a Stable Diffusion checkpoint to make images. Choose one way to get started:",
                       wordWrap=True)
        cards = QVBoxLayout()  # stacked: readable beside the side panels of a laptop-sized window
        for card in (self._installs_card(), self._file_card(), self._download_card()):
            card.setMaximumWidth(CARD_MAX_WIDTH)
            cards.addWidget(card)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(32, 32, 32, 32)
        layout.addWidget(heading)
        layout.addWidget(intro)
        layout.addSpacing(12)
        layout.addLayout(cards)
        layout.addStretch()

    def _installs_card(self) -> QFrame:
        card, layout = _card("Use my A1111 or ComfyUI models",
                             "Easel uses their checkpoints, LoRAs and VAEs where they are, without copying.")
        self._installs_layout = QVBoxLayout()
        layout.addLayout(self._installs_layout)
        self.choose_folder_button = QPushButton("Choose a folder…", clicked=self.choose_folder)
        layout.addWidget(self.choose_folder_button)
        return card

    def _file_card(self) -> QFrame:
        card, layout = _card("Add a checkpoint file",
                             "A .safetensors or .ckpt file you downloaded, for example from civitai.")
        self.add_file_button = QPushButton("Add a checkpoint file…", clicked=self.choose_checkpoint_file)
        layout.addWidget(self.add_file_button)
        return card

    def _download_card(self) -> QFrame:
        card, layout = _card("Download a recommended model", "")
        self.model_title_label = QLabel(wordWrap=True)
        self.why_label = QLabel(wordWrap=True)
        self.endpoint_label = QLabel(wordWrap=True)
        self.set_hub_endpoint(self._endpoint or "")
        self.endpoint_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.download_button = QPushButton("Download", clicked=self.start_download)
        self.cancel_button = QPushButton("Cancel", clicked=self.cancel_download, visible=False)
        self.download_bar = QProgressBar(visible=False)
        self.download_status = QLabel(wordWrap=True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.download_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch()
        for widget in (self.model_title_label, self.why_label, self.endpoint_label):
            layout.addWidget(widget)
        layout.addLayout(buttons)
        layout.addWidget(self.download_bar)
        layout.addWidget(self.download_status)
        return card

    def _show_recommendation(self, model: RecommendedModel) -> None:
        self.model_title_label.setText(f"{model.title} — {format_size(model.size)}")
        self.why_label.setText(model.why)
        self._done = _file_size(partial_path(model, self._dest))
        if self._done:
            self.download_button.setText("Resume download")
            self.download_status.setText(self._resume_text())

    def set_hub_endpoint(self, endpoint: str) -> None:
        """Settings changed the mirror; the next download uses it ("" = huggingface.co)."""
        self._endpoint = endpoint or None
        self.endpoint_label.setText(f"From {endpoint or DEFAULT_HUB} (change it in Settings).")

    # --- card 1: installs and folders

    def refresh_installs(self) -> None:
        """List the A1111/ComfyUI installs found in the usual places, each with a Use button."""
        while self._installs_layout.count():
            widget = self._installs_layout.takeAt(0).widget()
            if widget is not None:
                widget.deleteLater()
        self.installs = find_model_installs(self._home)
        self.use_buttons = []
        for install in self.installs:
            self._installs_layout.addWidget(self._install_row(install))
        if not self.installs:
            self._installs_layout.addWidget(QLabel("None found in the usual places.", wordWrap=True))

    def _install_row(self, install: FoundInstall) -> QWidget:
        row = QWidget()
        label = QLabel(install_text(install), wordWrap=True)
        button = QPushButton("Use", clicked=lambda: self._use(install))
        button.setAccessibleName(f"Use {install.path}")
        self.use_buttons.append(button)
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(label, 1)
        layout.addWidget(button)
        return row

    def _use(self, install: FoundInstall) -> None:
        # Stability Matrix's shared Models folder is a plain model folder, not an install root.
        signal = self.model_folder_chosen if install.kind == STABILITY_MATRIX else self.install_root_chosen
        signal.emit(install.path)

    def choose_folder(self) -> None:
        """An A1111/ComfyUI folder is used as an install; any other folder as a model folder."""
        chosen = self._choose_folder(self, "Choose your A1111 or ComfyUI folder, or a folder of models")
        if not chosen:
            return
        folder = Path(chosen)
        try:
            is_install = install_layout(folder) is not None
        except OSError:
            is_install = False
        (self.install_root_chosen if is_install else self.model_folder_chosen).emit(folder)

    # --- card 2: one file

    def choose_checkpoint_file(self) -> None:
        chosen = self._choose_file(self, "Add a checkpoint file", CHECKPOINT_FILTER)
        if chosen:
            self.checkpoint_file_chosen.emit(Path(chosen))

    # --- card 3: download

    def start_download(self) -> None:
        self.prepare()
        if self._task is not None or self.recommendation is None:
            return
        self._task = self._task_factory(self.recommendation, self._dest, self._endpoint)
        self._task.progress.connect(self._on_progress)
        self._task.finished.connect(self._on_finished)
        self._task.failed.connect(self._on_failed)
        self._task.cancelled.connect(self._on_cancelled)
        self._set_downloading(True)
        self.download_status.setText(f"Connecting to {self._endpoint or DEFAULT_HUB}…")
        self._task.start()

    def cancel_download(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self.cancel_button.setEnabled(False)
            self.download_status.setText("Stopping…")

    def is_downloading(self) -> bool:
        return self._task is not None

    def shutdown(self) -> None:
        """Stop a running download and wait for its thread (before the window closes)."""
        if self._task is not None:
            self._task.cancel()
            self._task.wait()

    def _on_progress(self, done: int, total: int) -> None:
        self._done = done
        self.download_bar.setRange(0, 1000)
        self.download_bar.setValue(round(1000 * done / total) if total else 0)
        self.download_status.setText(f"{format_size(done)} of {format_size(total)}")

    def _on_finished(self, path: Path) -> None:
        self._end_task(can_resume=False)
        self.download_bar.setValue(self.download_bar.maximum())
        self.download_button.setEnabled(False)
        self.download_status.setText(f"Downloaded and checked: {Path(path).name}")
        self.download_finished.emit(Path(path))

    def _on_failed(self, message: str, hint: str, details: str) -> None:
        self._end_task(can_resume=True)
        self.download_status.setText(" ".join(part for part in (message, hint, self._resume_text()) if part))
        self.download_status.setToolTip(details)

    def _on_cancelled(self) -> None:
        self._end_task(can_resume=True)
        self.download_status.setText(f"Download stopped. {self._resume_text()}")

    def _resume_text(self) -> str:
        return f"{format_size(self._done)} is kept: Resume continues from there." if self._done else ""

    def _end_task(self, can_resume: bool) -> None:
        self._task = None
        self._set_downloading(False)
        if can_resume and self._done:
            self.download_button.setText("Resume download")

    def _set_downloading(self, downloading: bool) -> None:
        self.download_button.setEnabled(not downloading)
        self.cancel_button.setVisible(downloading)
        self.cancel_button.setEnabled(downloading)
        self.download_bar.setVisible(True)
        if downloading:
            self.download_bar.setRange(0, 0)  # busy until the first bytes arrive


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _recommendation(memory_bytes: int | None, system: str) -> RecommendedModel:
    memory = memory_bytes or system_memory_bytes(system) or UNKNOWN_MEMORY
    gpu = None if system == "Darwin" else gpu_memory_bytes()  # a Mac's GPU shares its memory
    return recommend_model(memory, system, gpu)

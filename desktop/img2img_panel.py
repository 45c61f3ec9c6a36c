"""The Img2img mode's inputs: the init image (file, gallery, clipboard or drop) and the denoising strength."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication, QImage, QPixmap
from PySide6.QtWidgets import (
    QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget,
)

from core.request import RESIZE_MODES

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp)"
THUMBNAIL_SIZE = 160

ChooseFile = Callable[[QWidget], str]


def _ask_for_image(parent: QWidget) -> str:
    return QFileDialog.getOpenFileName(parent, "Choose an init image", "", IMAGE_FILTER)[0]


class Img2imgPanel(QWidget):
    changed = Signal()
    problem = Signal(str)  # something the person should be told, e.g. an empty clipboard

    def __init__(self, scratch_dir: Path, choose_file: ChooseFile = _ask_for_image) -> None:
        super().__init__()
        self._scratch_dir = scratch_dir
        self._choose_file = choose_file
        self._path: Path | None = None
        self.preview = QLabel("No init image.\nDrop one here, choose a file,\nor send one from the gallery.",
                              alignment=Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumSize(THUMBNAIL_SIZE, THUMBNAIL_SIZE)
        self.preview.setFrameShape(QLabel.Shape.StyledPanel)
        self.strength_spin = QDoubleSpinBox(minimum=0.0, maximum=1.0, singleStep=0.05, value=0.75, decimals=2)
        self.strength_spin.setToolTip("How much of the init image is repainted: 0 keeps it, 1 replaces it.")
        self.strength_spin.valueChanged.connect(self.changed)
        self.resize_box = QComboBox()
        for mode in RESIZE_MODES:
            self.resize_box.addItem(mode.capitalize(), mode)
        self.resize_box.setToolTip("When the init image's shape differs from the size: stretch it, crop it to "
                                   "the shape, or fit it and fill the rest (A1111's resize modes)")
        self.resize_box.currentIndexChanged.connect(self.changed)
        buttons = QHBoxLayout()
        for label, slot in (("Choose…", self.choose), ("Paste", self.paste), ("Clear", self.clear)):
            button = QPushButton(label)
            button.clicked.connect(slot)
            buttons.addWidget(button)
        form = QFormLayout()
        form.addRow("Denoising strength", self.strength_spin)
        form.addRow("Resize mode", self.resize_box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.preview)
        layout.addLayout(buttons)
        layout.addLayout(form)
        self.setAcceptDrops(True)

    @property
    def init_image(self) -> Path | None:
        return self._path

    @property
    def strength(self) -> float:
        return self.strength_spin.value()

    @property
    def resize_mode(self) -> str:
        return self.resize_box.currentData()

    def set_init_image(self, path: Path | None) -> None:
        self._path = Path(path) if path else None
        if self._path is None:
            self.preview.setPixmap(QPixmap())
            self.preview.setText("No init image.")
        else:
            pixmap = QPixmap(str(self._path))
            self.preview.setPixmap(pixmap.scaled(THUMBNAIL_SIZE, THUMBNAIL_SIZE, Qt.AspectRatioMode.KeepAspectRatio,
                                                 Qt.TransformationMode.SmoothTransformation))
            self.preview.setToolTip(str(self._path))
        self.changed.emit()

    def choose(self) -> None:
        chosen = self._choose_file(self)
        if chosen:
            self.set_init_image(Path(chosen))

    def clear(self) -> None:
        self.set_init_image(None)

    def paste(self) -> None:
        image: QImage = QGuiApplication.clipboard().image()
        if image.isNull():
            self.problem.emit("The clipboard holds no image. Copy an image first, then paste it here.")
            return
        self._scratch_dir.mkdir(parents=True, exist_ok=True)
        path = self._scratch_dir / f"clipboard-{time.strftime('%Y%m%d-%H%M%S')}.png"
        if not image.save(str(path), "PNG"):
            self.problem.emit(f"Could not keep the pasted image in {self._scratch_dir}.")
            return
        self.set_init_image(path)

    def dragEnterEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        for url in event.mimeData().urls():
            if url.isLocalFile():
                self.set_init_image(Path(url.toLocalFile()))
                event.acceptProposedAction()
                return

"""The Inpaint mode's centre: the mask canvas with its toolbar, the saved canvas document, the inputs a
request gets.

The document (image and mask) is saved to `home/canvas/` a moment after every change and comes back
after a crash or restart. Each request gets its own copies of the image and mask, named by content, so
painting on while requests wait in the queue never changes what they will generate.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QFrame, QScrollArea, QVBoxLayout, QWidget

from core.content_files import write_by_content
from core.images import save_png_atomically
from core.mask import MaskDocument
from desktop.mask_canvas import MaskCanvas
from desktop.mask_toolbar import MaskToolbar

AUTOSAVE_DELAY_MS = 500


class InpaintWorkspace(QWidget):
    problem = Signal(str)

    def __init__(self, canvas_dir: Path, inputs_dir: Path) -> None:
        super().__init__()
        self._canvas_dir = canvas_dir
        self._inputs_dir = inputs_dir
        self.canvas = MaskCanvas()
        self.toolbar = MaskToolbar(self.canvas)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self._scrolling(self.toolbar))
        layout.addWidget(self.canvas, 1)
        self._autosave = QTimer(self, singleShot=True, interval=AUTOSAVE_DELAY_MS, timeout=self.save_document)
        self.canvas.mask_changed.connect(self._autosave.start)

    @staticmethod
    def _scrolling(toolbar: QWidget) -> QScrollArea:
        """The toolbar scrolls sideways in a narrow window instead of widening it."""
        area = QScrollArea(widgetResizable=True, frameShape=QFrame.Shape.NoFrame)
        area.setWidget(toolbar)
        area.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        area.setFixedHeight(toolbar.sizeHint().height() + area.horizontalScrollBar().sizeHint().height())
        return area

    @property
    def image_file(self) -> Path:
        return self._canvas_dir / "image.png"

    @property
    def mask_file(self) -> Path:
        return self._canvas_dir / "mask.png"

    def has_image(self) -> bool:
        return self.canvas.document is not None and self.canvas.has_image()

    def open_image(self, path: Path) -> bool:
        """Paint on `path` (a copy is kept with the document); the mask starts empty."""
        try:
            with Image.open(path) as image:
                image = image.convert("RGB")
        except (OSError, ValueError) as error:
            self.problem.emit(f"{Path(path).name} could not be opened for inpainting: {error}")
            return False
        self._start_with(image)
        return True

    def new_blank_canvas(self, width: int, height: int) -> None:
        """A black canvas to scribble on: the strokes, white on black, become a ControlNet unit's drawing."""
        self._start_with(Image.new("RGB", (width, height), "black"))

    def _start_with(self, image: Image.Image) -> None:
        self.canvas.clear()
        self.canvas.set_image(image)
        self._canvas_dir.mkdir(parents=True, exist_ok=True)
        save_png_atomically(image, self.image_file, None, None)
        self.save_document()

    def save_document(self) -> None:
        document = self.canvas.document
        if document is None or not self.image_file.is_file():
            return
        try:
            document.export_png(self.mask_file)
        except OSError as error:
            self.problem.emit(f"The mask could not be saved in {self._canvas_dir}: {error.strerror or error}")

    def restore_document(self) -> None:
        """The image and mask from the last session, if there are any."""
        if not self.image_file.is_file():
            return
        try:
            with Image.open(self.image_file) as stored:
                image = stored.convert("RGB")
            mask = None
            if self.mask_file.is_file():
                with Image.open(self.mask_file) as stored:
                    mask = np.array(stored.convert("L"))
            self.canvas.set_image(image)
            self.canvas.set_document(MaskDocument(image.width, image.height, mask))  # undo starts here
        except Exception as error:  # noqa: BLE001 - a damaged autosave must not stop the app from starting
            self.problem.emit(f"The last inpainting canvas could not be restored: {error}")
            shutil.rmtree(self._canvas_dir, ignore_errors=True)

    def request_inputs(self) -> tuple[Path, Path] | None:
        """Copies of the image and the mask for one request, or None when there is no image."""
        document = self.canvas.document
        if document is None or not self.image_file.is_file():
            return None
        image = write_by_content(self._inputs_dir, "image", ".png", self.image_file.read_bytes())
        mask = write_by_content(self._inputs_dir, "mask", ".png", _png_bytes(np.asarray(document.mask)))
        return image, mask

    def drawing_file(self) -> Path | None:
        """The painted strokes alone (white on black), for a ControlNet scribble unit."""
        inputs = self.request_inputs()
        return inputs[1] if inputs else None

    def mask_is_empty(self) -> bool:
        document = self.canvas.document
        return document is None or not np.asarray(document.mask).any()



def _png_bytes(mask: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(mask, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()

"""The pose editor: the pose canvas with its panel beside it, and the control image it makes."""

from __future__ import annotations

from PIL import Image
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QScrollArea, QStyle, QWidget

from core.pose import PoseDocument, render
from desktop.pose_canvas import PoseCanvas
from desktop.pose_panel import FileDialogs, PosePanel

PANEL_WIDTH = 290


class PoseEditor(QWidget):
    """Edit OpenPose people; `pose_changed` fires with the new document once each edit is done."""

    pose_changed = Signal(object)  # PoseDocument

    def __init__(self, parent: QWidget | None = None, dialogs: FileDialogs | None = None) -> None:
        super().__init__(parent)
        self.canvas = PoseCanvas()
        self.panel = PosePanel(self.canvas, dialogs)
        scroller = QScrollArea()
        scroller.setWidget(self.panel)
        scroller.setWidgetResizable(True)
        scroller.setFrameShape(QFrame.Shape.NoFrame)
        scroller.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # Room for a vertical scroll bar too, so a short window never clips the panel's right edge.
        scrollbar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        scroller.setFixedWidth(max(PANEL_WIDTH, self.panel.minimumSizeHint().width()) + scrollbar)
        rule = QFrame()
        rule.setFrameShape(QFrame.Shape.VLine)
        rule.setFrameShadow(QFrame.Shadow.Sunken)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(rule)
        layout.addWidget(scroller)
        self.canvas.pose_changed.connect(self.pose_changed)

    @property
    def document(self) -> PoseDocument:
        return self.canvas.document

    def set_document(self, document: PoseDocument) -> None:
        """Edit `document` as it is (its canvas size included); the undo history starts afresh."""
        self.canvas.set_document(document)

    def set_canvas_size(self, width: int, height: int) -> None:
        """Follow the generation size: the people keep their place and proportions (see `refit`)."""
        self.canvas.set_canvas_size(width, height)

    def control_image(self) -> Image.Image:
        """What ControlNet receives: the people shown, drawn as the openpose annotator draws them."""
        return render(self.document)  # hidden people are left out

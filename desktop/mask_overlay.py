"""The mask drawn as a tint over the image, re-rendered one rectangle at a time while painting."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRect, QRectF
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

DEFAULT_OVERLAY_COLOR = QColor(232, 36, 64)  # a rubylith red, like Photoshop's quick mask
DEFAULT_OVERLAY_OPACITY = 0.5


def overlay_lut(color: QColor, opacity: float) -> np.ndarray:
    """Mask value (0..255) -> the premultiplied ARGB32 pixel that tints it."""
    opacity = max(0.0, min(1.0, opacity))
    alpha = np.round(np.arange(256) * opacity).astype(np.uint32)
    red, green, blue = ((channel * alpha + 127) // 255 for channel in (color.red(), color.green(), color.blue()))
    return (alpha << 24) | (red << 16) | (green << 8) | blue



class MaskOverlay(QGraphicsItem):
    """The mask as a tint over the image, re-rendered one rectangle at a time while painting."""

    def __init__(self) -> None:
        super().__init__()
        self._image = QImage()
        self._lut = overlay_lut(DEFAULT_OVERLAY_COLOR, DEFAULT_OVERLAY_OPACITY)

    def boundingRect(self) -> QRectF:
        return QRectF(self._image.rect())

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        # The whole image: the view's clip limits the work to what is exposed, and one draw call avoids
        # seams that drawing sub-rectangles with smooth scaling would leave.
        painter.drawImage(QPointF(0, 0), self._image)

    def set_tint(self, color: QColor, opacity: float) -> None:
        self._lut = overlay_lut(color, opacity)

    def show_mask(self, mask: np.ndarray, region: QRect | None = None) -> None:
        """Tint `region` (all of it when None) from `mask`; a mask of a new size resizes the overlay."""
        height, width = mask.shape[:2]
        if self._image.width() != width or self._image.height() != height:
            self.prepareGeometryChange()
            self._image = QImage(width, height, QImage.Format.Format_ARGB32_Premultiplied)
            region = None
        region = self._image.rect() if region is None else region.intersected(self._image.rect())
        if region.isEmpty():
            return
        rows = slice(region.top(), region.bottom() + 1)
        columns = slice(region.left(), region.right() + 1)
        pixels = np.frombuffer(self._image.bits(), np.uint32).reshape(height, self._image.bytesPerLine() // 4)
        pixels[rows, columns] = self._lut[mask[rows, columns]]
        self.update(QRectF(region))

"""The central image: fit, 1:1, zoom around the cursor, pan by dragging, live previews in place."""

from __future__ import annotations

from PIL import Image
from PIL.ImageQt import ImageQt
from PySide6.QtCore import QEvent, QPointF, Qt, Signal
from PySide6.QtGui import QImage, QNativeGestureEvent, QPainter, QPalette, QPixmap, QTransform, QWheelEvent
from PySide6.QtWidgets import QGraphicsPixmapItem, QGraphicsScene, QGraphicsView, QWidget

MIN_ZOOM = 0.02
MAX_ZOOM = 64.0
# Beyond this many device pixels per image pixel, show hard pixel edges (pixel peeping).
NEAREST_ABOVE_ZOOM = 2.0
# One notch of a mouse wheel (120 eighths of a degree) zooms by this factor.
ZOOM_PER_NOTCH = 1.25


def to_qimage(image: Image.Image | QImage) -> QImage:
    """A QImage that owns its pixels (ImageQt's buffer would die with the PIL image)."""
    if isinstance(image, QImage):
        return image
    mode = "RGBA" if image.mode in ("RGBA", "LA", "P", "PA") else "RGB"
    return QImage(ImageQt(image.convert(mode))).copy()


class ImageView(QGraphicsView):
    """`zoom` counts device pixels per image pixel: 1.0 shows every image pixel on one screen pixel."""

    zoom_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None, placeholder: str = "No image yet") -> None:
        super().__init__(parent)
        self._placeholder = placeholder
        self._zoom = 1.0
        self._fitting = True  # follow the window size until the person zooms
        self._item = QGraphicsPixmapItem()
        self._item.setVisible(False)
        self.setScene(QGraphicsScene(self))
        self.scene().addItem(self._item)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setBackgroundRole(QPalette.ColorRole.Window)
        self.setFrameShape(QGraphicsView.Shape.NoFrame)

    @property
    def zoom(self) -> float:
        return self._zoom

    def has_image(self) -> bool:
        return self._item.isVisible()

    def image_size(self) -> tuple[int, int] | None:
        pixmap = self._item.pixmap()
        return (pixmap.width(), pixmap.height()) if self.has_image() else None

    def set_image(self, image: Image.Image | QImage) -> None:
        """Show `image`; one of the same size (a preview, then the final image) keeps zoom and scroll."""
        pixmap = QPixmap.fromImage(to_qimage(image))
        same_size = self.has_image() and pixmap.size() == self._item.pixmap().size()
        self._item.setPixmap(pixmap)
        self._item.setVisible(True)
        if not same_size:
            self.scene().setSceneRect(self._item.boundingRect())
            self.fit()

    def clear(self) -> None:
        self._item.setPixmap(QPixmap())
        self._item.setVisible(False)
        self.scene().setSceneRect(0, 0, 0, 0)
        self.viewport().update()

    def fit(self) -> None:
        """The whole image in the view, as large as it fits."""
        self._fitting = True
        if self.has_image():
            self._set_zoom(self._fit_zoom())
            self.centerOn(self._item)

    def actual_size(self) -> None:
        """One image pixel on one device pixel (on a Retina screen the image looks half as large)."""
        self._fitting = False
        self._set_zoom(1.0)

    def zoom_by(self, factor: float, at: QPointF | None = None) -> None:
        """Multiply the zoom; the image point under `at` (a viewport position; default the centre) stays put."""
        self._fitting = False
        if at is None:
            self._set_zoom(self._zoom * factor)
            return
        scene_point = self.mapToScene(at.toPoint())
        self._set_zoom(self._zoom * factor)
        moved = self.mapFromScene(scene_point) - at.toPoint()
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + moved.x())
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + moved.y())

    def _fit_zoom(self) -> float:
        pixmap = self._item.pixmap()
        if pixmap.isNull():
            return 1.0
        area = self.viewport().size()
        scale = min(area.width() / pixmap.width(), area.height() / pixmap.height())
        return scale * self.devicePixelRatioF()

    def _set_zoom(self, zoom: float) -> None:
        zoom = max(MIN_ZOOM, min(MAX_ZOOM, zoom))
        changed = zoom != self._zoom
        self._zoom = zoom
        self._apply_transform()
        if changed:
            self.zoom_changed.emit(zoom)

    def _apply_transform(self) -> None:
        scale = self._zoom / self.devicePixelRatioF()  # the view transform works in logical pixels
        self.setTransform(QTransform.fromScale(scale, scale))
        smooth = self._zoom <= NEAREST_ABOVE_ZOOM
        self._item.setTransformationMode(
            Qt.TransformationMode.SmoothTransformation if smooth else Qt.TransformationMode.FastTransformation)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)

    def resizeEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        super().resizeEvent(event)
        if self._fitting and self.has_image():
            self._set_zoom(self._fit_zoom())

    def wheelEvent(self, event: QWheelEvent) -> None:
        """A mouse wheel zooms (as in Photoshop); a trackpad scroll pans, a trackpad pinch zooms (as in Preview).

        Ctrl/Cmd with either always zooms.
        """
        from_trackpad = not event.pixelDelta().isNull()
        zoom_modifier = event.modifiers() & Qt.KeyboardModifier.ControlModifier
        if not self.has_image() or (from_trackpad and not zoom_modifier):
            super().wheelEvent(event)
            return
        notches = event.angleDelta().y() / 120 or event.angleDelta().x() / 120
        if notches:
            self.zoom_by(ZOOM_PER_NOTCH ** notches, at=event.position())
        event.accept()

    def viewportEvent(self, event: QEvent) -> bool:
        if isinstance(event, QNativeGestureEvent) and event.gestureType() == Qt.NativeGestureType.ZoomNativeGesture:
            if self.has_image():
                self.zoom_by(1.0 + event.value(), at=event.position())
            return True
        return super().viewportEvent(event)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.DevicePixelRatioChange and self.has_image():
            # Moved to a screen with another pixel density: keep the same zoom in device pixels.
            if self._fitting:
                self._set_zoom(self._fit_zoom())
            else:
                self._apply_transform()
        return super().event(event)

    def drawForeground(self, painter: QPainter, rect) -> None:  # type: ignore[no-untyped-def]
        if self.has_image() or not self._placeholder:
            return
        painter.save()
        painter.resetTransform()
        painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
        painter.drawText(self.viewport().rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                         self._placeholder)
        painter.restore()

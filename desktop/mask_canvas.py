"""The mask canvas: paint an inpaint mask over an image as in a paint program.

The canvas is thin: it turns Qt pointer and key events into calls on a `core.mask.MaskDocument`
(strokes, selections, fill, undo) and draws the document's mask as a tinted overlay. Interpolating
between pointer events, brush shapes and undo history all live in the document.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image
from PySide6.QtCore import QEvent, QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import (QColor, QImage, QKeyEvent, QMouseEvent, QPainter, QPen, QPointingDevice, QPolygonF,
                           QTabletEvent)
from PySide6.QtWidgets import QGraphicsView, QWidget

from core.mask import Brush, MaskDocument
from core.mask_ops import Rect
from desktop.editing_view import EditingView, has_no_command_modifier
from desktop.mask_overlay import DEFAULT_OVERLAY_COLOR, DEFAULT_OVERLAY_OPACITY, MaskOverlay

TOOLS = ("brush", "eraser", "rectangle", "lasso")
MIN_BRUSH_SIZE = 1.0
MAX_BRUSH_SIZE = 1000.0
BRUSH_SIZE_STEP = 1.1  # `]` grows the brush by 10%, `[` shrinks it as much (by one pixel at least)
HARDNESS_STEP = 0.25  # Shift+] and Shift+[, as in Photoshop
_OUTLINE_CROSSHAIR_BELOW = 8.0  # screen pixels: a brush outline smaller than this gets a crosshair
_TABLET_EVENTS = (QEvent.Type.TabletPress, QEvent.Type.TabletMove, QEvent.Type.TabletRelease)
_TOOL_KEYS = {Qt.Key.Key_B: "brush", Qt.Key.Key_E: "eraser", Qt.Key.Key_M: "rectangle", Qt.Key.Key_L: "lasso"}


def pointer_spot(position: QPointF, device_pixel_ratio: float, whole_pixels: bool) -> QPointF:
    """The point a pointer at `position` (viewport, logical pixels) paints at, in the same coordinates.

    A mouse names the device pixel it is on rather than a point, so take the centre of that pixel: at
    1:1 a click then lands on the centre of the image pixel under the arrow (image pixel (i, j) covers
    [i, i+1) x [j, j+1)), and a 1 px brush paints exactly that pixel. Tablet positions are already points.
    """
    if not whole_pixels:
        return QPointF(position)
    half = 0.5 / device_pixel_ratio
    return QPointF(position.x() + half, position.y() + half)


def document_size(document: MaskDocument) -> tuple[int, int]:
    height, width = document.mask.shape[:2]
    return width, height


@dataclass
class _Gesture:
    """What a pressed button is doing: painting, panning, or dragging out a selection."""

    kind: str  # "paint", "pan", "rectangle" or "lasso"
    button: Qt.MouseButton
    erase: bool = False
    points: list[QPointF] = field(default_factory=list)  # image points; for "pan", the last viewport point


class MaskCanvas(EditingView):
    """An image with its inpaint mask (white = repaint) painted over it.

    Left button paints with the current tool; the right button, Alt, or a pen's eraser end does the
    opposite (erases with the brush, paints with the eraser, subtracts with a selection). Space+drag
    and the middle button pan; the wheel and pinch zoom about the pointer. `mask_changed` fires once a
    stroke or an operation is done, not for every pointer event.
    """

    mask_changed = Signal()
    brush_changed = Signal(object)  # Brush
    tool_changed = Signal(str)
    overlay_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, placeholder="Open an image to paint a mask on it")
        self._document: MaskDocument | None = None
        self._brush = Brush()
        self._tool = "brush"
        self._overlay_color = QColor(DEFAULT_OVERLAY_COLOR)
        self._overlay_opacity = DEFAULT_OVERLAY_OPACITY
        self._blur_radius: float | None = None
        self._gesture: _Gesture | None = None
        self._pointer: QPointF | None = None  # where the brush would land, in viewport coordinates
        self._overlay = MaskOverlay()
        self._overlay.setZValue(1)
        self.scene().addItem(self._overlay)
        self.setDragMode(QGraphicsView.DragMode.NoDrag)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.viewport().setMouseTracking(True)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self._update_pointer_feedback()

    # --- the document ---------------------------------------------------------------------------

    @property
    def document(self) -> MaskDocument | None:
        return self._document

    def set_image(self, image: Image.Image | QImage) -> None:
        """Show `image`; its mask starts empty unless the current document already has the image's size."""
        super().set_image(image)
        size = self.image_size()
        if self._document is None or document_size(self._document) != size:
            self.set_document(MaskDocument(*size))
        else:
            self._show_whole_mask()
        self._update_pointer_feedback()

    def set_document(self, document: MaskDocument) -> None:
        self._end_gesture()
        self._document = document
        self._show_whole_mask()
        self._update_pointer_feedback()
        self.mask_changed.emit()

    def clear(self) -> None:
        self._end_gesture()
        super().clear()
        self._document = None
        self._overlay.show_mask(np.zeros((0, 0), np.uint8))
        self._update_pointer_feedback()
        self.mask_changed.emit()

    # --- brush, tool, overlay ---------------------------------------------------------------------

    @property
    def brush(self) -> Brush:
        return self._brush

    def set_brush(self, brush: Brush) -> None:
        size = max(MIN_BRUSH_SIZE, min(MAX_BRUSH_SIZE, float(brush.size)))
        brush = dataclasses.replace(brush, size=size, hardness=max(0.0, min(1.0, brush.hardness)),
                                    opacity=max(0.0, min(1.0, brush.opacity)))
        if brush == self._brush:
            return
        old_outline = self._outline_rect()
        self._brush = brush
        self._update_outline(old_outline)
        self.brush_changed.emit(brush)

    def step_brush_size(self, steps: int) -> None:
        """`]` and `[`: about 10% per step, and never less than a pixel, so small brushes still change."""
        size = self._brush.size
        target = round(size * BRUSH_SIZE_STEP ** steps)
        if target == round(size):
            target = round(size) + (1 if steps > 0 else -1)
        self.set_brush(dataclasses.replace(self._brush, size=max(MIN_BRUSH_SIZE, min(MAX_BRUSH_SIZE, target))))

    def step_hardness(self, steps: int) -> None:
        hardness = round((self._brush.hardness + steps * HARDNESS_STEP) / HARDNESS_STEP) * HARDNESS_STEP
        self.set_brush(dataclasses.replace(self._brush, hardness=max(0.0, min(1.0, hardness))))

    @property
    def tool(self) -> str:
        return self._tool

    def set_tool(self, tool: str) -> None:
        if tool not in TOOLS:
            raise ValueError(f"unknown tool {tool!r}; expected one of {', '.join(TOOLS)}")
        if tool == self._tool:
            return
        self._end_gesture()
        self._tool = tool
        self._update_pointer_feedback()
        self.tool_changed.emit(tool)

    @property
    def overlay_color(self) -> QColor:
        return QColor(self._overlay_color)

    @property
    def overlay_opacity(self) -> float:
        return self._overlay_opacity

    @property
    def overlay_visible(self) -> bool:
        return self._overlay.isVisible()

    def set_overlay(self, color: QColor, opacity: float) -> None:
        self._overlay_color = QColor(color)
        self._overlay_opacity = max(0.0, min(1.0, opacity))
        self._overlay.set_tint(self._overlay_color, self._overlay_opacity)
        self._show_whole_mask()
        self.overlay_changed.emit()

    def toggle_overlay(self) -> None:
        self._overlay.setVisible(not self._overlay.isVisible())
        self.overlay_changed.emit()

    @property
    def blur_preview(self) -> float | None:
        return self._blur_radius

    def set_blur_preview(self, radius: float | None) -> None:
        """Show the mask blurred by `radius` pixels, as the model will receive it; None shows it as painted."""
        self._blur_radius = radius if radius is None else max(0.0, float(radius))
        self._show_whole_mask()

    def set_zoom(self, zoom: float) -> None:
        """Zoom about the centre of the view; `zoom` counts device pixels per image pixel."""
        self.zoom_by(zoom / self.zoom)

    # --- mask operations (each one undo step) ------------------------------------------------------

    def fill(self) -> None:
        self._edit(lambda document: document.fill())

    def clear_mask(self) -> None:
        self._edit(lambda document: document.clear())

    def invert(self) -> None:
        self._edit(lambda document: document.invert())

    def grow(self, pixels: int) -> None:
        self._edit(lambda document: document.grow(pixels))

    def shrink(self, pixels: int) -> None:
        self._edit(lambda document: document.shrink(pixels))

    def load_mask(self, path: Path | str) -> None:
        """Replace the mask with a PNG (white = repaint). Raises what the document raises for a bad file."""
        self._edit(lambda document: document.load_png(path))

    def export_mask(self, path: Path | str) -> None:
        if self._document is not None:
            self._document.export_png(path)

    def undo(self) -> None:
        if self._document is not None and self._gesture is None and self._document.undo():
            self._mask_edited()

    def redo(self) -> None:
        if self._document is not None and self._gesture is None and self._document.redo():
            self._mask_edited()

    def _edit(self, operation: Callable[[MaskDocument], object]) -> None:
        if self._document is None:
            return
        self._end_gesture()
        operation(self._document)
        self._mask_edited()

    def _mask_edited(self) -> None:
        self._show_whole_mask()
        self.mask_changed.emit()

    # --- drawing the mask ----------------------------------------------------------------------------

    def _show_whole_mask(self) -> None:
        if self._document is None:
            return
        if self._blur_radius is None:
            self._overlay.show_mask(self._document.mask)
        else:
            self._overlay.show_mask(self._document.blurred(self._blur_radius))

    def _show_stroke(self, dirty: Rect) -> None:
        # While a stroke is under way only its dirty rectangle is re-tinted, from the mask as painted
        # (in blur preview too): blurring a large mask on every pointer event would make painting lag.
        self._overlay.show_mask(self._document.mask, _dirty_region(dirty))

    # --- pointer events ------------------------------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._end_stale_gesture(event.button(), event.buttons())
        self._press(event.button(), event.position(), event.modifiers(), 1.0, whole_pixels=True)
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        self._move(event.position(), 1.0, whole_pixels=True)
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._release(event.button(), event.position(), whole_pixels=True)
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self.mousePressEvent(event)  # a quick second dab is a second press, not a special gesture

    def viewportEvent(self, event: QEvent) -> bool:
        if event.type() in _TABLET_EVENTS:
            self._tablet_event(event)  # accepted: Qt then sends no mouse events made up from the pen
            return True
        if event.type() == QEvent.Type.Leave:
            self._set_pointer(None)
        return super().viewportEvent(event)

    def _tablet_event(self, event: QTabletEvent) -> None:
        kind = event.type()
        if kind == QEvent.Type.TabletPress:
            self._end_stale_gesture(event.button(), event.buttons())
            eraser_end = event.pointerType() == QPointingDevice.PointerType.Eraser
            self._press(event.button(), event.position(), event.modifiers(), event.pressure(),
                        whole_pixels=False, eraser_end=eraser_end)
        elif kind == QEvent.Type.TabletMove:
            self._move(event.position(), event.pressure(), whole_pixels=False)
        else:
            self._release(event.button(), event.position(), whole_pixels=False)
        event.accept()

    def _end_stale_gesture(self, pressed: Qt.MouseButton, held: Qt.MouseButton) -> None:
        """Finish a gesture whose button-up never came (a dialog took it): it must not block the next one."""
        gesture = self._gesture
        if gesture is not None and (gesture.button == pressed or not held & gesture.button):
            self._end_gesture()

    def _press(self, button: Qt.MouseButton, position: QPointF, modifiers: Qt.KeyboardModifier,
               pressure: float, whole_pixels: bool, eraser_end: bool = False) -> None:
        if self._gesture is not None:
            return  # a second button while one is held
        if button == Qt.MouseButton.MiddleButton or (button == Qt.MouseButton.LeftButton and self._space_held):
            self._gesture = _Gesture("pan", button, points=[position])
            self._update_pointer_feedback()
            return
        if self._document is None or button not in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            return
        flip = button == Qt.MouseButton.RightButton or bool(modifiers & Qt.KeyboardModifier.AltModifier)
        point = self._image_point(position, whole_pixels)
        if self._tool in ("brush", "eraser"):
            self._begin_stroke(button, point, eraser_end or (self._tool == "eraser") != flip, pressure)
        elif self._tool == "rectangle":
            corner = self._pixel_corner(position)
            self._gesture = _Gesture("rectangle", button, eraser_end or flip, [corner, corner])
        else:
            self._gesture = _Gesture("lasso", button, eraser_end or flip, [point])

    def _move(self, position: QPointF, pressure: float, whole_pixels: bool) -> None:
        point = self._image_point(position, whole_pixels)
        self._set_pointer(pointer_spot(position, self.devicePixelRatioF(), whole_pixels))
        gesture = self._gesture
        if gesture is None:
            return
        if gesture.kind == "pan":
            self._pan(gesture, position)
        elif gesture.kind == "paint":
            self._show_stroke(self._document.stroke_to(*_model_xy(point), pressure))
        elif gesture.kind == "rectangle":
            gesture.points[1] = self._pixel_corner(position)
            self.viewport().update()
        else:
            gesture.points.append(point)
            self.viewport().update()

    def _release(self, button: Qt.MouseButton, position: QPointF, whole_pixels: bool) -> None:
        if self._gesture is None or self._gesture.button != button:
            return
        if self._gesture.kind in ("rectangle", "lasso"):
            self._move(position, 1.0, whole_pixels)  # a selection ends where the button comes up
        self._end_gesture()

    def _begin_stroke(self, button: Qt.MouseButton, point: QPointF, erase: bool, pressure: float) -> None:
        brush = dataclasses.replace(self._brush, erase=erase)
        self._gesture = _Gesture("paint", button, erase)
        self._show_stroke(self._document.begin_stroke(*_model_xy(point), brush, pressure))

    def _end_gesture(self) -> None:
        gesture, self._gesture = self._gesture, None
        if gesture is None:
            return
        if gesture.kind == "pan":
            self._update_pointer_feedback()
        elif gesture.kind == "paint":
            self._document.end_stroke()
            self._mask_edited()
        elif gesture.kind == "rectangle":
            self._select_rectangle(gesture)
        else:
            self._select_lasso(gesture)

    def _select_rectangle(self, gesture: _Gesture) -> None:
        self.viewport().update()
        first, second = gesture.points
        self._edit(lambda document: document.select_rectangle(
            first.x(), first.y(), second.x(), second.y(), erase=gesture.erase))

    def _select_lasso(self, gesture: _Gesture) -> None:
        self.viewport().update()
        if len(gesture.points) >= 3:
            points = [_model_xy(point) for point in gesture.points]
            self._edit(lambda document: document.select_lasso(points, erase=gesture.erase))

    def _pan(self, gesture: _Gesture, position: QPointF) -> None:
        gesture.points[0] = self._pan_step(gesture.points[0], position)

    def _image_point(self, position: QPointF, whole_pixels: bool) -> QPointF:
        to_image, _ = self.viewportTransform().inverted()
        return to_image.map(pointer_spot(position, self.devicePixelRatioF(), whole_pixels))

    def _pixel_corner(self, position: QPointF) -> QPointF:
        """The pixel corner nearest the pointer: selections run along pixel edges, as in Photoshop."""
        to_image, _ = self.viewportTransform().inverted()
        point = to_image.map(position)
        return QPointF(round(point.x()), round(point.y()))

    # --- keys --------------------------------------------------------------------------------------------

    def _space_changed(self) -> None:
        self._update_pointer_feedback()

    def _editor_key_action(self, event: QKeyEvent) -> Callable[[], None] | None:
        if not has_no_command_modifier(event):
            return None
        key = event.key()
        actions: dict[Qt.Key, Callable[[], None]] = {
            Qt.Key.Key_BracketRight: lambda: self.step_brush_size(1),
            Qt.Key.Key_BracketLeft: lambda: self.step_brush_size(-1),
            Qt.Key.Key_BraceRight: lambda: self.step_hardness(1),
            Qt.Key.Key_BraceLeft: lambda: self.step_hardness(-1),
            Qt.Key.Key_Backslash: self.toggle_overlay,
            Qt.Key.Key_X: self._swap_brush_and_eraser,
        }
        if key in _TOOL_KEYS:
            return lambda: self.set_tool(_TOOL_KEYS[key])
        return actions.get(key)

    def _swap_brush_and_eraser(self) -> None:
        self.set_tool("eraser" if self._tool == "brush" else "brush")

    # --- pointer feedback ------------------------------------------------------------------------------

    def _set_pointer(self, point: QPointF | None) -> None:
        old_outline = self._outline_rect()
        self._pointer = point
        self._update_outline(old_outline)

    def _outline_shown(self) -> bool:
        painting_tool = self._tool in ("brush", "eraser")
        panning = self._space_held or (self._gesture is not None and self._gesture.kind == "pan")
        return painting_tool and not panning and self._pointer is not None and self._document is not None

    def _outline_geometry(self) -> tuple[QPointF, float]:
        """The outline's centre (viewport) and radius (logical pixels) at the current zoom."""
        return self._pointer, self._brush.size / 2 * self.zoom / self.devicePixelRatioF()

    def _outline_rect(self) -> QRect | None:
        if not self._outline_shown():
            return None
        centre, radius = self._outline_geometry()
        reach = max(radius, _OUTLINE_CROSSHAIR_BELOW) + 3
        return QRectF(centre.x() - reach, centre.y() - reach, 2 * reach, 2 * reach).toAlignedRect()

    def _update_outline(self, old: QRect | None) -> None:
        for rect in (old, self._outline_rect()):
            if rect is not None:
                self.viewport().update(rect)

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        super().scrollContentsBy(dx, dy)
        if self._outline_shown():
            self.viewport().update()  # the outline stays with the pointer, not with the scrolled image

    def _update_pointer_feedback(self) -> None:
        """The cursor shape, and the outline drawn or taken away, after a change of tool or mode."""
        self.viewport().update()
        if self._gesture is not None and self._gesture.kind == "pan":
            shape = Qt.CursorShape.ClosedHandCursor
        elif self._space_held:
            shape = Qt.CursorShape.OpenHandCursor
        elif self._document is None:
            shape = Qt.CursorShape.ArrowCursor
        elif self._tool in ("brush", "eraser"):
            shape = Qt.CursorShape.BlankCursor  # the brush outline is the cursor
        else:
            shape = Qt.CursorShape.CrossCursor
        self.viewport().setCursor(shape)

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        super().drawForeground(painter, rect)
        painter.save()
        painter.resetTransform()  # viewport coordinates: outlines stay one screen pixel wide at any zoom
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if self._gesture is not None and self._gesture.kind in ("rectangle", "lasso"):
            self._draw_selection(painter)
        elif self._outline_shown():
            self._draw_outline(painter)
        painter.restore()

    def _draw_outline(self, painter: QPainter) -> None:
        centre, radius = self._outline_geometry()
        dashed = self._tool == "eraser"
        for color, width, style in ((QColor(0, 0, 0, 170), 3.0, Qt.PenStyle.SolidLine),
                                    (QColor(255, 255, 255), 1.0,
                                     Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine)):
            painter.setPen(QPen(color, width, style))
            painter.drawEllipse(centre, radius, radius)
            if radius * 2 < _OUTLINE_CROSSHAIR_BELOW:
                arm = _OUTLINE_CROSSHAIR_BELOW / 2 + 2
                painter.drawLine(centre - QPointF(arm, 0), centre + QPointF(arm, 0))
                painter.drawLine(centre - QPointF(0, arm), centre + QPointF(0, arm))

    def _draw_selection(self, painter: QPainter) -> None:
        to_view = self.viewportTransform()
        outline = QPolygonF([to_view.map(point) for point in self._gesture.points])
        if self._gesture.kind == "rectangle":
            outline = QPolygonF(to_view.mapRect(QRectF(self._gesture.points[0], self._gesture.points[1])))
        # Marching-ants style: a dashed white line over a solid dark one reads on any image.
        for color, style in ((QColor(0, 0, 0, 200), Qt.PenStyle.SolidLine),
                             (QColor(255, 255, 255), Qt.PenStyle.DashLine)):
            painter.setPen(QPen(color, 1.0, style))
            if self._gesture.kind == "lasso":
                painter.drawPolyline(outline)
            else:
                painter.drawPolygon(outline)


def _model_xy(point: QPointF) -> tuple[float, float]:
    # The scene and the document share coordinates: pixel (i, j) covers [i, i+1) x [j, j+1) in both.
    return point.x(), point.y()


def _dirty_region(dirty: Rect) -> QRect:
    return QRect(dirty.left, dirty.top, dirty.width, dirty.height)

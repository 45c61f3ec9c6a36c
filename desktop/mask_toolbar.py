"""The mask editor's options bar: tools, brush settings, overlay, mask operations, files, undo."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPalette, QPen, QPixmap, QRadialGradient
from PySide6.QtWidgets import (QColorDialog, QComboBox, QFileDialog, QFrame, QHBoxLayout, QLabel, QMessageBox, QSpinBox,
                               QToolButton, QVBoxLayout, QWidget)

from core.errors import EaselError
from desktop.mask_canvas import MaskCanvas

_ICON_SIZE = 20
_TOOL_LABELS = {
    "brush": "Brush (B) — paint the area to repaint. Right button or Alt erases.",
    "eraser": "Eraser (E) — remove paint. X swaps brush and eraser.",
    "rectangle": "Rectangle (M) — drag to mask a rectangle; Alt-drag to unmask.",
    "lasso": "Lasso (L) — draw around an area to mask it; Alt-drag to unmask.",
}
DEFAULT_GROW_PIXELS = 8
DEFAULT_BLUR_RADIUS = 4  # A1111's default "Mask blur"
_MASK_FILES = "Images (*.png *.jpg *.jpeg *.webp);;All files (*)"


class MaskToolbar(QWidget):
    """Drives the `canvas` it is given and follows it (keys like `[` or `B` change the canvas first)."""

    def __init__(self, canvas: MaskCanvas, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas = canvas
        self._build()
        self._connect()
        self._show_brush()
        self._show_tool(canvas.tool)
        self._show_overlay()
        self._show_history()
        self._show_zoom(canvas.zoom)

    # --- building --------------------------------------------------------------------------------

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.setSpacing(2)
        layout.addLayout(_row(self._tool_widgets(), _separator(), *self._brush_widgets(), _separator(),
                              *self._overlay_widgets(), _separator(), *self._history_widgets()))
        layout.addLayout(_row(*self._operation_widgets(), _separator(), *self._preview_widgets(), _separator(),
                              *self._file_widgets()))

    def _tool_widgets(self) -> QWidget:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(1)
        self.tool_buttons: dict[str, QToolButton] = {}
        for tool, tip in _TOOL_LABELS.items():
            button = QToolButton()
            button.setCheckable(True)
            button.setAutoRaise(True)
            button.setIcon(_tool_icon(tool, self.palette().color(QPalette.ColorRole.ButtonText)))
            button.setToolTip(tip)
            button.setAccessibleName(tool.capitalize())
            button.clicked.connect(lambda _checked=False, name=tool: self.canvas.set_tool(name))
            self.tool_buttons[tool] = button
            row.addWidget(button)
        return box

    def _brush_widgets(self) -> list[QWidget]:
        self.size_spin = _spin(1, 1000, " px", "Brush size ( [ and ] )")
        self.hardness_spin = _spin(0, 100, " %", "Hardness: 100% is a hard edge, less feathers it ( { and } )")
        self.opacity_spin = _spin(1, 100, " %", "Brush opacity: how strongly one stroke masks")
        self.pressure_combo = QComboBox()
        self.pressure_combo.addItem("Pen: size", "size")
        self.pressure_combo.addItem("Pen: opacity", "opacity")
        self.pressure_combo.setToolTip("What a tablet pen's pressure changes")
        self.pressure_combo.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        return [QLabel("Size"), self.size_spin, QLabel("Hardness"), self.hardness_spin,
                QLabel("Opacity"), self.opacity_spin, self.pressure_combo]

    def _overlay_widgets(self) -> list[QWidget]:
        self.overlay_button = _button("Overlay", "Show or hide the mask overlay ( \\ )", checkable=True)
        self.overlay_color_button = _button("", "Overlay colour")
        self.overlay_opacity_spin = _spin(5, 100, " %", "Overlay opacity (display only)")
        return [self.overlay_button, self.overlay_color_button, self.overlay_opacity_spin]

    def _history_widgets(self) -> list[QWidget]:
        self.undo_button = _button("Undo", "Undo the last stroke or operation (Ctrl+Z)")
        self.redo_button = _button("Redo", "Redo (Ctrl+Shift+Z or Ctrl+Y)")
        return [self.undo_button, self.redo_button]

    def _operation_widgets(self) -> list[QWidget]:
        self.fill_button = _button("Fill", "Mask the whole image")
        self.clear_button = _button("Clear", "Unmask the whole image")
        self.invert_button = _button("Invert", "Swap masked and unmasked")
        self.grow_button = _button("Grow", "Grow the mask by the pixels given")
        self.shrink_button = _button("Shrink", "Shrink the mask by the pixels given")
        self.grow_spin = _spin(1, 512, " px", "How far Grow and Shrink move the mask's edge")
        self.grow_spin.setValue(DEFAULT_GROW_PIXELS)
        return [self.fill_button, self.clear_button, self.invert_button, _separator(),
                self.grow_button, self.shrink_button, self.grow_spin]

    def _preview_widgets(self) -> list[QWidget]:
        self.blur_button = _button("Blur preview", "Show the mask as the model receives it, blurred by "
                                   "the mask blur", checkable=True)
        self.blur_spin = _spin(0, 64, " px", "Mask blur")
        self.blur_spin.setValue(DEFAULT_BLUR_RADIUS)
        self.fit_button = _button("Fit", "Fit the image into the view")
        self.zoom_label = QLabel()
        self.zoom_label.setToolTip("Zoom: wheel or pinch; pan with space+drag or the middle button")
        return [self.blur_button, self.blur_spin, _separator(), self.fit_button, self.zoom_label]

    def _file_widgets(self) -> list[QWidget]:
        self.load_button = _button("Load mask…", "Replace the mask with an image: white = repaint")
        self.export_button = _button("Export mask…", "Save the mask as a PNG: white = repaint")
        return [self.load_button, self.export_button]

    def _connect(self) -> None:
        canvas = self.canvas
        canvas.brush_changed.connect(lambda _brush: self._show_brush())
        canvas.tool_changed.connect(self._show_tool)
        canvas.mask_changed.connect(self._show_history)
        canvas.overlay_changed.connect(self._show_overlay)
        canvas.zoom_changed.connect(self._show_zoom)
        for spin in (self.size_spin, self.hardness_spin, self.opacity_spin):
            spin.valueChanged.connect(self._brush_edited)
        self.pressure_combo.currentIndexChanged.connect(self._brush_edited)
        self.overlay_button.clicked.connect(lambda _checked: canvas.toggle_overlay())
        self.overlay_color_button.clicked.connect(self._choose_overlay_color)
        self.overlay_opacity_spin.valueChanged.connect(
            lambda value: canvas.set_overlay(canvas.overlay_color, value / 100))
        self.undo_button.clicked.connect(canvas.undo)
        self.redo_button.clicked.connect(canvas.redo)
        self.fill_button.clicked.connect(canvas.fill)
        self.clear_button.clicked.connect(canvas.clear_mask)
        self.invert_button.clicked.connect(canvas.invert)
        self.grow_button.clicked.connect(lambda: canvas.grow(self.grow_spin.value()))
        self.shrink_button.clicked.connect(lambda: canvas.shrink(self.grow_spin.value()))
        self.blur_button.toggled.connect(self._preview_edited)
        self.blur_spin.valueChanged.connect(self._preview_edited)
        self.fit_button.clicked.connect(canvas.fit)
        self.load_button.clicked.connect(self._choose_mask_to_load)
        self.export_button.clicked.connect(self._choose_export_path)

    # --- toolbar -> canvas -------------------------------------------------------------------------

    def _brush_edited(self) -> None:
        self.canvas.set_brush(dataclasses.replace(
            self.canvas.brush, size=float(self.size_spin.value()), hardness=self.hardness_spin.value() / 100,
            opacity=self.opacity_spin.value() / 100, pressure_to=self.pressure_combo.currentData()))

    def _preview_edited(self) -> None:
        self.canvas.set_blur_preview(self.blur_spin.value() if self.blur_button.isChecked() else None)

    def set_overlay_color(self, color: QColor) -> None:
        self.canvas.set_overlay(color, self.canvas.overlay_opacity)

    def load_mask(self, path: Path | str) -> str | None:
        """Load a mask image into the canvas; a message for the person when it cannot be used."""
        try:
            self.canvas.load_mask(path)
        except (EaselError, OSError, ValueError) as error:
            return str(error)
        return None

    def export_mask(self, path: Path | str) -> str | None:
        try:
            self.canvas.export_mask(path)
        except (EaselError, OSError, ValueError) as error:
            return str(error)
        return None

    def _choose_overlay_color(self) -> None:
        color = QColorDialog.getColor(self.canvas.overlay_color, self, "Mask overlay colour")
        if color.isValid():
            self.set_overlay_color(color)

    def _choose_mask_to_load(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load mask", "", _MASK_FILES)
        if path:
            self._report(self.load_mask(path), "The mask was not loaded")

    def _choose_export_path(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export mask", "mask.png", "PNG images (*.png)")
        if path:
            self._report(self.export_mask(path), "The mask was not saved")

    def _report(self, problem: str | None, title: str) -> None:
        if problem:
            QMessageBox.warning(self, title, problem)

    # --- canvas -> toolbar -------------------------------------------------------------------------

    def _show_brush(self) -> None:
        brush = self.canvas.brush
        for spin, value in ((self.size_spin, round(brush.size)), (self.hardness_spin, round(brush.hardness * 100)),
                            (self.opacity_spin, round(brush.opacity * 100))):
            spin.blockSignals(True)
            spin.setValue(value)
            spin.blockSignals(False)
        self.pressure_combo.blockSignals(True)
        self.pressure_combo.setCurrentIndex(max(0, self.pressure_combo.findData(brush.pressure_to)))
        self.pressure_combo.blockSignals(False)

    def _show_tool(self, tool: str) -> None:
        for name, button in self.tool_buttons.items():
            button.setChecked(name == tool)

    def _show_overlay(self) -> None:
        self.overlay_button.setChecked(self.canvas.overlay_visible)
        self.overlay_color_button.setIcon(_swatch(self.canvas.overlay_color,
                                                  self.palette().color(QPalette.ColorRole.ButtonText)))
        self.overlay_opacity_spin.blockSignals(True)
        self.overlay_opacity_spin.setValue(round(self.canvas.overlay_opacity * 100))
        self.overlay_opacity_spin.blockSignals(False)

    def _show_zoom(self, zoom: float) -> None:
        self.zoom_label.setText(f"{zoom * 100:.0f}%")

    def _show_history(self) -> None:
        document = self.canvas.document
        has_document = document is not None
        self.undo_button.setEnabled(has_document and document.can_undo)
        self.redo_button.setEnabled(has_document and document.can_redo)
        for button in (self.fill_button, self.clear_button, self.invert_button, self.grow_button,
                       self.shrink_button, self.load_button, self.export_button):
            button.setEnabled(has_document)


def _row(*widgets: QWidget) -> QHBoxLayout:
    row = QHBoxLayout()
    row.setSpacing(4)
    for widget in widgets:
        row.addWidget(widget)
    row.addStretch(1)
    return row


def _separator() -> QFrame:
    line = QFrame()
    line.setFrameShape(QFrame.Shape.VLine)
    line.setFrameShadow(QFrame.Shadow.Sunken)
    return line


def _spin(low: int, high: int, suffix: str, tip: str) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setSuffix(suffix)
    spin.setToolTip(tip)
    spin.setKeyboardTracking(False)  # typing "120" must not paint with a 1 px, then a 12 px brush
    return spin


def _button(text: str, tip: str, checkable: bool = False) -> QToolButton:
    button = QToolButton()
    button.setText(text)
    button.setToolTip(tip)
    button.setCheckable(checkable)
    button.setAutoRaise(True)
    button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys keep going to the canvas after a click
    return button


def _canvas_pixmap() -> QPixmap:
    pixmap = QPixmap(_ICON_SIZE * 2, _ICON_SIZE * 2)
    pixmap.setDevicePixelRatio(2.0)  # sharp on HiDPI screens, scaled down cleanly elsewhere
    pixmap.fill(Qt.GlobalColor.transparent)
    return pixmap


def _tool_icon(tool: str, ink: QColor) -> QIcon:
    pixmap = _canvas_pixmap()
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    _ICON_PAINTERS[tool](painter, ink)
    painter.end()
    return QIcon(pixmap)


def _paint_brush_icon(painter: QPainter, ink: QColor) -> None:
    gradient = QRadialGradient(QPointF(10, 10), 8)
    gradient.setColorAt(0.55, ink)
    faded = QColor(ink)
    faded.setAlpha(0)
    gradient.setColorAt(1.0, faded)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(gradient)
    painter.drawEllipse(QPointF(10, 10), 8, 8)


def _paint_eraser_icon(painter: QPainter, ink: QColor) -> None:
    painter.translate(10, 10)
    painter.rotate(-35)
    painter.setPen(QPen(ink, 1.4))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawRoundedRect(QRectF(-7, -4, 14, 8), 1.5, 1.5)
    painter.setBrush(ink)
    painter.drawRoundedRect(QRectF(-7, -4, 5, 8), 1.5, 1.5)


def _paint_rectangle_icon(painter: QPainter, ink: QColor) -> None:
    painter.setPen(QPen(ink, 1.4, Qt.PenStyle.DashLine))
    painter.drawRect(QRectF(3.5, 4.5, 13, 11))


def _paint_lasso_icon(painter: QPainter, ink: QColor) -> None:
    loop = QPainterPath(QPointF(7, 16))
    loop.cubicTo(QPointF(0, 12), QPointF(3, 3), QPointF(11, 3))
    loop.cubicTo(QPointF(19, 3), QPointF(19, 12), QPointF(10, 13))
    loop.cubicTo(QPointF(7, 13.5), QPointF(6, 15), QPointF(8, 18))
    painter.setPen(QPen(ink, 1.4, Qt.PenStyle.DashLine))
    painter.drawPath(loop)


_ICON_PAINTERS: dict[str, Callable[[QPainter, QColor], None]] = {
    "brush": _paint_brush_icon,
    "eraser": _paint_eraser_icon,
    "rectangle": _paint_rectangle_icon,
    "lasso": _paint_lasso_icon,
}


def _swatch(color: QColor, border: QColor) -> QIcon:
    pixmap = _canvas_pixmap()
    painter = QPainter(pixmap)
    painter.setPen(QPen(border, 1.0))
    painter.setBrush(color)
    painter.drawRoundedRect(QRectF(2.5, 2.5, 15, 15), 3, 3)
    painter.end()
    return QIcon(pixmap)

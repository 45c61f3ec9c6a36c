"""The checkpoint chooser: each model by name with small rounded architecture badges ("SDXL", "inpaint")."""

from __future__ import annotations

from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Sequence

from PySide6.QtCore import QModelIndex, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QFont, QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import (
    QComboBox, QStyle, QStyledItemDelegate, QStyleOptionComboBox, QStyleOptionViewItem, QStylePainter, QWidget,
)

from core.errors import ModelFileError
from core.models.scan import ModelEntry, find_model
from desktop import palette_colors

ENTRY_ROLE = Qt.ItemDataRole.UserRole + 1
BADGES_ROLE = Qt.ItemDataRole.UserRole + 2

_ARCHITECTURE_BADGES = {"sd1": "SD1", "sd2": "SD2", "sd2-v": "SD2-v", "sdxl": "SDXL", "sdxl-refiner": "SDXL refiner"}
_BADGE_HUES = {"SD1": 0, "SD2": 40, "SD2-v": 40, "SDXL": 150, "SDXL refiner": 150, "inpaint": 270}
_BADGE_GAP = 4
_BADGE_PADDING = 5


def architecture_badges(entry: ModelEntry) -> list[str]:
    badges = []
    if entry.architecture:
        badges.append(_ARCHITECTURE_BADGES.get(entry.architecture, entry.architecture.upper()))
    if entry.inpaint:
        badges.append("inpaint")
    return badges


def model_tooltip(entry: ModelEntry) -> str:
    lines = [str(entry.path), f"{_human_size(entry.size)} · {entry.description}"]
    lines.append(f"Hash: {entry.hash}" if entry.hash else "Hash: not computed yet")
    return "\n".join(lines)


def _human_size(size: int) -> str:
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


class ModelPicker(QComboBox):
    """Checkpoints from `set_entries`; unusable ones are listed greyed out with the reason as tooltip."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setItemDelegate(BadgeDelegate(self))
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(12)
        self.setPlaceholderText("No models found")

    def set_entries(self, entries: Sequence[ModelEntry]) -> None:
        """Show these checkpoints; the chosen model stays chosen when it is still there."""
        previous = self.current_entry()
        self.blockSignals(True)
        self.clear()
        for entry in (e for e in entries if e.kind == "checkpoint"):
            self._add_entry(entry)
        self.setCurrentIndex(-1)
        self.blockSignals(False)
        if previous is None or not self.select_path(previous.path):
            first_usable = next((i for i in range(self.count()) if self.entry_at(i).supported), -1)
            self.setCurrentIndex(first_usable)

    def _add_entry(self, entry: ModelEntry) -> None:
        self.addItem(entry.name)
        index = self.count() - 1
        self.setItemData(index, entry, ENTRY_ROLE)
        self.setItemData(index, architecture_badges(entry), BADGES_ROLE)
        self.setItemData(index, model_tooltip(entry), Qt.ItemDataRole.ToolTipRole)
        if not entry.supported:
            self.model().item(index).setEnabled(False)

    def entries(self) -> list[ModelEntry]:
        return [self.entry_at(i) for i in range(self.count())]

    def entry_at(self, index: int) -> ModelEntry:
        return self.itemData(index, ENTRY_ROLE)

    def current_entry(self) -> ModelEntry | None:
        return self.entry_at(self.currentIndex()) if self.currentIndex() >= 0 else None

    def select_path(self, path: str | Path) -> bool:
        wanted = Path(path)
        for index in range(self.count()):
            if self.entry_at(index).path == wanted and self.entry_at(index).supported:
                self.setCurrentIndex(index)
                return True
        return False

    def match(self, model: str, model_hash: str | None = None) -> ModelEntry | None:
        """The listed, usable checkpoint a request or infotext names: its path, a path elsewhere with
        the same file name, a name, an A1111 title "name [hash]", or failing those `model_hash`."""
        usable = [entry for entry in self.entries() if entry.supported]
        found = _match_name(usable, model) if model else None
        if found is None and model_hash:
            wanted = model_hash.strip().lower()
            found = next((entry for entry in usable if entry.hash and entry.hash.startswith(wanted)), None)
        return found

    def paintEvent(self, event) -> None:  # type: ignore[no-untyped-def]  # noqa: N802 - Qt's name
        painter = QStylePainter(self)
        option = QStyleOptionComboBox()
        self.initStyleOption(option)
        painter.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, option)
        field = self.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, option,
                                            QStyle.SubControl.SC_ComboBoxEditField, self)
        badges = self.currentData(BADGES_ROLE) or []
        used = paint_badges(painter, field.adjusted(0, 0, -2, 0), badges, self.palette(), self.font())
        if self.currentIndex() < 0:
            option.palette.setBrush(QPalette.ColorRole.ButtonText, option.palette.placeholderText())
            option.currentText = self.placeholderText()
        option.currentText = QFontMetrics(self.font()).elidedText(
            option.currentText, Qt.TextElideMode.ElideRight, max(0, field.width() - used - 8))
        painter.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, option)


def _match_name(usable: list[ModelEntry], model: str) -> ModelEntry | None:
    for entry in usable:
        if str(entry.path) == model:
            return entry
    # A path from another machine or folder: Windows paths parse on any system with PureWindowsPath.
    is_path = PurePosixPath(model).is_absolute() or PureWindowsPath(model).is_absolute()
    for name in ([PureWindowsPath(model).stem] if is_path else [model]):
        try:
            found = find_model(usable, name)
        except ModelFileError:
            continue
        if found in usable:
            return found
    return None


class BadgeDelegate(QStyledItemDelegate):
    """A list row: the model name, elided if need be, and its badges at the right edge."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        item = QStyleOptionViewItem(option)
        self.initStyleOption(item, index)
        badges = index.data(BADGES_ROLE) or []
        palette = item.palette
        width = badges_width(badges, item.font)
        item.text = item.fontMetrics.elidedText(item.text, Qt.TextElideMode.ElideRight,
                                                max(0, item.rect.width() - width - 16))
        style = item.widget.style() if item.widget else None
        if style is None:
            return super().paint(painter, option, index)
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, item, painter, item.widget)
        paint_badges(painter, item.rect.adjusted(0, 0, -6, 0), badges, palette, item.font)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:  # noqa: N802 - Qt's name
        size = super().sizeHint(option, index)
        return QSize(size.width() + badges_width(index.data(BADGES_ROLE) or [], option.font) + 16, size.height())


def _badge_font(font: QFont) -> QFont:
    small = QFont(font)
    small.setPointSizeF(max(6.5, font.pointSizeF() * 0.8))
    small.setWeight(QFont.Weight.DemiBold)
    return small


def badges_width(badges: Sequence[str], font: QFont) -> int:
    metrics = QFontMetrics(_badge_font(font))
    return sum(metrics.horizontalAdvance(text) + 2 * _BADGE_PADDING + _BADGE_GAP for text in badges)


def paint_badges(painter: QPainter, rect: QRect, badges: Sequence[str], palette: QPalette, font: QFont) -> int:
    """Rounded labels right-aligned in `rect`, coloured from the palette; returns the width they take."""
    small = _badge_font(font)
    metrics = QFontMetrics(small)
    height = metrics.height() + 2
    top = rect.top() + (rect.height() - height) / 2
    right = rect.right()
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setFont(small)
    for text in reversed(list(badges)):
        width = metrics.horizontalAdvance(text) + 2 * _BADGE_PADDING
        box = QRectF(right - width, top, width, height)
        color = palette_colors.accent(palette, _BADGE_HUES.get(text, 0))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(palette_colors.tint(color, 0.18))
        painter.drawRoundedRect(box, height / 2.5, height / 2.5)
        painter.setPen(color)
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
        right -= width + _BADGE_GAP
    painter.restore()
    return int(rect.right() - right)

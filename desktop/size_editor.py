"""Width and height in multiples of 8, a swap button and the sizes SD 1.x and SDXL were trained at."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMenu, QSpinBox, QToolButton, QVBoxLayout, QWidget

from core.sizes import round_to_multiple_of_8

MIN_SIDE, MAX_SIDE, STEP = 64, 4096, 64

SD1_PRESETS: tuple[tuple[int, int], ...] = ((512, 512), (512, 768), (768, 512), (640, 448), (448, 640), (768, 768))
SDXL_PRESETS: tuple[tuple[int, int], ...] = (
    (1024, 1024), (832, 1216), (1216, 832), (896, 1152), (1152, 896),
    (768, 1344), (1344, 768), (1536, 640), (640, 1536),
)
PRESET_GROUPS = (("SD 1.x", SD1_PRESETS), ("SDXL", SDXL_PRESETS))

# The square each architecture was trained at: a new model switches to it from another's default.
DEFAULT_SIDES = {"sd1": 512, "sd2": 512, "sd2-v": 768, "sdxl": 1024, "sdxl-refiner": 1024}
_FAMILY_TITLES = {"sd1": "SD 1.x", "sd2": "SD 2.x", "sd2-v": "SD 2.x 768-v", "sdxl": "SDXL", "sdxl-refiner": "SDXL"}


def _shape(width: int, height: int) -> str:
    if width == height:
        return "square"
    return "portrait" if height > width else "landscape"


def default_size_note(architecture: str) -> str:
    side = DEFAULT_SIDES[architecture]
    return f"Size set to {side}×{side}, the size {_FAMILY_TITLES[architecture]} models are made for."


class SizeEditor(QWidget):
    """`changed` on any edit. A note under the fields tells why the size changed by itself, until edited."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.width_spin = self._side_spin("Width")
        self.height_spin = self._side_spin("Height")
        self.swap_button = QToolButton(text="⇄", toolTip="Swap width and height", clicked=self.swap)
        self.swap_button.setAccessibleName("Swap width and height")
        self.preset_button = QToolButton(text="Presets", toolTip="Sizes the models were trained at")
        self.preset_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.preset_button.setMenu(self._preset_menu())
        self.note = QLabel(wordWrap=True)
        self.note.setObjectName("sizeNote")
        self.note.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.note.hide()
        self._layout()
        for spin in (self.width_spin, self.height_spin):
            spin.valueChanged.connect(self._edited)
            spin.editingFinished.connect(self._round_to_8)

    def _side_spin(self, name: str) -> QSpinBox:
        spin = QSpinBox(minimum=MIN_SIDE, maximum=MAX_SIDE, singleStep=STEP, value=512, suffix=" px")
        spin.setAccessibleName(name)
        spin.setToolTip(f"{name} in pixels (a multiple of 8)")
        return spin

    def _layout(self) -> None:
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.width_spin, 1)
        row.addWidget(self.swap_button)
        row.addWidget(self.height_spin, 1)
        row.addWidget(self.preset_button)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addLayout(row)
        column.addWidget(self.note)

    def _preset_menu(self) -> QMenu:
        menu = QMenu(self)
        for title, presets in PRESET_GROUPS:
            menu.addSection(title)
            for width, height in presets:
                action = menu.addAction(f"{width} × {height}  ({_shape(width, height)})")
                action.setData((width, height))
                action.triggered.connect(lambda _=False, w=width, h=height: self.set_image_size(w, h))
        return menu

    def preset_actions(self) -> dict[tuple[int, int], object]:
        return {action.data(): action for action in self.preset_button.menu().actions() if action.data()}

    def image_size(self) -> tuple[int, int]:
        rounded = round_to_multiple_of_8(self.width_spin.value(), self.height_spin.value())
        return rounded.width, rounded.height

    def set_image_size(self, width: int, height: int, note: str | None = None) -> None:
        """Show this size (rounded to multiples of 8); `note` explains a change the user did not make."""
        rounded = round_to_multiple_of_8(width, height)
        for spin, value in ((self.width_spin, rounded.width), (self.height_spin, rounded.height)):
            spin.blockSignals(True)
            spin.setValue(value)
            spin.blockSignals(False)
        self._show_note(note)
        self.changed.emit()

    def swap(self) -> None:
        width, height = self.image_size()
        self.set_image_size(height, width)

    def _edited(self) -> None:
        self._show_note(None)
        self.changed.emit()

    def _round_to_8(self) -> None:
        width, height = self.image_size()
        if (width, height) != (self.width_spin.value(), self.height_spin.value()):
            self.set_image_size(width, height)

    def _show_note(self, note: str | None) -> None:
        self.note.setText(note or "")
        self.note.setVisible(bool(note))
        for spin in (self.width_spin, self.height_spin):
            name = spin.accessibleName()
            spin.setToolTip(note or f"{name} in pixels (a multiple of 8)")

"""The seed field with A1111's two buttons: 🎲 random (-1) and ♻ the seed of the last image."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QToolButton, QWidget

RANDOM = -1
MAX_SEED = 2**32 - 1  # A1111's and the engine's range; more than a QSpinBox (int32) holds


class SeedEditor(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # A double spin box with no decimals holds every 32-bit unsigned seed exactly.
        self.spin = QDoubleSpinBox(minimum=RANDOM, maximum=MAX_SEED, decimals=0, value=RANDOM,
                                   specialValueText="Random")
        self.spin.setAccessibleName("Seed")
        self.spin.setToolTip("Seed: the same seed and settings give the same image; Random picks a new one")
        self.random_button = QToolButton(text="🎲", toolTip="Random seed for each generation",
                                         clicked=lambda: self.set_seed(RANDOM))
        self.random_button.setAccessibleName("Random seed")
        self.reuse_button = QToolButton(text="♻", enabled=False, clicked=self.reuse_last)
        self.reuse_button.setAccessibleName("Reuse last seed")
        self.reuse_button.setToolTip("Reuse the seed of the last image (none yet)")
        self._last_seed: int | None = None
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.spin, 1)
        row.addWidget(self.random_button)
        row.addWidget(self.reuse_button)
        self.spin.valueChanged.connect(self.changed)

    def seed(self) -> int:
        return int(self.spin.value())

    def set_seed(self, seed: int) -> None:
        self.spin.setValue(seed)

    def accepts(self, seed: int) -> bool:
        return RANDOM <= seed <= MAX_SEED

    def set_last_seed(self, seed: int | None) -> None:
        self._last_seed = seed
        self.reuse_button.setEnabled(seed is not None)
        self.reuse_button.setToolTip(f"Reuse the seed of the last image ({seed})" if seed is not None
                                     else "Reuse the seed of the last image (none yet)")

    def last_seed(self) -> int | None:
        return self._last_seed

    def reuse_last(self) -> None:
        if self._last_seed is not None:
            self.set_seed(self._last_seed)

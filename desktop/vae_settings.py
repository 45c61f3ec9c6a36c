"""The VAE choices of the Settings dialog: one for every model, one per checkpoint that overrides it."""

from __future__ import annotations

from typing import Mapping, Sequence

from PySide6.QtWidgets import QAbstractItemView, QComboBox, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from core.settings import VAE_AUTOMATIC as AUTOMATIC, VAE_NONE as NONE
CHOICE_LABELS = {AUTOMATIC: "Automatic (one named like the checkpoint)", NONE: "None (the checkpoint's own)"}
USE_GLOBAL = "As for every model"
VAE_TILING_LABELS = {"auto": "Automatic (for large images)", "on": "On (less memory, slower)", "off": "Off"}


class VaeChoiceBox(QComboBox):
    """Automatic, None or a VAE file by name; `with_global` adds "as for every model" (data None) first.

    A choice that is not listed (a VAE file that was removed) stays, marked, so saving keeps it."""

    def __init__(self, vaes: Sequence[str], current: str | None, with_global: bool = False,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        if with_global:
            self.addItem(USE_GLOBAL, None)
        for value in (AUTOMATIC, NONE):
            self.addItem(CHOICE_LABELS[value], value)
        for name in vaes:
            self.addItem(name, name)
        if current is not None and self.findData(current) < 0:
            self.addItem(f"{current} (not found)", current)
        self.setCurrentIndex(max(0, self.findData(current)))
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(16)

    def choice(self) -> str | None:
        return self.currentData()

    def choose(self, value: str | None) -> None:
        self.setCurrentIndex(max(0, self.findData(value)))


class ModelVaeTable(QTableWidget):
    """A row per checkpoint (and per checkpoint named in the settings but not found now): its VAE choice."""

    def __init__(self, checkpoints: Sequence[str], vaes: Sequence[str], model_vaes: Mapping[str, str],
                 parent: QWidget | None = None) -> None:
        super().__init__(0, 2, parent)
        self._names: list[str] = []
        self.setHorizontalHeaderLabels(["Checkpoint", "VAE"])
        self.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.verticalHeader().hide()
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        names = list(dict.fromkeys([*checkpoints, *model_vaes]))
        for name in names:
            self._add_row(name, vaes, model_vaes.get(name), found=name in checkpoints)
        self.setMaximumHeight(160)

    def _add_row(self, name: str, vaes: Sequence[str], choice: str | None, found: bool) -> None:
        row = self.rowCount()
        self.insertRow(row)
        item = QTableWidgetItem(name if found else f"{name} (not found)")
        item.setToolTip(name)
        self.setItem(row, 0, item)
        self.setCellWidget(row, 1, VaeChoiceBox(vaes, choice, with_global=True))
        self._names.append(name)

    def box(self, checkpoint: str) -> VaeChoiceBox:
        return self.cellWidget(self._names.index(checkpoint), 1)  # type: ignore[return-value]

    def choices(self) -> dict[str, str]:
        """Checkpoint name -> VAE choice, for the checkpoints that do not follow the global choice."""
        chosen = {name: self.box(name).choice() for name in self._names}
        return {name: value for name, value in chosen.items() if value is not None}

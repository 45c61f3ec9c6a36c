"""The Extras mode's inputs: images to upscale (the one sent, chosen files, a folder), upscaler, scale, tile, output.

It builds an UpscaleRequest; the worker runs it (core.upscale_job) and the window shows progress and results.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit,
    QListWidget, QListWidgetItem, QPushButton, QSpinBox, QVBoxLayout, QWidget,
)

from core.images import images_in_folder

if TYPE_CHECKING:
    from core.upscale_job import UpscaleRequest

# core.upscale's names for the plain resizers; not imported from there, because it imports torch, which the
# window must not wait for.
LANCZOS, NEAREST = "Lanczos", "Nearest"
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp)"
PLAIN_RESIZERS = (LANCZOS, NEAREST)
DEFAULT_TILE = 512
NATIVE = "native"
EXTRAS_FOLDER = "extras-images"  # A1111's folder name, under the output folder

ChooseFiles = Callable[[QWidget], list[str]]
ChooseFolder = Callable[[QWidget, str], str]


def _ask_for_files(parent: QWidget) -> list[str]:
    return QFileDialog.getOpenFileNames(parent, "Choose images to upscale", "", IMAGE_FILTER)[0]


def _ask_for_folder(parent: QWidget, caption: str) -> str:
    return QFileDialog.getExistingDirectory(parent, caption)


class ExtrasPanel(QWidget):
    """Images to upscale and how; `request()` is what the Upscale button runs."""

    changed = Signal()
    image_chosen = Signal(object)  # Path: the selected image, for the window to show

    def __init__(self, choose_files: ChooseFiles = _ask_for_files, choose_folder: ChooseFolder = _ask_for_folder,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._choose_files = choose_files
        self._choose_folder = choose_folder
        self._wanted_upscaler: str | None = None  # restored before the model list named it
        self._chosen = False  # the person (or a restored state) picked an upscaler: keep it
        self._build()

    def _build(self) -> None:
        self.image_list = QListWidget(selectionMode=QAbstractItemView.SelectionMode.ExtendedSelection)
        self.image_list.setToolTip("The images to upscale, in this order; Delete removes the selected ones")
        self.image_list.currentItemChanged.connect(self._on_current_changed)
        self.empty_label = QLabel("Send an image here from the gallery (Upscale), or add files or a folder.",
                                  wordWrap=True, alignment=Qt.AlignmentFlag.AlignCenter)
        buttons = QHBoxLayout()
        self.add_files_button = QPushButton("Add files…", clicked=self.add_files)
        self.add_folder_button = QPushButton("Add folder…", clicked=self.add_folder)
        self.remove_button = QPushButton("Remove", clicked=self.remove_selected)
        self.clear_button = QPushButton("Clear", clicked=self.clear)
        for button in (self.add_files_button, self.add_folder_button, self.remove_button, self.clear_button):
            buttons.addWidget(button)
        self.upscaler_box = QComboBox(toolTip="An upscaler model (ESRGAN, SwinIR, …) or a plain resize")
        self.upscaler_box.addItems(list(PLAIN_RESIZERS))
        self.upscaler_box.activated.connect(lambda _index: setattr(self, "_chosen", True))
        self.scale_spin = QDoubleSpinBox(minimum=0.0, maximum=8.0, singleStep=0.5, decimals=2, value=0.0,
                                         specialValueText=NATIVE)
        self.scale_spin.setToolTip("Upscale by this factor; “native”: the model's own factor (4 for most)")
        self.tile_spin = QSpinBox(minimum=0, maximum=4096, singleStep=64, value=DEFAULT_TILE, suffix=" px",
                                  specialValueText="whole image")
        self.tile_spin.setToolTip("Tile size: smaller tiles need less memory; tiles overlap, so no seams show")
        self.out_edit = QLineEdit(placeholderText=f"{EXTRAS_FOLDER} in the output folder")
        browse = QPushButton("Choose…", clicked=self._choose_out_dir)
        out_row = QHBoxLayout()
        out_row.addWidget(self.out_edit, 1)
        out_row.addWidget(browse)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Upscaler", self.upscaler_box)
        form.addRow("Scale", self.scale_spin)
        form.addRow("Tile size", self.tile_spin)
        form.addRow("Output folder", out_row)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("<b>Extras: upscale images</b>"))
        layout.addWidget(self.image_list, 1)
        layout.addWidget(self.empty_label)
        layout.addLayout(buttons)
        layout.addLayout(form)
        for signal in (self.upscaler_box.currentIndexChanged, self.scale_spin.valueChanged,
                       self.tile_spin.valueChanged, self.out_edit.textChanged):
            signal.connect(self.changed)
        self._update_empty()

    # ---------------------------------------------------------------- images

    def images(self) -> list[Path]:
        return [Path(self.image_list.item(row).data(Qt.ItemDataRole.UserRole))
                for row in range(self.image_list.count())]

    def set_images(self, paths: Sequence[Path]) -> None:
        """Replace the list (what "Upscale" on a gallery image does); the first is selected."""
        self.image_list.clear()
        self.add_images(paths)

    def add_images(self, paths: Sequence[Path]) -> None:
        known = set(self.images())
        for path in map(Path, paths):
            if path in known:
                continue
            known.add(path)
            item = QListWidgetItem(path.name)
            item.setData(Qt.ItemDataRole.UserRole, str(path))
            item.setToolTip(str(path))
            self.image_list.addItem(item)
        if self.image_list.currentRow() < 0 and self.image_list.count():
            self.image_list.setCurrentRow(0)
        self._update_empty()
        self.changed.emit()

    def add_files(self) -> None:
        self.add_images([Path(name) for name in self._choose_files(self)])

    def add_folder(self) -> None:
        folder = self._choose_folder(self, "Choose a folder of images to upscale")
        if folder:
            self.add_images(images_in_folder(Path(folder)))

    def remove_selected(self) -> None:
        for item in self.image_list.selectedItems():
            self.image_list.takeItem(self.image_list.row(item))
        self._update_empty()
        self.changed.emit()

    def clear(self) -> None:
        self.image_list.clear()
        self._update_empty()
        self.changed.emit()

    def keyPressEvent(self, event) -> None:  # type: ignore[no-untyped-def]  # noqa: N802 - Qt's name
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self.image_list.hasFocus():
            self.remove_selected()
            return
        super().keyPressEvent(event)

    # ---------------------------------------------------------------- upscalers

    def set_upscalers(self, names: Sequence[str]) -> None:
        """Upscaler models found, listed first; the first is chosen until the person picks one."""
        wanted = self._wanted_upscaler or (self.upscaler_box.currentText() if self._chosen else None)
        self.upscaler_box.blockSignals(True)
        self.upscaler_box.clear()
        self.upscaler_box.addItems([*names, *PLAIN_RESIZERS])
        index = self.upscaler_box.findText(wanted) if wanted else -1
        self.upscaler_box.setCurrentIndex(max(0, index))
        if index >= 0:
            self._wanted_upscaler = None
        self.upscaler_box.blockSignals(False)

    def choose_upscaler(self, name: str) -> bool:
        index = self.upscaler_box.findText(name)
        if index >= 0:
            self.upscaler_box.setCurrentIndex(index)
            self._chosen = True
        return index >= 0

    # ---------------------------------------------------------------- the request

    def request(self) -> "UpscaleRequest | None":
        """None when there is nothing to upscale."""
        from core.upscale_job import UpscaleRequest

        images = self.images()
        if not images:
            return None
        out = self.out_edit.text().strip()
        return UpscaleRequest(images=tuple(images), upscaler=self.upscaler_box.currentText(),
                              scale=self.scale_spin.value() or None, tile=self.tile_spin.value(),
                              out_dir=Path(out).expanduser() if out else None)

    # ---------------------------------------------------------------- persistence

    def state(self) -> dict[str, Any]:
        upscaler = self.upscaler_box.currentText() if self._chosen else None  # a default is not a choice
        return {"upscaler": upscaler, "scale": self.scale_spin.value(),
                "tile": self.tile_spin.value(), "out_dir": self.out_edit.text().strip()}

    def restore(self, state: Any) -> None:
        if not isinstance(state, Mapping):
            return
        upscaler = state.get("upscaler")
        if isinstance(upscaler, str) and upscaler and not self.choose_upscaler(upscaler):
            self._wanted_upscaler = upscaler
            self._chosen = True
        for spin, key in ((self.scale_spin, "scale"), (self.tile_spin, "tile")):
            value = state.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and \
                    spin.minimum() <= value <= spin.maximum():
                spin.setValue(value)
        if isinstance(state.get("out_dir"), str):
            self.out_edit.setText(state["out_dir"])

    # ---------------------------------------------------------------- reactions

    def _choose_out_dir(self) -> None:
        folder = self._choose_folder(self, "Choose where upscaled images go")
        if folder:
            self.out_edit.setText(folder)

    def _on_current_changed(self, current: QListWidgetItem | None, _previous: QListWidgetItem | None) -> None:
        if current is not None:
            self.image_chosen.emit(Path(current.data(Qt.ItemDataRole.UserRole)))

    def _update_empty(self) -> None:
        empty = self.image_list.count() == 0
        self.empty_label.setVisible(empty)
        self.remove_button.setEnabled(not empty)
        self.clear_button.setEnabled(not empty)

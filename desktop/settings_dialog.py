"""The Settings dialog: model folders and VAEs, where images go and how they are named, device, previews, network."""

from __future__ import annotations

import dataclasses
import datetime
from pathlib import Path
from typing import Callable, Sequence
from urllib.parse import urlsplit

from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit,
    QListWidget, QPushButton, QSpinBox, QTabWidget, QVBoxLayout, QWidget,
)

from core.file_names import NameFields, pattern_problem, render_stem
from core.paths import AppPaths
from core.settings import (
    ATTENTION_SLICING, DEFAULT_FILE_NAME_PATTERN, MAX_PREVIEW_EVERY, PRECISIONS, VAE_AUTOMATIC, VAE_TILING, Settings,
)
from desktop.vae_settings import VAE_TILING_LABELS, ModelVaeTable, VaeChoiceBox

FolderChooser = Callable[[QWidget, str], str]  # (parent, caption) -> folder, "" when cancelled

DEVICE_LABELS = {"cuda": "CUDA (NVIDIA GPU)", "mps": "MPS (Apple GPU)", "cpu": "CPU"}
PRECISION_LABELS = {"auto": "Automatic (fp16 on a GPU, fp32 on the CPU)", "fp16": "fp16 (half)",
                    "bf16": "bf16 (brain float)", "fp32": "fp32 (full: more memory, slower)"}
SLICING_LABELS = {"auto": "Automatic (on for Macs under 64 GB)", "on": "On (less memory, a little slower)",
                  "off": "Off"}
OFFLINE_TEXT = "Never connect to the network except for downloads I start"
DEFAULT_ENDPOINT = "https://huggingface.co"
# What the example file name is made from: a typical A1111 image.
EXAMPLE_FIELDS = NameFields(seed=618633303, model_name="dreamshaper_8", width=512, height=768,
                            sampler="DPM++ 2M", steps=25, cfg=7.0, prompt="a lighthouse at dusk, oil painting")
EXAMPLE_NUMBER = 12


def choose_folder_with_dialog(parent: QWidget, caption: str) -> str:
    return QFileDialog.getExistingDirectory(parent, caption)


def endpoint_problem(endpoint: str) -> str | None:
    """Why a hub endpoint cannot be used, or None; empty means huggingface.co."""
    if not endpoint:
        return None
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc or " " in endpoint:
        return (f"The hub endpoint “{endpoint}” is not an http:// or https:// address. Enter a mirror's address "
                "such as https://hf-mirror.com, or leave it empty for huggingface.co.")
    return None


def example_file_name(pattern: str, date: datetime.date | None = None) -> str:
    fields = dataclasses.replace(EXAMPLE_FIELDS, date=date or datetime.date.today())
    return f"{render_stem(pattern, EXAMPLE_NUMBER, fields)}.png"


class FolderList(QWidget):
    """Folders in a list, with Add… (a folder picker) and Remove."""

    def __init__(self, folders: Sequence[str], caption: str, choose_folder: FolderChooser,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._caption = caption
        self._choose_folder = choose_folder
        self.list = QListWidget()
        self.list.addItems(list(folders))
        self.add_button = QPushButton("Add…", clicked=self.add_folder)
        self.remove_button = QPushButton("Remove", clicked=self.remove_selected)
        self.list.itemSelectionChanged.connect(self._update_buttons)
        buttons = QVBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        self.list.setMaximumHeight(110)
        self._update_buttons()

    def folders(self) -> list[str]:
        return [self.list.item(row).text() for row in range(self.list.count())]

    def add_folder(self) -> None:
        folder = self._choose_folder(self, self._caption)
        if folder and folder not in self.folders():
            self.list.addItem(folder)

    def remove_selected(self) -> None:
        for item in self.list.selectedItems():
            self.list.takeItem(self.list.row(item))

    def _update_buttons(self) -> None:
        self.remove_button.setEnabled(bool(self.list.selectedItems()))


class SettingsDialog(QDialog):
    """Edits a copy of the settings; OK validates, saves to the settings file and closes; Cancel changes nothing.

    `devices` comes from the caller (core.device imports torch, which the window must not wait for), and so
    do the `checkpoints` and `vaes` found (names), for the VAE choices.
    """

    def __init__(self, settings: Settings, paths: AppPaths, devices: Sequence[str] = ("cpu",),
                 choose_folder: FolderChooser = choose_folder_with_dialog, parent: QWidget | None = None,
                 checkpoints: Sequence[str] = (), vaes: Sequence[str] = ()) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self._original = settings
        self._result = settings
        self._paths = paths
        self._choose_folder = choose_folder
        tabs = QTabWidget()
        tabs.addTab(self._models_tab(settings, checkpoints, vaes), "Models")
        tabs.addTab(self._images_tab(settings), "Images")
        tabs.addTab(self._performance_tab(settings, devices), "Performance")
        tabs.addTab(self._network_tab(settings), "Network")
        self.error_label = QLabel(wordWrap=True, visible=False)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(tabs)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)
        self.tabs = tabs

    def _models_tab(self, settings: Settings, checkpoints: Sequence[str], vaes: Sequence[str]) -> QWidget:
        self.model_folders = FolderList(settings.model_folders, "Add a model folder", self._choose_folder)
        self.install_roots = FolderList(settings.install_roots, "Add an A1111 or ComfyUI folder", self._choose_folder)
        form = QFormLayout()
        form.addRow("Model folders:", self.model_folders)
        form.addRow(QLabel("Folders with .safetensors and .ckpt files, searched with their subfolders.",
                           wordWrap=True))
        form.addRow("A1111 / ComfyUI:", self.install_roots)
        form.addRow(QLabel("Their models are used where they are, never copied.", wordWrap=True))
        self.vae_box = VaeChoiceBox(vaes, settings.vae)
        self.model_vaes = ModelVaeTable(checkpoints, vaes, settings.model_vaes)
        form.addRow("VAE:", self.vae_box)
        form.addRow("VAE per model:", self.model_vaes)
        form.addRow(QLabel("A VAE chosen in the parameters panel wins over both.", wordWrap=True))
        return _page(form)

    def _images_tab(self, settings: Settings) -> QWidget:
        self.outputs_edit = QLineEdit(settings.outputs_dir or "", placeholderText=str(self._paths.outputs_dir))
        browse = QPushButton("Choose…", clicked=self._choose_outputs)
        row = QHBoxLayout()
        row.addWidget(self.outputs_edit, 1)
        row.addWidget(browse)
        self.pattern_edit = QLineEdit(settings.file_name_pattern, placeholderText=DEFAULT_FILE_NAME_PATTERN)
        self.pattern_edit.textChanged.connect(self._update_example)
        self.example_label = QLabel(wordWrap=True)
        tokens = QLabel("[number] [seed] [model_name] [width] [height] [sampler] [steps] [cfg] [date] "
                        "[prompt_words]", wordWrap=True)
        form = QFormLayout()
        form.addRow("Output folder:", row)
        form.addRow("File names:", self.pattern_edit)
        form.addRow("", self.example_label)
        form.addRow("Tokens:", tokens)
        self._update_example()
        return _page(form)

    def _performance_tab(self, settings: Settings, devices: Sequence[str]) -> QWidget:
        self.device_box = QComboBox()
        self.device_box.addItem("Automatic (the fastest there is)", None)
        for device in devices:
            self.device_box.addItem(DEVICE_LABELS.get(device, device), device)
        if settings.device and self.device_box.findData(settings.device) < 0:
            self.device_box.addItem(f"{settings.device} (not found on this computer)", settings.device)
        self.device_box.setCurrentIndex(max(0, self.device_box.findData(settings.device)))
        self.precision_box = _choice_box(PRECISIONS, PRECISION_LABELS, settings.precision)
        self.slicing_box = _choice_box(ATTENTION_SLICING, SLICING_LABELS, settings.attention_slicing)
        self.vae_tiling_box = _choice_box(VAE_TILING, VAE_TILING_LABELS, settings.vae_tiling)
        self.preview_spin = QSpinBox(minimum=0, maximum=MAX_PREVIEW_EVERY, value=settings.preview_every,
                                     prefix="every ", suffix=" steps", specialValueText="never")
        form = QFormLayout()
        form.addRow("Device:", self.device_box)
        form.addRow("Precision:", self.precision_box)
        form.addRow("Attention slicing:", self.slicing_box)
        form.addRow("VAE tiling:", self.vae_tiling_box)
        form.addRow("Live preview:", self.preview_spin)
        return _page(form)

    def _network_tab(self, settings: Settings) -> QWidget:
        self.endpoint_edit = QLineEdit(settings.hub_endpoint, placeholderText=DEFAULT_ENDPOINT)
        self.offline_check = QCheckBox(OFFLINE_TEXT, checked=settings.offline)
        form = QFormLayout()
        form.addRow("Hub endpoint:", self.endpoint_edit)
        form.addRow(QLabel("A Hugging Face mirror for model downloads; empty uses huggingface.co.", wordWrap=True))
        form.addRow(self.offline_check)
        return _page(form)

    def _choose_outputs(self) -> None:
        folder = self._choose_folder(self, "Choose the output folder")
        if folder:
            self.outputs_edit.setText(folder)

    def _update_example(self) -> None:
        pattern = self.pattern_edit.text().strip() or DEFAULT_FILE_NAME_PATTERN
        problem = pattern_problem(pattern)
        self.example_label.setText(f"This pattern {problem}." if problem else f"Example: {example_file_name(pattern)}")

    def edited_settings(self) -> Settings:
        """The settings as the fields show them now (not checked)."""
        outputs = self.outputs_edit.text().strip()
        return dataclasses.replace(
            self._original,
            model_folders=self.model_folders.folders(),
            install_roots=self.install_roots.folders(),
            outputs_dir=outputs or None,
            file_name_pattern=self.pattern_edit.text().strip() or DEFAULT_FILE_NAME_PATTERN,
            device=self.device_box.currentData(),
            precision=self.precision_box.currentData(),
            attention_slicing=self.slicing_box.currentData(),
            vae=self.vae_box.choice() or VAE_AUTOMATIC,
            model_vaes=self.model_vaes.choices(),
            vae_tiling=self.vae_tiling_box.currentData(),
            preview_every=self.preview_spin.value(),
            hub_endpoint=self.endpoint_edit.text().strip().rstrip("/"),
            offline=self.offline_check.isChecked(),
            problems=[],
        )

    def problem(self, settings: Settings) -> tuple[str, QWidget] | None:
        """The first value that cannot be used, with the field to fix it in."""
        endpoint = endpoint_problem(settings.hub_endpoint)
        if endpoint:
            return endpoint, self.endpoint_edit
        pattern = pattern_problem(settings.file_name_pattern)
        if pattern:
            return f"The file-name pattern {pattern}.", self.pattern_edit
        if settings.outputs_dir and not Path(settings.outputs_dir).expanduser().is_absolute():
            return "The output folder must be a full path; use Choose… to pick one.", self.outputs_edit
        if settings.outputs_dir and Path(settings.outputs_dir).expanduser().is_file():
            return f"The output folder {settings.outputs_dir} is a file, not a folder.", self.outputs_edit
        return None

    def accept(self) -> None:
        settings = self.edited_settings()
        problem = self.problem(settings)
        if problem is None:
            problem = self._save(settings)
        if problem is not None:
            message, field = problem
            self._show_error(message, field)
            return
        self._result = settings
        super().accept()

    def _save(self, settings: Settings) -> tuple[str, QWidget] | None:
        try:
            settings.save(self._paths.settings_file)
        except OSError as error:
            return (f"The settings could not be saved to {self._paths.settings_file}: {error.strerror or error}",
                    self.buttons)
        return None

    def _show_error(self, message: str, field: QWidget) -> None:
        self.error_label.setText(message)
        self.error_label.setVisible(True)
        page = field.parentWidget()
        while page is not None and self.tabs.indexOf(page) < 0:
            page = page.parentWidget()
        if page is not None:
            self.tabs.setCurrentWidget(page)
        field.setFocus()

    def result_settings(self) -> Settings:
        """The saved settings after OK; the settings given, unchanged, otherwise."""
        return self._result


def _choice_box(values: Sequence[str], labels: dict[str, str], current: str) -> QComboBox:
    box = QComboBox()
    for value in values:
        box.addItem(labels.get(value, value), value)
    box.setCurrentIndex(max(0, box.findData(current)))
    return box


def _page(form: QFormLayout) -> QWidget:
    page = QWidget()
    page.setLayout(form)
    return page

"""ControlNet units as A1111's ControlNet extension shows them: three tabs, each a model, a control image
(the pose editor, a file, or the init image), a preprocessor, weight, guidance start/end and modes.

A preprocessor that runs a network shows when its weights file is missing, and offers to download it or
to take the file the person has."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton,
    QTabWidget, QVBoxLayout, QWidget,
)

from core.annotator_weights import (AnnotatorFile, annotator_download, download_folder, find_annotator,
                                    install_annotator)
from core.controlnet import CONTROL_MODES, CONTROL_RESIZE_MODES, ControlUnit
from core.errors import EaselError
from core.models.scan import ModelEntry
from core.preprocessors import PREPROCESSOR_NAMES, canonical_preprocessor, preprocessor

UNIT_COUNT = 3
SOURCES = {"pose": "Pose editor", "file": "Image file", "drawing": "Drawing on the Inpaint canvas",
           "init": "Init image"}
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp)"

ChooseFile = Callable[[QWidget], str]


def _ask_for_image(parent: QWidget) -> str:
    return QFileDialog.getOpenFileName(parent, "Choose a control image", "", IMAGE_FILTER)[0]


def _ask_for_weights(parent: QWidget, file: AnnotatorFile) -> str:
    return QFileDialog.getOpenFileName(parent, f"Choose {file.filename}", "",
                                       "Weights (*.pth *.pt *.safetensors *.bin)")[0]


def _download_task(model: object, dest_dir: Path, endpoint: str | None) -> Any:
    from desktop.download_worker import DownloadTask

    return DownloadTask(model, dest_dir, endpoint)


@dataclass
class AnnotatorPlaces:
    """Where preprocessor weights are looked for and downloaded to, and how."""

    models_dir: Path  # Easel's models folder: downloads and chosen files go to its annotators/ folder
    more_models_dirs: Callable[[], Sequence[Path]] = lambda: ()  # A1111 `models` folders, read only
    endpoint: Callable[[], str | None] = lambda: None  # Settings → Hub endpoint
    choose_weights: Callable[[QWidget, AnnotatorFile], str] = _ask_for_weights
    download_task: Callable[[object, Path, "str | None"], Any] = field(default=_download_task)

    def missing(self, files: Sequence[AnnotatorFile]) -> list[AnnotatorFile]:
        folders = [self.models_dir, *self.more_models_dirs()]
        return [file for file in files if not any(find_annotator(file, folder) for folder in folders)]


class WeightsRow(QWidget):
    """Under the preprocessor: the weights it lacks, with Download… and Choose file…; hidden when none."""

    def __init__(self) -> None:
        super().__init__()
        self.places: AnnotatorPlaces | None = None
        self._files: tuple[AnnotatorFile, ...] = ()
        self._task: Any = None
        self.label = QLabel(wordWrap=True)
        self.download_button = QPushButton("Download…", clicked=self.download)
        self.choose_button = QPushButton("Choose file…", clicked=self.choose)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.download_button)
        buttons.addWidget(self.choose_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addLayout(buttons)
        self.setVisible(False)

    def show_for(self, files: Sequence[AnnotatorFile]) -> None:
        self._files = tuple(files)
        self.refresh()

    def missing(self) -> list[AnnotatorFile]:
        return self.places.missing(self._files) if self.places is not None else []

    def refresh(self) -> None:
        if self._task is not None:
            return  # the download's progress is showing
        missing = self.missing()
        self.setVisible(bool(missing))
        if missing:
            file = missing[0]
            self.label.setText(f"This preprocessor needs {file.network}: {file.filename} (from "
                               f"huggingface.co/{file.repo_id}) is not in {self._folder(file)}.")
            self.download_button.setEnabled(True)

    def _folder(self, file: AnnotatorFile) -> Path:
        assert self.places is not None
        return download_folder(file, self.places.models_dir)

    def download(self) -> None:
        missing = self.missing()
        if not missing or self.places is None:
            return
        file = missing[0]
        task = self.places.download_task(annotator_download(file), self._folder(file), self.places.endpoint())
        self._task = task
        self.download_button.setEnabled(False)
        self.label.setText(f"Downloading {file.filename}…")
        task.progress.connect(lambda done, total: self.label.setText(
            f"Downloading {file.filename}: {done / 1e6:.0f} of {total / 1e6:.0f} MB"))
        task.finished.connect(self._downloaded)
        task.failed.connect(self._failed)
        task.cancelled.connect(self._downloaded)
        task.start()

    def _downloaded(self, *_: object) -> None:
        self._task = None
        self.refresh()

    def _failed(self, message: str, hint: str, _details: str) -> None:
        self._task = None
        self.refresh()
        self.label.setText(f"{message} {hint}".strip())

    def choose(self) -> None:
        missing = self.missing()
        if not missing or self.places is None:
            return
        chosen = self.places.choose_weights(self, missing[0])
        if not chosen:
            return
        try:
            install_annotator(Path(chosen), missing[0], self.places.models_dir)
        except (EaselError, OSError) as error:
            self.label.setText(getattr(error, "message", str(error)) + " " + getattr(error, "hint", ""))
            return
        self.refresh()

    def shutdown(self) -> None:
        """Stop a running download (it resumes next time) and wait for its thread."""
        if self._task is not None and self._task.is_running():
            self._task.cancel()
            self._task.wait()


class UnitEditor(QWidget):
    changed = Signal()

    def __init__(self, choose_file: ChooseFile = _ask_for_image) -> None:
        super().__init__()
        self._choose_file = choose_file
        self._image: Path | None = None
        self._wanted_model = ""
        self.enabled_box = QCheckBox("Enable")
        self.model_box = QComboBox()
        self.source_box = QComboBox()
        for key, label in SOURCES.items():
            self.source_box.addItem(label, key)
        self.image_label = QLabel("No image")
        self.image_button = QPushButton("Choose…", clicked=self.choose_image)
        self.preprocessor_box = QComboBox()
        self.preprocessor_box.addItems([name for name in PREPROCESSOR_NAMES if not preprocessor(name).refusal])
        self.weights_row = WeightsRow()
        self.weight_spin = QDoubleSpinBox(minimum=0.0, maximum=2.0, singleStep=0.05, value=1.0)
        self.start_spin = QDoubleSpinBox(minimum=0.0, maximum=1.0, singleStep=0.05, value=0.0)
        self.end_spin = QDoubleSpinBox(minimum=0.0, maximum=1.0, singleStep=0.05, value=1.0)
        self.mode_box = QComboBox()
        self.mode_box.addItems(list(CONTROL_MODES))
        self.resize_box = QComboBox()
        self.resize_box.addItems(list(CONTROL_RESIZE_MODES))
        self.resize_box.setCurrentText("Crop and Resize")
        self._layout()
        self._connect()
        self._show_source()

    def _layout(self) -> None:
        image_row = QHBoxLayout()
        image_row.addWidget(self.image_label, 1)
        image_row.addWidget(self.image_button)
        guidance = QHBoxLayout()
        guidance.addWidget(self.start_spin)
        guidance.addWidget(QLabel("to"))
        guidance.addWidget(self.end_spin)
        form = QFormLayout(self)
        form.setContentsMargins(4, 4, 4, 4)
        form.addRow(self.enabled_box)
        form.addRow("Model", self.model_box)
        form.addRow("Control image", self.source_box)
        form.addRow("", image_row)
        form.addRow("Preprocessor", self.preprocessor_box)
        form.addRow("", self.weights_row)
        form.addRow("Weight", self.weight_spin)
        form.addRow("Guidance", guidance)
        form.addRow("Control mode", self.mode_box)
        form.addRow("Resize mode", self.resize_box)

    def _connect(self) -> None:
        self.source_box.currentIndexChanged.connect(self._show_source)
        self.preprocessor_box.currentIndexChanged.connect(self._show_weights)
        for box in (self.model_box, self.source_box, self.preprocessor_box, self.mode_box, self.resize_box):
            box.currentIndexChanged.connect(self.changed)
        for spin in (self.weight_spin, self.start_spin, self.end_spin):
            spin.valueChanged.connect(self.changed)
        self.enabled_box.toggled.connect(self.changed)

    @property
    def source(self) -> str:
        return self.source_box.currentData()

    def set_annotator_places(self, places: AnnotatorPlaces | None) -> None:
        self.weights_row.places = places
        self._show_weights()

    def _show_weights(self) -> None:
        name = canonical_preprocessor(self.preprocessor_box.currentText())
        self.weights_row.show_for(preprocessor(name).weights if name else ())

    def set_models(self, names: Sequence[str]) -> None:
        """The ControlNet models found; a restored choice is selected once its model is listed."""
        wanted = self.model_box.currentText() or self._wanted_model
        self.model_box.clear()
        self.model_box.addItems(list(names))
        if wanted in names:
            self.model_box.setCurrentText(wanted)

    def set_image(self, path: Path | None) -> None:
        self._image = path
        self.image_label.setText(path.name if path else "No image")
        self.image_label.setToolTip(str(path) if path else "")
        self.changed.emit()

    def choose_image(self) -> None:
        chosen = self._choose_file(self)
        if chosen:
            self.set_image(Path(chosen))
            self.source_box.setCurrentIndex(self.source_box.findData("file"))

    def _show_source(self) -> None:
        from_file = self.source == "file"
        self.image_label.setEnabled(from_file)
        if self.source == "pose":
            self.preprocessor_box.setCurrentText("none")  # the editor's drawing is the control image itself

    def unit(self, pose_file: Path | None, drawing_file: Path | None = None) -> ControlUnit | None:
        """The unit to run, None when disabled; `pose_file` is the pose editor's document as JSON,
        `drawing_file` the strokes painted on the Inpaint canvas (white on black, a scribble)."""
        if not self.enabled_box.isChecked():
            return None
        unit = ControlUnit(
            model=self.model_box.currentText(), type="openpose" if self.source == "pose" else "",
            preprocessor=self.preprocessor_box.currentText(), weight=self.weight_spin.value(),
            guidance_start=self.start_spin.value(), guidance_end=self.end_spin.value(),
            control_mode=self.mode_box.currentText(), resize_mode=self.resize_box.currentText())
        if self.source == "pose":
            return unit.replace(pose=pose_file)
        if self.source == "file":
            return unit.replace(image=self._image)
        if self.source == "drawing":
            return unit.replace(image=drawing_file)
        return unit

    def state(self) -> dict[str, Any]:
        return {"enabled": self.enabled_box.isChecked(), "model": self.model_box.currentText(),
                "source": self.source, "image": str(self._image) if self._image else None,
                "preprocessor": self.preprocessor_box.currentText(), "weight": self.weight_spin.value(),
                "start": self.start_spin.value(), "end": self.end_spin.value(),
                "mode": self.mode_box.currentText(), "resize": self.resize_box.currentText()}

    def restore(self, state: Mapping[str, Any]) -> None:
        self.enabled_box.setChecked(bool(state.get("enabled")))
        self._wanted_model = str(state.get("model") or "")
        for box, key in ((self.model_box, "model"), (self.preprocessor_box, "preprocessor"),
                         (self.mode_box, "mode"), (self.resize_box, "resize")):
            if isinstance(state.get(key), str) and box.findText(state[key]) >= 0:
                box.setCurrentText(state[key])
        index = self.source_box.findData(state.get("source"))
        if index >= 0:
            self.source_box.setCurrentIndex(index)
        for spin, key in ((self.weight_spin, "weight"), (self.start_spin, "start"), (self.end_spin, "end")):
            if isinstance(state.get(key), (int, float)):
                spin.setValue(float(state[key]))
        if state.get("image"):
            self.set_image(Path(state["image"]))


class ControlUnitsPanel(QGroupBox):
    """Collapsed to its title until a unit is wanted; used in every mode, as in A1111."""

    changed = Signal()

    def __init__(self, choose_file: ChooseFile = _ask_for_image, annotators: AnnotatorPlaces | None = None) -> None:
        super().__init__("ControlNet")
        self.setCheckable(True)
        self.setChecked(False)
        self.editors = [UnitEditor(choose_file) for _ in range(UNIT_COUNT)]
        self.tabs = QTabWidget()
        for index, editor in enumerate(self.editors):
            self.tabs.addTab(editor, f"Unit {index}")
            editor.changed.connect(self.changed)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.tabs)
        self.toggled.connect(self.tabs.setVisible)
        self.toggled.connect(self.changed)
        self.tabs.setVisible(False)
        self.set_annotator_places(annotators)

    def set_annotator_places(self, places: AnnotatorPlaces | None) -> None:
        """Where preprocessor weights are found and downloaded to (None: the panel does not check them)."""
        for editor in self.editors:
            editor.set_annotator_places(places)

    def refresh_weights(self) -> None:
        """The folders may have changed (settings, a download elsewhere): check the weights again."""
        for editor in self.editors:
            editor.weights_row.refresh()

    def shutdown(self) -> None:
        for editor in self.editors:
            editor.weights_row.shutdown()

    def set_models(self, entries: Sequence[ModelEntry]) -> None:
        names = [entry.name for entry in entries if entry.kind == "controlnet" and entry.supported]
        for editor in self.editors:
            editor.set_models(names)

    def use_pose_editor(self) -> None:
        """Opening the Pose tab: unless a unit already takes the pose, the first free one does, with an
        openpose model when one is installed."""
        if self.isChecked() and any(e.enabled_box.isChecked() and e.source == "pose" for e in self.editors):
            return
        editor = self._free_editor()
        editor.source_box.setCurrentIndex(editor.source_box.findData("pose"))
        openpose = [editor.model_box.itemText(i) for i in range(editor.model_box.count())
                    if "openpose" in editor.model_box.itemText(i).lower()]
        if openpose:
            editor.model_box.setCurrentText(openpose[0])
        editor.enabled_box.setChecked(True)
        self.setChecked(True)

    def use_image(self, path: Path) -> int:
        """"Send to ControlNet": the image goes to the first free unit; returns that unit's number."""
        editor = self._free_editor()
        editor.set_image(path)
        editor.source_box.setCurrentIndex(editor.source_box.findData("file"))
        editor.enabled_box.setChecked(True)
        self.setChecked(True)
        self.tabs.setCurrentWidget(editor)
        return self.editors.index(editor)

    def _free_editor(self) -> UnitEditor:
        if not self.isChecked():
            return self.editors[0]
        return next((e for e in self.editors if not e.enabled_box.isChecked()), self.editors[-1])

    def units(self, pose_file: Callable[[], Path | None],
              drawing_file: Callable[[], Path | None] = lambda: None) -> tuple[ControlUnit, ...]:
        """The enabled units; `pose_file` and `drawing_file` write the pose or the canvas drawing when a unit
        uses it."""
        if not self.isChecked():
            return ()
        pose = pose_file() if self._uses("pose") else None
        drawing = drawing_file() if self._uses("drawing") else None
        return tuple(unit for unit in (editor.unit(pose, drawing) for editor in self.editors) if unit is not None)

    def _uses(self, source: str) -> bool:
        return any(editor.enabled_box.isChecked() and editor.source == source for editor in self.editors)

    def state(self) -> dict[str, Any]:
        return {"open": self.isChecked(), "units": [editor.state() for editor in self.editors]}

    def restore(self, state: Mapping[str, Any]) -> None:
        for editor, unit_state in zip(self.editors, state.get("units") or []):
            if isinstance(unit_state, dict):
                editor.restore(unit_state)
        self.setChecked(bool(state.get("open")))

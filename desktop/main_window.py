"""A minimal main window: model, prompt, a few settings, Generate/Cancel, progress and the image."""

from __future__ import annotations

from PIL.ImageQt import ImageQt
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QComboBox, QFormLayout, QHBoxLayout, QLabel, QMainWindow, QPlainTextEdit, QProgressBar, QPushButton,
    QSpinBox, QDoubleSpinBox, QVBoxLayout, QWidget,
)

from core.events import (
    Cancelled, EngineEvent, Failed, Finished, ImageDone, ModelLoading, Notice, Progress, Started,
)
from core.request import GenerationRequest
from core.samplers import SAMPLER_NAMES
from desktop.worker import InferenceWorker


class MainWindow(QMainWindow):
    generate_requested = Signal(object)
    models_requested = Signal()

    def __init__(self, worker: InferenceWorker) -> None:
        super().__init__()
        self._worker = worker
        self.setWindowTitle("Easel")
        self.resize(1100, 720)
        self._build()
        self.generate_requested.connect(worker.generate)
        self.models_requested.connect(worker.list_models)
        worker.event.connect(self.on_engine_event)
        worker.models_listed.connect(self.on_models_listed)
        worker.busy_changed.connect(self._on_busy)
        QShortcut(QKeySequence("Ctrl+Return"), self, activated=self.generate)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, activated=self.cancel)

    def _build(self) -> None:
        self.model_box = QComboBox()
        self.prompt_edit = QPlainTextEdit(placeholderText="Prompt")
        self.negative_edit = QPlainTextEdit(placeholderText="Negative prompt")
        for editor in (self.prompt_edit, self.negative_edit):
            editor.setMaximumHeight(110)
        self.sampler_box = QComboBox()
        self.sampler_box.addItems(list(SAMPLER_NAMES))
        self.steps_spin = QSpinBox(minimum=1, maximum=150, value=20)
        self.cfg_spin = QDoubleSpinBox(minimum=1.0, maximum=30.0, singleStep=0.5, value=7.0)
        self.seed_spin = QSpinBox(minimum=-1, maximum=2**31 - 1, value=-1, specialValueText="random")
        self.width_spin = QSpinBox(minimum=64, maximum=4096, singleStep=64, value=512)
        self.height_spin = QSpinBox(minimum=64, maximum=4096, singleStep=64, value=512)
        self.generate_button = QPushButton("Generate", clicked=self.generate)
        self.cancel_button = QPushButton("Cancel", clicked=self.cancel, enabled=False)
        self.progress = QProgressBar()
        self.status = QLabel("Ready")
        self.image_label = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.image_label.setMinimumSize(256, 256)

        form = QFormLayout()
        for label, widget in (("Model", self.model_box), ("Prompt", self.prompt_edit),
                              ("Negative", self.negative_edit), ("Sampler", self.sampler_box),
                              ("Steps", self.steps_spin), ("CFG scale", self.cfg_spin), ("Seed", self.seed_spin),
                              ("Width", self.width_spin), ("Height", self.height_spin)):
            form.addRow(label, widget)
        buttons = QHBoxLayout()
        buttons.addWidget(self.generate_button)
        buttons.addWidget(self.cancel_button)
        panel = QVBoxLayout()
        panel.addLayout(form)
        panel.addLayout(buttons)
        panel.addWidget(self.progress)
        panel.addWidget(self.status)
        panel.addStretch()
        root = QHBoxLayout()
        side = QWidget()
        side.setLayout(panel)
        side.setFixedWidth(360)
        root.addWidget(side)
        root.addWidget(self.image_label, 1)
        central = QWidget()
        central.setLayout(root)
        self.setCentralWidget(central)

    def request_model_list(self) -> None:
        self.status.setText("Looking for models ...")
        self.models_requested.emit()

    def on_models_listed(self, entries: list) -> None:
        self.model_box.clear()
        for entry in entries:
            self.model_box.addItem(f"{entry.name}  [{entry.architecture}]", str(entry.path))
        self.status.setText(f"{len(entries)} checkpoint(s) found" if entries else
                            "No checkpoints found: put .safetensors files in Easel's models folder.")

    def build_request(self) -> GenerationRequest:
        return GenerationRequest(
            model=self.model_box.currentData() or "",
            prompt=self.prompt_edit.toPlainText(),
            negative_prompt=self.negative_edit.toPlainText(),
            sampler=self.sampler_box.currentText(),
            steps=self.steps_spin.value(),
            cfg_scale=self.cfg_spin.value(),
            seed=self.seed_spin.value(),
            width=self.width_spin.value(),
            height=self.height_spin.value(),
        )

    def generate(self) -> None:
        if not self.model_box.currentData():
            self.status.setText("Choose a model first.")
            return
        self.generate_requested.emit(self.build_request())

    def cancel(self) -> None:
        self._worker.cancel_flag.set()
        self.status.setText("Cancelling ...")

    def _on_busy(self, busy: bool) -> None:
        self.generate_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)

    def on_engine_event(self, event: EngineEvent) -> None:
        """Every engine event arrives here, on the main thread."""
        if isinstance(event, ModelLoading):
            self.status.setText(f"Loading model {event.name} ...")
        elif isinstance(event, Started):
            self.status.setText(" ".join(event.notices) or f"Generating, seed {event.seeds[0]}")
        elif isinstance(event, Progress):
            self.progress.setMaximum(event.total)
            self.progress.setValue(event.step)
            if event.preview is not None:
                self._show(event.preview)
        elif isinstance(event, Notice):
            self.status.setText(event.text)
        elif isinstance(event, ImageDone):
            self._show(event.image)
            self.status.setText(f"Saved {event.path}" if event.path else f"Not saved: {event.save_error}")
        elif isinstance(event, Finished):
            self.status.setText(f"Done in {event.seconds:.1f} s")
        elif isinstance(event, Cancelled):
            self.status.setText("Cancelled")
        elif isinstance(event, Failed):
            self.status.setText(f"{event.message} {event.hint}".strip())

    def _show(self, image) -> None:  # type: ignore[no-untyped-def]
        pixmap = QPixmap.fromImage(ImageQt(image.convert("RGBA")))
        self.image_label.setPixmap(pixmap.scaled(self.image_label.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                                 Qt.TransformationMode.SmoothTransformation))

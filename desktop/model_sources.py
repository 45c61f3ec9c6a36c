"""The person's settings on the main thread: model folders, model files they add, the Settings dialog.

Every change is saved to settings.json, sent to the worker as a copy, and followed by a new model list.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QWidget

from core.models.scan import ModelEntry
from core.paths import AppPaths
from core.settings import Settings
from desktop.background import BackgroundTasks
from desktop.worker import settings_copy

MODEL_FILE_FILTER = "Models (*.safetensors *.ckpt *.pt *.pth *.bin)"


class ModelSources(QObject):
    settings_changed = Signal(object)  # a copy of the new Settings, for the worker
    models_changed = Signal()  # the model list must be read again
    info = Signal(str)
    error = Signal(str, str)  # message, hint

    def __init__(self, paths: AppPaths, settings: Settings, tasks: BackgroundTasks, window: QWidget) -> None:
        super().__init__(window)
        self._paths = paths
        self.settings = settings
        self._tasks = tasks
        self._window = window
        self.devices: tuple[str, ...] = ("cpu",)  # until the worker has looked (it imports torch)
        self.entries: list[ModelEntry] = []  # the last model list, for the Settings dialog's VAE choices

    def set_devices(self, devices: tuple) -> None:
        self.devices = tuple(devices)

    def set_models(self, entries: Sequence[ModelEntry]) -> None:
        self.entries = list(entries)

    def names(self, kind: str) -> list[str]:
        """The usable models of one kind, by name, sorted."""
        return sorted({entry.name for entry in self.entries if entry.kind == kind and entry.supported},
                      key=str.casefold)

    def add_folder(self, field: str, path: Path) -> None:
        """`field` is "model_folders" or "install_roots" (an A1111/ComfyUI install, used in place)."""
        folders: list[str] = getattr(self.settings, field)
        if str(path) not in folders:
            folders.append(str(path))
        self.settings.save(self._paths.settings_file)
        self._changed()

    def choose_model_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self._window, "Add a folder of models (or an A1111/ComfyUI folder)")
        if path:
            from core.models.scan import install_layout

            self.add_folder("install_roots" if install_layout(Path(path)) else "model_folders", Path(path))

    def choose_model_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self._window, "Add a model file", "", MODEL_FILE_FILTER)
        if path:
            self.add_model_file(Path(path))

    def add_model_file(self, path: Path) -> None:
        """Link or copy the file into Easel's models folder, off the main thread (a copy can take minutes)."""
        from core.models.install import install_model_file

        self.info.emit(f"Adding {path.name}…")
        self._tasks.run(lambda: install_model_file(path, self._paths.models_dir), self._on_model_added,
                        lambda error: self.error.emit(getattr(error, "message", str(error)),
                                                      getattr(error, "hint", "")))

    def open_settings_dialog(self) -> bool:
        """True when the person saved new settings."""
        from desktop.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.settings, self._paths, devices=self.devices, parent=self._window,
                                checkpoints=self.names("checkpoint"), vaes=self.names("vae"))
        if not dialog.exec():
            return False
        self.settings = dialog.result_settings()
        self._changed()
        return True

    def _on_model_added(self, target: Path) -> None:
        self.info.emit(f"Added {target.name} to {target.parent}.")
        self.models_changed.emit()

    def _changed(self) -> None:
        self.settings_changed.emit(settings_copy(self.settings))
        self.models_changed.emit()

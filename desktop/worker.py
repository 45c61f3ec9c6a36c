"""The inference worker: a QThread that owns the Engine and re-emits its events as one signal.

It also runs the Extras mode's upscales (core.upscale_job), whose events travel the same way.
"""

from __future__ import annotations

import copy
import traceback
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from core.events import CancelFlag, EngineEvent, Failed, ImageDone, Started
from core.paths import AppPaths
from core.request import GenerationRequest
from core.settings import Settings


class InferenceWorker(QObject):
    """Lives on its own thread; torch and diffusers are imported there, after the window is shown."""

    event = Signal(object)  # an EngineEvent
    busy_changed = Signal(bool)
    models_listed = Signal(list)  # every ModelEntry found (all kinds)
    devices_found = Signal(tuple)  # e.g. ("mps", "cpu"), once torch is imported on this thread
    warmed_up = Signal()  # diffusers imported and tokenizers built: the first generation starts at once
    recorded = Signal(object)  # a HistoryEntry, once an image is in the history database
    history_failed = Signal(str)
    history_changed = Signal()  # rows were added outside a generation (images recovered at start)
    upscale_running = Signal(bool)  # an Extras upscale started or ended (generations use busy_changed)

    def __init__(self, paths: AppPaths, settings: Settings) -> None:
        super().__init__()
        self._paths = paths
        self._settings = settings
        self._engine: Any = None
        self._history: Any = None
        self._request: GenerationRequest | None = None
        self._warm = False
        self.cancel_flag = CancelFlag()

    @Slot(object)
    def generate(self, request: GenerationRequest) -> None:
        self.cancel_flag.clear()
        self.busy_changed.emit(True)
        try:
            self._engine_instance().generate(request, self._emit, self.cancel_flag)
        finally:
            self._request = None
            self.busy_changed.emit(False)

    @Slot(object)
    def upscale(self, request: Any) -> None:
        """An UpscaleRequest from the Extras mode; every upscaled image is recorded in the history."""
        from core.model_resolution import ModelResolver
        from core.upscale_job import extras_folder, run_upscale

        self.cancel_flag.clear()
        self.upscale_running.emit(True)
        try:
            entries = ModelResolver.from_settings(self._paths, self._settings).entries()
            run_upscale(request, entries, extras_folder(self._outputs_dir()), self._emit, self.cancel_flag,
                        device=self._upscale_device())
        except Exception as error:  # noqa: BLE001 - out of memory and the like: say so, stay usable
            self._emit(Failed(f"Upscaling failed: {error}", "See the details; the app is still usable.",
                              traceback.format_exc()))
        finally:
            self.upscale_running.emit(False)

    def _upscale_device(self) -> str:
        from core.device import plan_device

        try:
            return str(plan_device(self._settings.device, self._settings.precision).device)
        except Exception:  # noqa: BLE001 - a device from the settings that is gone: the CPU still works
            return "cpu"

    @Slot()
    def list_models(self) -> None:
        from core.model_resolution import ModelResolver

        self.models_listed.emit(ModelResolver.from_settings(self._paths, self._settings).entries())
        from core.device import available_devices

        self.devices_found.emit(tuple(available_devices()))
        if not self._warm:
            self._engine_instance().warm_up()
            self._warm = True
            self.warmed_up.emit()

    @Slot()
    def recover_images(self) -> None:
        """Images saved just before a crash, without their history row, come back into the gallery."""
        from core.images import remove_stale_temp_files

        outputs = self._outputs_dir()
        try:
            remove_stale_temp_files(outputs)
            added = self._history_instance().import_untracked(outputs)
        except Exception as error:  # noqa: BLE001 - recovery is a courtesy; the app must start anyway
            self.history_failed.emit(f"Could not look for unrecorded images in {outputs}: {error}")
            return
        if added:
            self.history_changed.emit()

    @Slot(object)
    def apply_settings(self, settings: Settings) -> None:
        """New settings take effect from the next request; a changed device or precision reloads the model.

        Model folders are read by a fresh resolver, so a folder added in Settings is searched at once."""
        self._settings = settings
        if self._engine is not None:
            from core.model_resolution import ModelResolver

            self._engine.apply_settings(self._paths, settings)
            self._engine.use_resolver(ModelResolver.from_settings(self._paths, settings))

    @Slot()
    def shut_down(self) -> None:
        if self._history is not None:
            self._history.close()
            self._history = None

    def _emit(self, event: EngineEvent) -> None:
        if isinstance(event, Started):
            self._request = event.request
        self.event.emit(event)
        if isinstance(event, ImageDone) and event.path is not None:
            self._record(event)

    def _record(self, done: ImageDone) -> None:
        from core.infotext import parse_infotext, request_fields_from_infotext

        parsed = parse_infotext(done.infotext)
        params = parsed.params
        if self._request is not None:
            request = self._request.replace(seed=done.seed).to_json_dict()
        else:  # an upscaled image: the settings that made its source, as its infotext keeps them
            request = request_fields_from_infotext(parsed) if params else {}
        try:
            entry = self._history_instance().record(
                done.path, done.image, done.infotext, request,
                model_name=params.get("Model", ""), model_hash=params.get("Model hash"))
        except Exception as error:  # noqa: BLE001 - the image is saved; history trouble must not stop generating
            self.history_failed.emit(f"{done.path.name} was saved but not added to the history: {error}")
            return
        self.recorded.emit(entry)

    def _history_instance(self) -> Any:
        if self._history is None:
            from core.history import History

            # The window's own connection checked the database at start; a second check would only cost time.
            self._history = History.open(self._paths.history_db, check=False)
        return self._history

    def _outputs_dir(self) -> Path:
        return self._settings.outputs_folder(self._paths.outputs_dir)

    def _engine_instance(self) -> Any:
        if self._engine is None:
            from core.engine import Engine
            from core.model_resolution import ModelResolver

            resolver = ModelResolver.from_settings(self._paths, self._settings)
            self._engine = Engine.from_settings(resolver, self._paths, self._settings)
        return self._engine


class WorkerThread(QThread):
    """Owns the worker object's thread; quit() on close."""

    def __init__(self, worker: InferenceWorker) -> None:
        super().__init__()
        self.worker = worker
        worker.moveToThread(self)


def settings_copy(settings: Settings) -> Settings:
    """Settings cross threads as copies: the UI edits its own, the worker reads a snapshot."""
    return copy.deepcopy(settings)

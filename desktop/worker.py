"""The inference worker: a QThread that owns the Engine and re-emits its events as one signal."""

from __future__ import annotations

from PySide6.QtCore import QObject, QThread, Signal, Slot

from core.events import CancelFlag, EngineEvent
from core.paths import AppPaths
from core.request import GenerationRequest
from core.settings import Settings


class InferenceWorker(QObject):
    """Lives on its own thread; torch and diffusers are imported there, after the window is shown."""

    event = Signal(object)  # an EngineEvent
    busy_changed = Signal(bool)
    models_listed = Signal(list)  # checkpoint ModelEntry values

    def __init__(self, paths: AppPaths, settings: Settings) -> None:
        super().__init__()
        self._paths = paths
        self._settings = settings
        self._engine = None
        self.cancel_flag = CancelFlag()

    @Slot(object)
    def generate(self, request: GenerationRequest) -> None:
        self.cancel_flag.clear()
        self.busy_changed.emit(True)
        try:
            self._engine_instance().generate(request, self._emit, self.cancel_flag)
        finally:
            self.busy_changed.emit(False)

    @Slot()
    def list_models(self) -> None:
        from core.model_resolution import ModelResolver

        resolver = ModelResolver.from_settings(self._paths, self._settings)
        self.models_listed.emit(resolver.checkpoints())

    def _emit(self, event: EngineEvent) -> None:
        self.event.emit(event)

    def _engine_instance(self):  # type: ignore[no-untyped-def]
        if self._engine is None:
            from core.engine import Engine
            from core.model_resolution import ModelResolver

            resolver = ModelResolver.from_settings(self._paths, self._settings)
            self._engine = Engine(resolver, self._paths.outputs_dir, device=self._settings.device)
        return self._engine


class WorkerThread(QThread):
    """Owns the worker object's thread; quit() on close."""

    def __init__(self, worker: InferenceWorker) -> None:
        super().__init__()
        self.worker = worker
        worker.moveToThread(self)

"""Feeds queued requests to the worker one at a time, on the main thread."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal, Slot

from core.job_queue import JobQueue
from core.request import GenerationRequest


class JobDispatcher(QObject):
    """Generate always enqueues; the next job starts when the worker says it is idle.

    A queue restored from the last session starts paused, so nothing runs before the person asks.
    """

    dispatch = Signal(object)  # GenerationRequest, connected to the worker's generate slot
    running_changed = Signal(object)  # the running GenerationRequest, or None
    paused_changed = Signal(bool)

    def __init__(self, queue: JobQueue) -> None:
        super().__init__()
        self.queue = queue
        self._running: GenerationRequest | None = None
        self._paused = len(queue) > 0

    @property
    def busy(self) -> bool:
        return self._running is not None

    @property
    def paused(self) -> bool:
        return self._paused

    def submit(self, request: GenerationRequest) -> None:
        self.queue.add(request)
        self.resume()

    def pause(self) -> None:
        """Start nothing new (the app is closing); the queue stays saved for the next run."""
        if not self._paused:
            self._paused = True
            self.paused_changed.emit(True)

    def resume(self) -> None:
        if self._paused:
            self._paused = False
            self.paused_changed.emit(False)
        self._start_next()

    @Slot(bool)
    def on_worker_busy(self, busy: bool) -> None:
        if busy:
            return
        self._running = None
        self.running_changed.emit(None)
        self._start_next()

    def _start_next(self) -> None:
        if self._running is not None or self._paused:
            return
        job = self.queue.take_next()
        if job is None:
            return
        self._running = job.request
        self.running_changed.emit(job.request)
        self.dispatch.emit(job.request)

"""A model download on its own thread, so the window never waits for the network or the checksum."""

from __future__ import annotations

import threading
import time
import traceback
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject, QThread, Signal, Slot

from core.errors import EaselError

PROGRESS_INTERVAL_S = 0.1  # the download reports every chunk; the UI needs no more than this

# download_model's signature: (model, dest_dir, endpoint, on_progress, cancel) -> Path
DownloadFunction = Callable[..., Path]


def _download_model(*args: object) -> Path:
    from core.downloads import download_model  # imported on the download thread: huggingface_hub is slow to load

    return download_model(*args)


class _Runner(QObject):
    """Runs one download on the worker thread; its signals cross back to the task on the UI thread."""

    progress = Signal(object, object)  # bytes done, total (ints past 2**31: not a Qt int)
    done = Signal(object)
    failed = Signal(str, str, str)
    cancelled = Signal()

    def __init__(self, args: tuple[object, ...], download: DownloadFunction, stop: threading.Event) -> None:
        super().__init__()
        self._args = args
        self._download = download
        self._stop = stop
        self._last_report = 0.0

    @Slot()
    def run(self) -> None:
        try:
            path = self._download(*self._args, self._report, self._stop.is_set)
        except Exception as error:  # noqa: BLE001 - every failure becomes a message, the thread must end cleanly
            self._fail(error)
        else:
            self.done.emit(Path(path))

    def _fail(self, error: Exception) -> None:
        if self._stop.is_set():
            self.cancelled.emit()
        elif isinstance(error, EaselError):
            self.failed.emit(error.message, error.hint, error.details)
        else:
            self.failed.emit(f"The download failed: {error}", "Check the connection or the hub endpoint in "
                             "Settings, then download again: it resumes where it stopped.", traceback.format_exc())

    def _report(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self._last_report >= PROGRESS_INTERVAL_S or done >= total:
            self._last_report = now
            self.progress.emit(done, total)


class DownloadTask(QObject):
    """One download of a recommended model into `dest_dir`; signals arrive on the thread that made the task."""

    progress = Signal(object, object)  # bytes done, bytes total
    finished = Signal(object)  # Path of the verified file
    failed = Signal(str, str, str)  # message, hint, details
    cancelled = Signal()

    def __init__(self, model: object, dest_dir: Path, endpoint: str | None,
                 download: DownloadFunction = _download_model, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._stop = threading.Event()
        self._thread = QThread()
        self._runner = _Runner((model, dest_dir, endpoint), download, self._stop)
        self._runner.moveToThread(self._thread)
        self._thread.started.connect(self._runner.run)
        self._runner.progress.connect(self.progress)
        # Bound slots of this UI-thread object, so Qt queues the calls onto the UI thread.
        self._runner.done.connect(self._on_done)
        self._runner.failed.connect(self._on_failed)
        self._runner.cancelled.connect(self._on_cancelled)

    def start(self) -> None:
        self._thread.start()

    def cancel(self) -> None:
        """Stop at the next chunk; what was downloaded stays for a resume."""
        self._stop.set()

    def is_running(self) -> bool:
        return self._thread.isRunning()

    def wait(self, timeout_ms: int = 30_000) -> bool:
        return self._thread.wait(timeout_ms)

    @Slot(object)
    def _on_done(self, path: Path) -> None:
        self._stop_thread()
        self.finished.emit(path)

    @Slot(str, str, str)
    def _on_failed(self, message: str, hint: str, details: str) -> None:
        self._stop_thread()
        self.failed.emit(message, hint, details)

    @Slot()
    def _on_cancelled(self) -> None:
        self._stop_thread()
        self.cancelled.emit()

    def _stop_thread(self) -> None:
        self._thread.quit()
        self._thread.wait()

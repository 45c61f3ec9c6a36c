"""Start the desktop app: settings, history, queue, the worker thread and the main window.

The window is built and shown before torch or diffusers are imported: the worker imports them on its
own thread when the first request (or model list) arrives.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import shiboken6
from PySide6.QtCore import QEvent, QMetaObject, QObject, Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from core.history import History
from core.job_queue import JobQueue
from core.paths import AppPaths, resources_dir
from core.platform_checks import PlatformInfo, platform_notices, read_platform
from core.settings import Settings
from desktop.job_dispatcher import JobDispatcher
from desktop.main_window import MainWindow
from desktop.worker import InferenceWorker, WorkerThread, settings_copy


@dataclass
class Session:
    """Everything one run of the app owns; `close()` stops the worker and closes the databases."""

    paths: AppPaths
    settings: Settings
    window: MainWindow
    worker: InferenceWorker
    thread: WorkerThread
    history: History

    def close(self) -> None:
        self.worker.cancel_flag.set()
        # On the worker's thread, after the current step: its database connection belongs to that thread.
        QMetaObject.invokeMethod(self.worker, "shut_down", Qt.ConnectionType.BlockingQueuedConnection)
        self.thread.quit()
        self.thread.wait()
        self.history.close()
        # Delete the Qt objects now, on this thread. Left to Python's garbage collector they could be
        # destroyed on whichever thread happens to collect them, and Qt aborts on a widget deleted there.
        for qt_object in (self.window, self.worker, self.thread):
            if shiboken6.isValid(qt_object):
                shiboken6.delete(qt_object)


def start_session(paths: AppPaths, confirm: Callable[[str], bool] | None = None,
                  trash: Callable[[Path], None] | None = None, show: bool = True,
                  platform: PlatformInfo | None = None) -> Session:
    """`platform`: the facts the start-up checks read (the running system's when None)."""
    settings = Settings.load(paths.settings_file)
    history = History.open(paths.history_db)
    dispatcher = JobDispatcher(JobQueue(paths.home / "queue.json"))
    worker = InferenceWorker(paths, settings_copy(settings))
    thread = WorkerThread(worker)
    window = MainWindow(worker, paths, settings, dispatcher, history, confirm=confirm, trash=trash)
    if show:
        window.show()  # before the worker thread starts importing torch
    thread.start()
    for problem in [*settings.problems, *([history.notice] if history.notice else [])]:
        window.notifications.show_warning(problem)
    show_platform_notices(window, platform or read_platform())
    _offer_restored_queue(window, dispatcher)
    window.load_token_counter()
    window.request_model_list()
    # After the model list: the first look through a large output folder reads every image in it.
    QMetaObject.invokeMethod(worker, "recover_images", Qt.ConnectionType.QueuedConnection)
    return Session(paths, settings, window, worker, thread, history)


def _offer_restored_queue(window: MainWindow, dispatcher: JobDispatcher) -> None:
    waiting = len(dispatcher.queue)
    if dispatcher.paused and waiting:
        message = window.notifications.show_info(
            f"{waiting} queued request(s) from the last session are waiting.", timeout_ms=0)
        message.add_action("Run queue", dispatcher.resume, closes=True)


def show_platform_notices(window: MainWindow, platform: PlatformInfo) -> None:
    """Rosetta or an old macOS takes the GPU away: say so, and what to do, before the first slow image.
    (torch is not imported yet here, so a torch built without MPS is reported by `easel --self-test`.)"""
    for notice in platform_notices(platform):
        window.notifications.show_warning(notice.message, notice.hint)


class FileOpenEvents(QObject):
    """macOS hands files opened with Easel (Finder's Open With, a drop on the Dock icon) to the running
    app as QFileOpenEvents; they are opened as dropped files."""

    def __init__(self, open_paths: Callable[[list[Path]], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._open_paths = open_paths

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.FileOpen and event.file():  # type: ignore[attr-defined]
            self._open_paths([Path(event.file())])  # type: ignore[attr-defined]
            return True
        return super().eventFilter(watched, event)


def opened_files(argv: Sequence[str]) -> list[Path]:
    """Files given on the command line (Windows' and Linux's Open With pass them so)."""
    return [Path(arg) for arg in argv if not arg.startswith("-") and Path(arg).is_file()]


def run_app(argv: Sequence[str] = ()) -> int:
    app = QApplication.instance() or QApplication([sys.argv[0], *argv])
    app.setApplicationName("Easel")
    app.setOrganizationName("Easel")
    icon = resources_dir() / "icons" / "easel.png"
    if icon.is_file():
        app.setWindowIcon(QIcon(str(icon)))
    paths = AppPaths.from_environment().ensure()
    session = start_session(paths)
    file_opener = FileOpenEvents(session.window.open_dropped, app)
    app.installEventFilter(file_opener)
    if files := opened_files(argv):
        session.window.open_dropped(files)
    try:
        return app.exec()
    finally:
        session.close()

"""Start the desktop app: settings, the worker thread, the main window."""

from __future__ import annotations

import sys
from typing import Sequence

from PySide6.QtWidgets import QApplication

from core.paths import AppPaths
from core.settings import Settings
from desktop.main_window import MainWindow
from desktop.worker import InferenceWorker, WorkerThread


def run_app(argv: Sequence[str] = ()) -> int:
    app = QApplication.instance() or QApplication([sys.argv[0], *argv])
    app.setApplicationName("Easel")
    app.setOrganizationName("Easel")
    paths = AppPaths.from_environment().ensure()
    settings = Settings.load(paths.settings_file)
    worker = InferenceWorker(paths, settings)
    thread = WorkerThread(worker)
    window = MainWindow(worker)
    thread.start()
    window.show()
    window.request_model_list()
    try:
        return app.exec()
    finally:
        thread.quit()
        thread.wait()

"""The minimal window: finds models, generates on the worker thread, shows the image, stays responsive."""

from __future__ import annotations

import shutil

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt  # noqa: E402

from core.events import Finished, Progress  # noqa: E402
from core.paths import AppPaths  # noqa: E402
from core.settings import Settings  # noqa: E402
from desktop.main_window import MainWindow  # noqa: E402
from desktop.worker import InferenceWorker, WorkerThread  # noqa: E402


@pytest.fixture
def window(qtbot, easel_home, tiny_models):
    paths = AppPaths(easel_home).ensure()
    checkpoint = paths.models_dir / "checkpoints" / "tiny-sd1.safetensors"
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(tiny_models["sd1"].checkpoint, checkpoint)
    settings = Settings(model_configs={str(checkpoint.resolve()): str(tiny_models["sd1"].config_dir)})
    worker = InferenceWorker(paths, settings)
    thread = WorkerThread(worker)
    thread.start()
    main = MainWindow(worker)
    qtbot.addWidget(main)
    main.show()
    yield main
    thread.quit()
    thread.wait()


def test_window_lists_models_and_generates_an_image(qtbot, window):
    with qtbot.waitSignal(window._worker.models_listed, timeout=60_000):
        window.request_model_list()
    assert window.model_box.count() == 1 and "sd1" in window.model_box.itemText(0)
    window.prompt_edit.setPlainText("a small boat")
    window.steps_spin.setValue(2)
    window.width_spin.setValue(64)
    window.height_spin.setValue(64)
    events = []
    window._worker.event.connect(events.append)
    qtbot.keyClick(window, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    # The window's own state, updated on the main thread, is what a person sees.
    qtbot.waitUntil(lambda: window.status.text().startswith("Done in") and window.generate_button.isEnabled(),
                    timeout=120_000)
    assert any(isinstance(e, Finished) for e in events)
    assert [e.step for e in events if isinstance(e, Progress)] == [1, 2]
    assert window.image_label.pixmap() is not None and not window.image_label.pixmap().isNull()

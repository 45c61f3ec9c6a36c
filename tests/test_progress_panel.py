"""The progress panel turns engine events into the texts a person reads while an image is made."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt  # noqa: E402

from core.events import (  # noqa: E402
    Cancelled, Failed, Finished, ModelLoading, ModelReady, Progress, Started,
)
from core.request import GenerationRequest  # noqa: E402
from desktop.progress_panel import ProgressPanel, format_duration  # noqa: E402


@pytest.fixture
def panel(qtbot):
    widget = ProgressPanel()
    qtbot.addWidget(widget)
    widget.show()
    return widget


def started(batch_size: int = 1, batch_count: int = 1) -> Started:
    request = GenerationRequest(model="dreamshaper_8", batch_size=batch_size, batch_count=batch_count)
    return Started(request, tuple(range(batch_size * batch_count)))


def test_loading_then_steps_show_step_count_speed_and_time_left(panel):
    assert panel.status_label.text() == "Ready" and not panel.cancel_button.isEnabled()
    panel.handle(ModelLoading("dreamshaper_8"))
    assert panel.status_label.text() == "Loading model dreamshaper_8…"
    assert panel.cancel_button.isEnabled()
    panel.handle(ModelReady("dreamshaper_8", 4.2))
    panel.handle(started())
    panel.handle(Progress(step=4, total=20, elapsed=3.0))
    assert panel.steps_label.text() == "4/20"
    assert panel.speed_label.text() == "1.33 it/s"
    assert panel.eta_label.text() == "0:12 left"
    assert (panel.bar.value(), panel.bar.maximum()) == (4, 20)
    assert panel.batch_label.text() == ""


def test_slow_steps_are_shown_as_seconds_per_step(panel):
    panel.handle(started())
    panel.handle(Progress(step=2, total=20, elapsed=4.0))
    assert panel.speed_label.text() == "2.00 s/it"
    assert panel.eta_label.text() == "0:36 left"


def test_batch_count_shows_which_image_and_time_left_for_all_of_them(panel):
    panel.handle(started(batch_count=4))
    panel.handle(Progress(step=10, total=20, elapsed=5.0, batch_index=1, batch_total=4))
    assert panel.batch_label.text() == "image 2 of 4"
    # 10 steps of this image and 2 x 20 of the next two, at 2 it/s.
    assert panel.eta_label.text() == "0:25 left"


def test_batches_of_several_images_name_the_range(panel):
    panel.handle(started(batch_size=2, batch_count=2))
    panel.handle(Progress(step=1, total=20, elapsed=1.0, batch_index=1, batch_total=2))
    assert panel.batch_label.text() == "images 3–4 of 4"


def test_cancel_button_asks_once_and_says_cancelling(qtbot, panel):
    panel.handle(started())
    panel.handle(Progress(step=1, total=20, elapsed=1.0))
    with qtbot.waitSignal(panel.cancel_requested, timeout=1000):
        qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    assert panel.status_label.text() == "Cancelling…" and not panel.cancel_button.isEnabled()
    panel.handle(Progress(step=2, total=20, elapsed=2.0))  # a step already under way still reports
    assert panel.status_label.text() == "Cancelling…" and not panel.cancel_button.isEnabled()
    panel.handle(Cancelled(images_kept=0))
    assert panel.status_label.text() == "Cancelled" and panel.state == "idle"


def test_finish_and_failure_return_to_idle(panel):
    panel.handle(started(batch_count=2))
    panel.handle(Progress(step=20, total=20, elapsed=10.0, batch_index=1, batch_total=2))
    assert panel.status_label.text() == "Decoding and saving…"
    panel.handle(Finished((Path("a.png"), Path("b.png")), (1, 2), 21.34))
    assert panel.status_label.text() == "Done in 21.3 s (2 images saved)"
    assert not panel.cancel_button.isEnabled()
    panel.begin(GenerationRequest(model="x"))
    assert panel.status_label.text() == "Preparing…" and panel.steps_label.text() == ""
    panel.handle(Failed("Out of memory while generating.", "Lower the size."))
    assert panel.status_label.text() == "Failed: Out of memory while generating."
    assert not panel.cancel_button.isEnabled()


def test_durations_read_like_a_clock():
    assert [format_duration(s) for s in (0, 12.4, 185, 3723)] == ["0:00", "0:12", "3:05", "1:02:03"]


def test_an_upscale_shows_tiles_and_images_and_offers_cancel(panel):
    from core.events import UpscaleProgress

    panel.begin_upscale()
    assert panel.status_label.text() == "Upscaling…" and panel.cancel_button.isEnabled()
    panel.handle(UpscaleProgress(image_index=1, image_count=3, tile=2, tiles=6))
    assert (panel.steps_label.text(), panel.batch_label.text()) == ("tile 2/6", "image 2 of 3")
    assert (panel.bar.value(), panel.bar.maximum()) == (2, 6)
    panel.handle(UpscaleProgress(image_index=2, image_count=3, tile=6, tiles=6))
    assert panel.status_label.text() == "Saving…"
    panel.handle(Finished(paths=(Path("a.png"), Path("b.png"), Path("c.png")), seeds=(), seconds=2.5))
    assert panel.status_label.text() == "Done in 2.5 s (3 images saved)" and not panel.cancel_button.isEnabled()

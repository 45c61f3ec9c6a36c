"""Progress of the running generation (or upscale): state, step/total (tile/tiles), speed, time left, which image,
and Cancel."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGridLayout, QLabel, QProgressBar, QPushButton, QWidget

from core.events import (
    Cancelled, EngineEvent, Failed, Finished, ModelLoading, ModelReady, Progress, Started, UpscaleProgress,
)
from core.request import GenerationRequest

IDLE, LOADING, PREPARING, GENERATING, CANCELLING = "idle", "loading", "preparing", "generating", "cancelling"


def format_speed(iterations_per_second: float) -> str:
    """As tqdm and A1111 show it: it/s when at least one step a second, else s/it."""
    if iterations_per_second <= 0:
        return ""
    if iterations_per_second >= 1:
        return f"{iterations_per_second:.2f} it/s"
    return f"{1 / iterations_per_second:.2f} s/it"


def format_duration(seconds: float) -> str:
    """0:12, 3:05, 1:02:03."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def images_label(batch_index: int, batch_total: int, batch_size: int) -> str:
    """Which image(s) of the whole request the current batch makes; empty for a single image."""
    count = batch_total * batch_size
    if count <= 1:
        return ""
    first = batch_index * batch_size + 1
    if batch_size == 1:
        return f"image {first} of {count}"
    return f"images {first}–{first + batch_size - 1} of {count}"


def seconds_left_in_request(event: Progress) -> float:
    """Time left for the whole request, the batches still to come included, at the current speed."""
    rate = event.iterations_per_second
    if rate <= 0:
        return 0.0
    steps_left = event.total - event.step + (event.batch_total - event.batch_index - 1) * event.total
    return steps_left / rate


class ProgressPanel(QWidget):
    """Fed every engine event through `handle`; says what is happening and offers Cancel while busy."""

    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = IDLE
        self._batch_size = 1
        self.status_label = QLabel("Ready")
        self.bar = QProgressBar(textVisible=False)
        self.steps_label = QLabel()
        self.speed_label = QLabel()
        self.eta_label = QLabel()
        self.batch_label = QLabel()
        self.cancel_button = QPushButton("Cancel", enabled=False, toolTip="Stop after the current step (Esc)")
        self.cancel_button.clicked.connect(self.request_cancel)
        self._lay_out()

    def _lay_out(self) -> None:
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(self.status_label, 0, 0, 1, 3)
        grid.addWidget(self.batch_label, 0, 3)
        grid.addWidget(self.bar, 1, 0, 1, 3)
        grid.addWidget(self.cancel_button, 1, 3)
        grid.addWidget(self.steps_label, 2, 0)
        grid.addWidget(self.speed_label, 2, 1)
        grid.addWidget(self.eta_label, 2, 2)
        grid.setColumnStretch(0, 1)

    def begin(self, request: GenerationRequest | None = None) -> None:
        """The window sent a request; events will follow."""
        self.state = IDLE
        self._batch_size = request.batch_size if request is not None else 1
        self._set_state(PREPARING, "Preparing…")
        self._clear_numbers()

    def begin_upscale(self) -> None:
        """The window sent an Extras upscale; tile progress will follow."""
        self.state = IDLE
        self._set_state(PREPARING, "Upscaling…")
        self._clear_numbers()

    def handle(self, event: EngineEvent) -> None:
        if isinstance(event, ModelLoading):
            self._set_state(LOADING, f"Loading model {event.name}…")
            self.bar.setRange(0, 0)  # busy indicator: a load reports no steps
        elif isinstance(event, ModelReady):
            self._set_state(PREPARING, f"Model {event.name} loaded in {event.seconds:.1f} s")
            self.bar.setRange(0, 1)
        elif isinstance(event, Started):
            self._batch_size = event.request.batch_size
            self._set_state(GENERATING, "Generating…")
        elif isinstance(event, Progress):
            self._show_progress(event)
        elif isinstance(event, UpscaleProgress):
            self._show_upscale(event)
        else:
            self._finish(event)

    def _show_progress(self, event: Progress) -> None:
        self._set_state(GENERATING, "Generating…" if event.step < event.total else "Decoding and saving…")
        self.bar.setRange(0, event.total)
        self.bar.setValue(event.step)
        self.steps_label.setText(f"{event.step}/{event.total}")
        self.speed_label.setText(format_speed(event.iterations_per_second))
        left = seconds_left_in_request(event)
        self.eta_label.setText(f"{format_duration(left)} left" if event.iterations_per_second > 0 else "")
        self.batch_label.setText(images_label(event.batch_index, event.batch_total, self._batch_size))

    def _show_upscale(self, event: UpscaleProgress) -> None:
        self._set_state(GENERATING, "Upscaling…" if event.tile < event.tiles else "Saving…")
        self.bar.setRange(0, event.tiles)
        self.bar.setValue(event.tile)
        self.steps_label.setText(f"tile {event.tile}/{event.tiles}")
        self.speed_label.clear()
        self.eta_label.clear()
        count = event.image_count
        self.batch_label.setText(f"image {event.image_index + 1} of {count}" if count > 1 else "")

    def _finish(self, event: EngineEvent) -> None:
        if isinstance(event, Finished):
            count = len(event.paths)
            what = f"{count} images" if count != 1 else "1 image"
            self._to_idle(f"Done in {event.seconds:.1f} s ({what} saved)")
        elif isinstance(event, Cancelled):
            kept = f", {event.images_kept} image(s) kept" if event.images_kept else ""
            self._to_idle(f"Cancelled{kept}")
        elif isinstance(event, Failed):
            self._to_idle(f"Failed: {event.message}")

    def request_cancel(self) -> None:
        if self.state in (IDLE, CANCELLING):
            return
        self._set_state(CANCELLING, "Cancelling…")
        self.cancel_requested.emit()

    def _to_idle(self, text: str) -> None:
        self._set_state(IDLE, text)
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.eta_label.clear()

    def _clear_numbers(self) -> None:
        for label in (self.steps_label, self.speed_label, self.eta_label, self.batch_label):
            label.clear()
        self.bar.setRange(0, 1)
        self.bar.setValue(0)

    def _set_state(self, state: str, text: str) -> None:
        if self.state == CANCELLING and state != IDLE:
            return  # a late event must not offer Cancel again once the user asked for it
        self.state = state
        self.status_label.setText(text)
        self.cancel_button.setEnabled(state not in (IDLE, CANCELLING))

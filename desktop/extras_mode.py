"""The Extras mode's runs: the panel's request to the worker's `upscale` slot, and whether one is under way."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from desktop.extras_panel import ExtrasPanel
from desktop.progress_panel import ProgressPanel


class ExtrasRunner(QObject):
    """Upscales go to the worker thread directly (not through the generation queue): they are short and the
    person is watching. One behind a running generation waits for it on the worker's thread."""

    upscale_requested = Signal(object)  # an UpscaleRequest, connected to InferenceWorker.upscale
    problem = Signal(str)

    def __init__(self, panel: ExtrasPanel, progress: ProgressPanel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._panel = panel
        self._progress = progress
        self._pending = 0  # sent and not yet finished
        self.active = False  # the worker is upscaling now (not a generation that a sent upscale waits behind)

    @property
    def running(self) -> bool:
        """An upscale was sent and has not finished (it may still wait for a generation)."""
        return self._pending > 0

    def run(self) -> bool:
        """Send the panel's request; False (after saying why) when there is nothing to upscale."""
        request = self._panel.request()
        if request is None:
            self.problem.emit("Nothing to upscale: send an image from the gallery (Upscale), or add files or a "
                              "folder in the Extras panel.")
            return False
        self._pending += 1
        self._progress.begin_upscale()
        self.upscale_requested.emit(request)
        return True

    def on_worker_running(self, running: bool) -> None:
        """The worker's `upscale_running`: False once a sent upscale has finished, failed or been cancelled."""
        self.active = running
        if not running:
            self._pending = max(0, self._pending - 1)

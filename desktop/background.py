"""Run short blocking work (a tokenizer load, a file copy) off the main thread; get the result back on it."""

from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot


class _Relay(QObject):
    """Lives on the main thread: signals emitted from the pool arrive here queued, as bound slots."""

    done = Signal(object)
    failed = Signal(object)

    def __init__(self, owner: "BackgroundTasks", on_done: Callable[[Any], None],
                 on_error: Callable[[Exception], None]) -> None:
        super().__init__(owner)
        self._owner = owner
        self._on_done = on_done
        self._on_error = on_error
        self.done.connect(self.deliver_result)
        self.failed.connect(self.deliver_error)

    @Slot(object)
    def deliver_result(self, result: Any) -> None:
        self._owner.forget(self)
        self._on_done(result)

    @Slot(object)
    def deliver_error(self, error: Exception) -> None:
        self._owner.forget(self)
        self._on_error(error)


class _Task(QRunnable):
    def __init__(self, work: Callable[[], Any], relay: _Relay) -> None:
        super().__init__()
        self._work = work
        self._relay = relay

    def run(self) -> None:
        try:
            result = self._work()
        except Exception as error:  # noqa: BLE001 - handed to the caller's on_error on the main thread
            self._relay.failed.emit(error)
        else:
            self._relay.done.emit(result)


class BackgroundTasks(QObject):
    """Owns the relays so their signals survive until delivered; callbacks run on this object's thread."""

    def __init__(self, pool: QThreadPool | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = pool or QThreadPool.globalInstance()
        self._relays: set[_Relay] = set()

    def run(self, work: Callable[[], Any], on_done: Callable[[Any], None],
            on_error: Callable[[Exception], None]) -> None:
        relay = _Relay(self, on_done, on_error)
        self._relays.add(relay)
        self._pool.start(_Task(work, relay))

    def wait(self, msecs: int = 30_000) -> bool:
        return self._pool.waitForDone(msecs)

    def forget(self, relay: _Relay) -> None:
        self._relays.discard(relay)
        relay.deleteLater()

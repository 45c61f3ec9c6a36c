"""The visible, editable generation queue: the running job on top, then the waiting ones in order."""

from __future__ import annotations

import contextlib
from pathlib import PurePath
from typing import Callable, Iterator

import shiboken6
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView, QFrame, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QMessageBox, QPushButton,
    QVBoxLayout, QWidget,
)

from core.job_queue import JobQueue, QueuedJob
from core.request import GenerationRequest, Mode

SUMMARY_WORDS = 8
SUMMARY_CHARS = 60
_MODEL_SUFFIXES = {".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".sft"}
JOB_ID_ROLE = Qt.ItemDataRole.UserRole


def prompt_summary(prompt: str) -> str:
    """The prompt's first words, enough to recognise it in a list."""
    words = prompt.split()
    text = " ".join(words[:SUMMARY_WORDS])
    if len(text) > SUMMARY_CHARS:
        text = text[:SUMMARY_CHARS].rstrip()
    cut = len(words) > SUMMARY_WORDS or len(" ".join(words)) > len(text)
    return (text + "…" if cut else text) or "(no prompt)"


def model_label(model: str) -> str:
    """A model named by path shows as its file name without the extension, as the model picker does."""
    name = PurePath(model.replace("\\", "/")).name
    return PurePath(name).stem if PurePath(name).suffix.lower() in _MODEL_SUFFIXES else name


def job_details(request: GenerationRequest) -> str:
    parts = [model_label(request.model), f"{request.width}×{request.height}", f"{request.steps} steps"]
    images = request.batch_size * request.batch_count
    if images > 1:
        parts.append(f"{images} images ({request.batch_count}×{request.batch_size})")
    if request.mode is not Mode.TXT2IMG:
        parts.insert(0, request.mode.value)
    return " · ".join(parts)


def job_text(request: GenerationRequest) -> str:
    return f"{prompt_summary(request.prompt)}\n{job_details(request)}"


def ask_to_clear(parent: QWidget, count: int) -> bool:
    answer = QMessageBox.question(parent, "Clear queue", f"Remove all {count} waiting jobs from the queue?")
    return answer == QMessageBox.StandardButton.Yes


class JobList(QListWidget):
    """A list reordered by drag and drop (Qt moves its rows); says when Delete was pressed."""

    delete_pressed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setAlternatingRowColors(True)
        self.setWordWrap(True)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.delete_pressed.emit()
            event.accept()
            return
        super().keyPressEvent(event)

    def job_ids(self) -> list[str]:
        return [self.item(row).data(JOB_ID_ROLE) for row in range(self.count())]


class QueuePanel(QWidget):
    """Shows a JobQueue and edits it; every edit goes through the queue, which persists it."""

    def __init__(self, queue: JobQueue, confirm_clear: Callable[[QWidget, int], bool] = ask_to_clear,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._queue = queue
        self._confirm_clear = confirm_clear
        self._syncing = False
        self._order_sync_pending = False
        self._build()
        queue.subscribe(self.refresh)
        self.set_running(None)
        self.refresh()

    def _build(self) -> None:
        self.running_frame, self.running_label = self._running_banner()
        self.empty_label = QLabel("Nothing waiting. Generate while an image is being made to queue the next one.",
                                  wordWrap=True)
        self.empty_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.save_error_label = QLabel(wordWrap=True)
        self.list = JobList()
        self.list.model().rowsMoved.connect(self._schedule_order_sync)
        self.list.delete_pressed.connect(self.remove_selected)
        self.list.itemSelectionChanged.connect(self._update_buttons)
        self.up_button = QPushButton("Move up", clicked=lambda: self._move_selected(-1))
        self.down_button = QPushButton("Move down", clicked=lambda: self._move_selected(1))
        self.remove_button = QPushButton("Remove", clicked=self.remove_selected, toolTip="Remove (Delete)")
        self.clear_button = QPushButton("Clear queue", clicked=self.clear_queue)
        buttons = QHBoxLayout()
        for button in (self.up_button, self.down_button, self.remove_button):
            buttons.addWidget(button)
        buttons.addStretch()
        buttons.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.running_frame, self.empty_label, self.list, self.save_error_label):
            layout.addWidget(widget)
        layout.addLayout(buttons)

    @staticmethod
    def _running_banner() -> tuple[QFrame, QLabel]:
        frame = QFrame(frameShape=QFrame.Shape.StyledPanel, autoFillBackground=True)
        frame.setBackgroundRole(QPalette.ColorRole.Highlight)
        frame.setForegroundRole(QPalette.ColorRole.HighlightedText)
        label = QLabel(wordWrap=True)
        label.setForegroundRole(QPalette.ColorRole.HighlightedText)
        font = label.font()
        font.setBold(True)
        label.setFont(font)
        QVBoxLayout(frame).addWidget(label)
        return frame, label

    def set_running(self, request: GenerationRequest | None) -> None:
        """The job the worker is running now (taken off the queue), or None when idle."""
        self.running_frame.setVisible(request is not None)
        if request is not None:
            self.running_label.setText(f"Now: {job_text(request)}")
            self.running_label.setToolTip(request.prompt)

    def refresh(self) -> None:
        """Rebuild the list from the queue, keeping the selection."""
        if self._syncing or not shiboken6.isValid(self.list):
            return  # the queue outlives a closed panel: JobQueue has no unsubscribe
        selected = set(self.selected_ids())
        self.list.clear()
        for job in self._queue.jobs():
            item = self._item(job)
            self.list.addItem(item)
            item.setSelected(job.id in selected)
        self.empty_label.setVisible(self.list.count() == 0)
        self.save_error_label.setText(self._queue.save_error or "")
        self.save_error_label.setVisible(bool(self._queue.save_error))
        self._update_buttons()

    @staticmethod
    def _item(job: QueuedJob) -> QListWidgetItem:
        item = QListWidgetItem(job_text(job.request))
        item.setData(JOB_ID_ROLE, job.id)
        item.setToolTip(job.request.prompt or "(no prompt)")
        item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsDropEnabled)  # drop between items, never onto one
        return item

    def selected_ids(self) -> list[str]:
        return [item.data(JOB_ID_ROLE) for item in self.list.selectedItems()]

    def remove_selected(self) -> None:
        self._remove(self.selected_ids())

    def clear_queue(self) -> None:
        count = len(self._queue)
        if count == 0 or (count > 1 and not self._confirm_clear(self, count)):
            return
        self._remove(self._queue_ids())

    def _remove(self, job_ids: list[str]) -> None:
        with self._refresh_once():
            for job_id in job_ids:
                self._queue.remove(job_id)

    def _move_selected(self, offset: int) -> None:
        ids = self._queue_ids()
        selected = set(self.selected_ids())
        positions = [index for index, job_id in enumerate(ids) if job_id in selected]
        if not positions or positions[0] + offset < 0 or positions[-1] + offset >= len(ids):
            return
        # Moving down, the lowest job moves first, so the selected jobs keep their order.
        with self._refresh_once():
            for index in (reversed(positions) if offset > 0 else positions):
                self._queue.move(ids[index], index + offset)

    def _schedule_order_sync(self) -> None:
        """A drop moves rows one by one; the queue follows once the drop is complete."""
        if not self._order_sync_pending:
            self._order_sync_pending = True
            QTimer.singleShot(0, self._apply_list_order)

    def _apply_list_order(self) -> None:
        self._order_sync_pending = False
        with self._refresh_once():
            for index, job_id in enumerate(self.list.job_ids()):
                self._queue.move(job_id, index)

    @contextlib.contextmanager
    def _refresh_once(self) -> Iterator[None]:
        """Several queue changes, one rebuild of the list at the end."""
        self._syncing = True
        try:
            yield
        finally:
            self._syncing = False
            self.refresh()

    def _queue_ids(self) -> list[str]:
        return [job.id for job in self._queue.jobs()]

    def _update_buttons(self) -> None:
        rows = sorted(self.list.row(item) for item in self.list.selectedItems())
        self.up_button.setEnabled(bool(rows) and rows[0] > 0)
        self.down_button.setEnabled(bool(rows) and rows[-1] < self.list.count() - 1)
        self.remove_button.setEnabled(bool(rows))
        self.clear_button.setEnabled(self.list.count() > 0)


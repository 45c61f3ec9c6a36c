"""A non-modal message area above the window's content: errors, warnings and short-lived info banners."""

from __future__ import annotations

from enum import Enum
from typing import Callable, Sequence

from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFontDatabase, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import (
    QFrame, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QSizePolicy, QStyle, QToolButton, QVBoxLayout,
    QWidget,
)

from desktop import palette_colors

DEFAULT_INFO_TIMEOUT_MS = 6000
Actions = Sequence[tuple[str, Callable[[], object]]]


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


_ERROR_HUE = 355  # red
_ICONS = {
    Severity.ERROR: QStyle.StandardPixmap.SP_MessageBoxCritical,
    Severity.WARNING: QStyle.StandardPixmap.SP_MessageBoxWarning,
    Severity.INFO: QStyle.StandardPixmap.SP_MessageBoxInformation,
}


def severity_color(palette: QPalette, severity: Severity) -> QColor:
    """The banner's colour, readable on the current palette in dark and light mode."""
    if severity is Severity.ERROR:
        return palette_colors.readable(palette, _ERROR_HUE, saturation=0.75)
    if severity is Severity.WARNING:
        return palette_colors.warning(palette)
    return palette_colors.accent(palette)




class Notification(QFrame):
    """One banner: icon, message, hint, optional details and action buttons, and a close button."""

    closed = Signal()

    def __init__(self, severity: Severity, message: str, hint: str = "", details: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.severity = severity
        self.repeats = 1
        self._message = message
        self._build(message, hint, details)

    def _build(self, message: str, hint: str, details: str) -> None:
        icon = QLabel()
        icon.setPixmap(self.style().standardIcon(_ICONS[self.severity]).pixmap(20, 20))
        icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.message_label = self._text_label(message, bold=True)
        self.hint_label = self._text_label(hint)
        self.hint_label.setVisible(bool(hint))
        self.details_view = self._details_view(details)
        self.details_button = QPushButton("Details…", flat=True, checkable=True, visible=bool(details))
        self.details_button.toggled.connect(self._show_details)
        self.close_button = QToolButton(autoRaise=True, toolTip="Close this message")
        self.close_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_TitleBarCloseButton))
        self.close_button.setAccessibleName("Close message")
        self.close_button.clicked.connect(self.close_message)
        self._actions = QHBoxLayout()
        self._actions.addWidget(self.details_button)
        self._actions.addStretch()

        text = QVBoxLayout()
        text.setSpacing(2)
        for widget in (self.message_label, self.hint_label):
            text.addWidget(widget)
        text.addLayout(self._actions)
        text.addWidget(self.details_view)
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 6, 6, 6)
        row.addWidget(icon)
        row.addLayout(text, 1)
        row.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignTop)

    @staticmethod
    def _text_label(text: str, bold: bool = False) -> QLabel:
        label = QLabel(text, wordWrap=True)
        label.setTextFormat(Qt.TextFormat.PlainText)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        if bold:
            font = label.font()
            font.setBold(True)
            label.setFont(font)
        return label

    @staticmethod
    def _details_view(details: str) -> QPlainTextEdit:
        view = QPlainTextEdit(details, readOnly=True, visible=False)
        view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        view.setMaximumHeight(180)
        view.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        return view

    @property
    def message(self) -> str:
        return self._message

    def add_action(self, label: str, callback: Callable[[], object], closes: bool = False) -> QPushButton:
        """A button beside "Details…". The message closes after the callback when `closes` is set or the
        callback returns True (say, "Save as…" that saved), and stays otherwise (the dialog was cancelled)."""
        button = QPushButton(label)
        button.clicked.connect(lambda: self._run_action(callback, closes))
        self._actions.insertWidget(self._actions.count() - 1, button)
        button.setVisible(True)
        return button

    def _run_action(self, callback: Callable[[], object], closes: bool) -> None:
        if callback() is True or closes:
            self.close_message()

    def has_actions(self) -> bool:
        return self._actions.count() > 2  # "Details…" and the stretch are always there

    def count_repeat(self) -> None:
        """The same message again: say how often instead of stacking copies."""
        self.repeats += 1
        self.message_label.setText(f"{self._message} (×{self.repeats})")

    def _show_details(self, shown: bool) -> None:
        self.details_view.setVisible(shown)
        self.details_button.setText("Hide details" if shown else "Details…")

    def close_message(self) -> None:
        self.hide()
        self.closed.emit()
        self.deleteLater()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        palette = self.palette()
        color = severity_color(palette, self.severity)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(palette_colors.mix(palette.color(QPalette.ColorRole.Window), color, 0.6))
        painter.setBrush(palette_colors.mix(palette.color(QPalette.ColorRole.Base), color, 0.2))
        painter.drawRoundedRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5), 6, 6)


class NotificationArea(QWidget):
    """Stacked banners at the top of the window's content; hidden when there is nothing to say."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(8, 8, 8, 0)
        self._layout.setSpacing(6)
        self._messages: list[Notification] = []
        self.setVisible(False)

    def show_error(self, message: str, hint: str = "", details: str = "", actions: Actions = ()) -> Notification:
        """Stays until the user closes it. `actions`: (label, callback) buttons, see Notification.add_action."""
        return self._show(Severity.ERROR, message, hint, details, actions)

    def show_warning(self, message: str, hint: str = "", details: str = "", actions: Actions = ()) -> Notification:
        """Stays until the user closes it."""
        return self._show(Severity.WARNING, message, hint, details, actions)

    def show_info(self, text: str, timeout_ms: int = DEFAULT_INFO_TIMEOUT_MS) -> Notification:
        """Hides itself after `timeout_ms` (0 = stays)."""
        notification = self._show(Severity.INFO, text)
        if timeout_ms > 0:
            timer = QTimer(notification, singleShot=True, interval=timeout_ms)
            timer.timeout.connect(notification.close_message)
            timer.start()
        return notification

    def messages(self) -> list[Notification]:
        return list(self._messages)

    def clear(self) -> None:
        for notification in self.messages():
            notification.close_message()

    def _show(self, severity: Severity, message: str, hint: str = "", details: str = "",
              actions: Actions = ()) -> Notification:
        repeat = self._same_message(severity, message) if not actions else None
        if repeat is not None:  # a message with actions is never merged: each one acts on its own thing
            repeat.count_repeat()
            return repeat
        notification = Notification(severity, message, hint, details, self)
        for label, callback in actions:
            notification.add_action(label, callback)
        notification.closed.connect(lambda: self._forget(notification))
        self._messages.append(notification)
        self._layout.addWidget(notification)
        notification.setVisible(True)
        self.setVisible(True)
        return notification

    def _same_message(self, severity: Severity, message: str) -> Notification | None:
        if severity is Severity.INFO:
            return None
        return next((n for n in self._messages
                     if n.severity is severity and n.message == message and not n.has_actions()), None)

    def _forget(self, notification: Notification) -> None:
        if notification in self._messages:
            self._messages.remove(notification)
            self._layout.removeWidget(notification)
        self.setVisible(bool(self._messages))

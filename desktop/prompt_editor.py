"""The prompt box: A1111 syntax colours, a token count per 75-token chunk, Ctrl/Cmd+Up/Down weights."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QPalette, QTextCursor
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QWidget

from core.prompts import weight_edit
from desktop import palette_colors
from desktop.prompt_highlighter import PromptHighlighter

__all__ = ["PromptEditor", "PromptHighlighter", "format_token_counts"]

CHUNK_TOKENS = 75
NEAR_FULL = 70  # the last chunk warns from here: the next few words start a new chunk
COUNT_DELAY_MS = 150

TokenCounter = Callable[[str], list[int]]


def format_token_counts(counts: list[int]) -> str:
    """A1111's counter: all tokens over the capacity of the chunks they fill, e.g. "98/150"."""
    counts = counts or [0]
    return f"{sum(counts)}/{CHUNK_TOKENS * len(counts)}"


class PromptEditor(QPlainTextEdit):
    """A plain-text prompt editor. `submitted` is Ctrl/Cmd+Return when no window shortcut took it."""

    submitted = Signal()
    # textChanged also fires when only colours change (QSyntaxHighlighter); this fires for text edits only.
    prompt_changed = Signal()

    def __init__(self, placeholder: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setPlaceholderText(placeholder)
        self.setTabChangesFocus(True)
        self.highlighter = PromptHighlighter(self.document(), self.palette())
        self.token_label = QLabel(self)
        self.token_label.setObjectName("tokenCount")
        self.token_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.token_label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.token_label.hide()
        self._counter: TokenCounter | None = None
        self._counts: list[int] = []
        self._count_timer = QTimer(self, singleShot=True, interval=COUNT_DELAY_MS, timeout=self._count_tokens)
        self._last_text = ""
        self.textChanged.connect(self._on_text_changed)
        self._style_token_label()

    # ---------------------------------------------------------------- token count

    def set_token_counter(self, counter: TokenCounter | None) -> None:
        """`counter(text)` -> tokens per 75-token chunk, already loaded; None hides the count."""
        self._counter = counter
        self.token_label.setVisible(counter is not None)
        label_height = self.token_label.sizeHint().height() if counter is not None else 0
        self.setViewportMargins(0, 0, 0, label_height)
        self._place_token_label()
        if counter is not None:
            self._count_tokens()

    def token_counts(self) -> list[int]:
        return list(self._counts)

    def _on_text_changed(self) -> None:
        text = self.toPlainText()
        if text != self._last_text:
            self._last_text = text
            self._schedule_count()
            self.prompt_changed.emit()

    def _schedule_count(self) -> None:
        if self._counter is not None:
            self._count_timer.start()  # restarts while typing: one count after a pause

    def _count_tokens(self) -> None:
        if self._counter is None:
            return
        try:
            self._counts = list(self._counter(self.toPlainText())) or [0]
        except Exception as error:  # noqa: BLE001 - a counting failure must never cost the user their typing
            self._counts = []
            self.token_label.setText("?")
            self.token_label.setToolTip(f"Tokens could not be counted: {error}")
            return
        self.token_label.setText(format_token_counts(self._counts))
        self.token_label.setToolTip(self._token_tooltip())
        self._style_token_label()

    def _token_tooltip(self) -> str:
        chunks = " · ".join(f"{count}/{CHUNK_TOKENS}" for count in self._counts)
        text = f"Tokens per chunk: {chunks}" if len(self._counts) > 1 else f"{self._counts[0]} of {CHUNK_TOKENS} tokens"
        if self._last_chunk_near_full():
            text += "\nThe next words start a new 75-token chunk (as BREAK does)."
        return text

    def _last_chunk_near_full(self) -> bool:
        return bool(self._counts) and self._counts[-1] >= NEAR_FULL

    def _style_token_label(self) -> None:
        palette = self.palette()
        color = palette_colors.warning(palette) if self._last_chunk_near_full() \
            else palette_colors.dimmed_text(palette, 0.4)
        label_palette = self.token_label.palette()
        label_palette.setColor(QPalette.ColorRole.WindowText, color)
        self.token_label.setPalette(label_palette)
        font = self.token_label.font()
        font.setPointSizeF(max(7.0, self.font().pointSizeF() * 0.85))
        self.token_label.setFont(font)

    def _place_token_label(self) -> None:
        rect = self.contentsRect()
        height = self.token_label.sizeHint().height()
        scroll_bar = self.verticalScrollBar()
        width = rect.width() - 8 - (scroll_bar.width() if scroll_bar.isVisible() else 0)
        self.token_label.setGeometry(rect.left() + 4, rect.bottom() - height + 1, width, height)

    # ---------------------------------------------------------------- events

    def resizeEvent(self, event) -> None:  # type: ignore[no-untyped-def]  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._place_token_label()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self.highlighter.set_palette(self.palette())
            self._style_token_label()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        if _is_weight_key(event):
            self.change_weight(up=event.key() == Qt.Key.Key_Up)
            event.accept()
        elif _is_submit_key(event):
            self.submitted.emit()
            event.accept()
        else:
            super().keyPressEvent(event)

    # ---------------------------------------------------------------- weights

    def change_weight(self, up: bool) -> bool:
        """A1111's Ctrl+Up/Down on the selection or the word under the cursor; one undo step."""
        cursor = self.textCursor()
        edit = weight_edit.change_weight(self.toPlainText(), cursor.selectionStart(), cursor.selectionEnd(), up)
        if edit is None:
            return False
        self._replace_text(edit.text)
        cursor = self.textCursor()
        cursor.setPosition(edit.start)
        cursor.setPosition(edit.end, QTextCursor.MoveMode.KeepAnchor)
        self.setTextCursor(cursor)
        return True

    def _replace_text(self, new_text: str) -> None:
        """Replace only what differs, so the view does not jump and undo restores exactly."""
        old_text = self.toPlainText()
        prefix = 0
        limit = min(len(old_text), len(new_text))
        while prefix < limit and old_text[prefix] == new_text[prefix]:
            prefix += 1
        suffix = 0
        while suffix < limit - prefix and old_text[-1 - suffix] == new_text[-1 - suffix]:
            suffix += 1
        cursor = QTextCursor(self.document())
        cursor.setPosition(prefix)
        cursor.setPosition(len(old_text) - suffix, QTextCursor.MoveMode.KeepAnchor)
        cursor.insertText(new_text[prefix:len(new_text) - suffix])


_COMMAND_MODIFIERS = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.MetaModifier


def _is_weight_key(event: QKeyEvent) -> bool:
    # Qt calls the macOS Cmd key Control, and the Control key Meta: either works, as in A1111.
    modifiers = event.modifiers()
    return event.key() in (Qt.Key.Key_Up, Qt.Key.Key_Down) and bool(modifiers & _COMMAND_MODIFIERS) \
        and not modifiers & (Qt.KeyboardModifier.AltModifier | Qt.KeyboardModifier.ShiftModifier)


def _is_submit_key(event: QKeyEvent) -> bool:
    return event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) \
        and bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)

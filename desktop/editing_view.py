"""What the mask canvas and the pose canvas share as editors over an ImageView: a paint program's grey
pasteboard, space-drag panning, and keys claimed before window-wide shortcuts take them."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QKeyEvent, QKeySequence, QPalette
from PySide6.QtWidgets import QWidget

from desktop.image_view import ImageView
from desktop.palette_colors import mix

KeyAction = Callable[[], None]


def is_ctrl_y(event: QKeyEvent) -> bool:
    # Ctrl+Y redoes everywhere (Windows habit), besides the platform's own Redo keys.
    return event.key() == Qt.Key.Key_Y and event.modifiers() == Qt.KeyboardModifier.ControlModifier


def has_no_command_modifier(event: QKeyEvent) -> bool:
    """No modifier but Shift (or the keypad's): the editor's single-key shortcuts may apply."""
    plain = event.modifiers() & ~(Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.KeypadModifier)
    return plain == Qt.KeyboardModifier.NoModifier


class EditingView(ImageView):
    """Subclasses give `undo`, `redo`, `_editor_key_action` and react to `_space_changed`."""

    def __init__(self, parent: QWidget | None = None, placeholder: str = "") -> None:
        super().__init__(parent, placeholder=placeholder)
        self._space_held = False
        self._apply_pasteboard()

    def undo(self) -> None:
        raise NotImplementedError

    def redo(self) -> None:
        raise NotImplementedError

    def _editor_key_action(self, event: QKeyEvent) -> KeyAction | None:
        return None

    def _space_changed(self) -> None:
        """Space was pressed or released: show the pan cursor or the tool's."""

    def _key_action(self, event: QKeyEvent) -> KeyAction | None:
        if event.matches(QKeySequence.StandardKey.Undo):
            return self.undo
        if event.matches(QKeySequence.StandardKey.Redo) or is_ctrl_y(event):
            return self.redo
        return self._editor_key_action(event)

    def _pan_step(self, last: QPointF, position: QPointF) -> QPointF:
        """Scroll by the pointer's move since `last`, in whole pixels; the new `last`."""
        delta = position - last
        step_x, step_y = round(delta.x()), round(delta.y())
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - step_x)
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() - step_y)
        return last + QPointF(step_x, step_y)

    def _apply_pasteboard(self) -> None:
        # A neutral grey around the image, darker than the window, as paint programs do.
        palette = self.palette()
        pasteboard = mix(palette.color(QPalette.ColorRole.Window), palette.color(QPalette.ColorRole.Shadow), 0.3)
        self.setBackgroundBrush(pasteboard)

    def event(self, event: QEvent) -> bool:
        # Claim our keys before window-wide shortcuts (an Edit > Undo action, say) take them.
        if event.type() == QEvent.Type.ShortcutOverride and (
                self._key_action(event) is not None or event.key() == Qt.Key.Key_Space):
            event.accept()
            return True
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_pasteboard()
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space:
            if not event.isAutoRepeat():
                self._space_held = True
                self._space_changed()
            event.accept()
            return
        action = self._key_action(event)
        if action is None:
            super().keyPressEvent(event)
            return
        action()
        event.accept()

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_held = False
            self._space_changed()
        super().keyReleaseEvent(event)

    def focusOutEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        self._space_held = False  # its release goes to whoever has the focus now
        self._space_changed()
        super().focusOutEvent(event)

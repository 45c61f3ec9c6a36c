"""Images that exist only in memory (saving failed) and "Save as…" for any image, with the errors it can meet."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from PySide6.QtWidgets import QFileDialog, QWidget

from core.events import ImageDone
from desktop.notifications import NotificationArea

AskPath = Callable[[QWidget, str], str]  # (parent, suggested name) -> chosen path, "" when cancelled


def ask_save_path(parent: QWidget, suggested: str) -> str:
    return QFileDialog.getSaveFileName(parent, "Save image as", suggested, "PNG image (*.png)")[0]


class UnsavedImages:
    """Keeps an image that could not be saved until the person saves it elsewhere (the message offers it)."""

    def __init__(self, window: QWidget, notifications: NotificationArea, ask_path: AskPath = ask_save_path) -> None:
        self._window = window
        self._notifications = notifications
        self.ask_path = ask_path
        self.images: dict[int, ImageDone] = {}

    def keep(self, done: ImageDone) -> None:
        key = id(done)
        self.images[key] = done
        self._notifications.show_error(
            "The image could not be saved; it is kept in memory until you save it.", done.save_error or "",
            actions=[("Save as…", lambda: self.save(key))])

    def save(self, key: int) -> bool:
        """True once saved, which closes the message that offered it."""
        done = self.images.get(key)
        if done is not None and self.save_as(done.image, done.infotext, f"{done.seed}.png"):
            del self.images[key]
            return True
        return False

    def save_as(self, image: Any, infotext: str, suggested: str) -> bool:
        from core.images import save_png_atomically

        path = self.ask_path(self._window, suggested)
        if not path:
            return False
        try:
            save_png_atomically(image, Path(path), infotext, None)
        except OSError as error:
            self._notifications.show_error(f"Could not save {Path(path).name}: {error.strerror or error}",
                                           "Choose another folder; the image is still in memory.")
            return False
        return True

"""Window geometry, dock layout and the last settings of each panel, kept between runs in the app's data folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Protocol

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import QMainWindow, QSplitter


class SavedPanel(Protocol):
    def state(self) -> dict[str, Any]: ...

    def restore(self, state: Mapping[str, Any]) -> None: ...


class UiState:
    """A QSettings INI file under Easel's home, so `EASEL_HOME` moves it with everything else."""

    def __init__(self, path: Path) -> None:
        self._settings = QSettings(str(path), QSettings.Format.IniFormat)

    def bytes_value(self, key: str) -> QByteArray | None:
        value = self._settings.value(key)
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def set_bytes(self, key: str, value: QByteArray) -> None:
        self._settings.setValue(key, value)

    def json_value(self, key: str) -> Any:
        text = self._settings.value(key)
        if not isinstance(text, str):
            return None
        try:
            return json.loads(text)
        except ValueError:
            return None  # a damaged entry costs the last parameters, never the start

    def set_json(self, key: str, value: Any) -> None:
        self._settings.setValue(key, json.dumps(value))

    def sync(self) -> None:
        self._settings.sync()

    def restore_layout(self, window: QMainWindow, splitter: QSplitter) -> None:
        """Size, position, docks and the splitter, as they were; nothing for a first run."""
        for key, restore in (("window/geometry", window.restoreGeometry), ("window/state", window.restoreState),
                             ("window/splitter", splitter.restoreState)):
            value = self.bytes_value(key)
            if value is not None:
                restore(value)

    def save_layout(self, window: QMainWindow, splitter: QSplitter) -> None:
        self.set_bytes("window/geometry", window.saveGeometry())
        self.set_bytes("window/state", window.saveState())
        self.set_bytes("window/splitter", splitter.saveState())

    def restore_panels(self, panels: Mapping[str, SavedPanel]) -> None:
        """Each panel gets what it saved under its key; a missing or damaged entry leaves its defaults."""
        for key, panel in panels.items():
            saved = self.json_value(key)
            if isinstance(saved, dict):
                panel.restore(saved)

    def save_panels(self, panels: Mapping[str, SavedPanel]) -> None:
        for key, panel in panels.items():
            self.set_json(key, panel.state())

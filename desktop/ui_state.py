"""Window geometry and the last parameters, kept between runs in the app's data folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings


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

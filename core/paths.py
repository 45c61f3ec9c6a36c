"""Where Easel reads its shipped resources and writes the user's data."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import platformdirs

APP_NAME = "Easel"


def resources_dir() -> Path:
    """The `resources/` folder: beside the packages in a checkout, inside the bundle when frozen."""
    bundle_root = getattr(sys, "_MEIPASS", None)
    if bundle_root:
        return Path(bundle_root) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


@dataclass(frozen=True)
class AppPaths:
    """Everything Easel writes lives under `home`; `EASEL_HOME` moves it (portable installs, tests)."""

    home: Path

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> "AppPaths":
        environ = os.environ if environ is None else environ
        override = environ.get("EASEL_HOME")
        if override:
            return cls(Path(override).expanduser().resolve())
        return cls(Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)))

    @property
    def settings_file(self) -> Path:
        return self.home / "settings.json"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def outputs_dir(self) -> Path:
        return self.home / "outputs"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @property
    def history_db(self) -> Path:
        return self.home / "history.sqlite3"

    def ensure(self) -> "AppPaths":
        for folder in (self.home, self.models_dir, self.outputs_dir, self.cache_dir):
            folder.mkdir(parents=True, exist_ok=True)
        return self

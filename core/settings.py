"""User settings that core needs: extra model folders and A1111/ComfyUI install roots."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Settings:
    model_folders: list[str] = field(default_factory=list)
    install_roots: list[str] = field(default_factory=list)  # A1111 or ComfyUI folders, used in place
    model_configs: dict[str, str] = field(default_factory=dict)  # checkpoint path -> diffusers config folder
    device: str | None = None

    @classmethod
    def load(cls, path: Path) -> "Settings":
        """Missing or unreadable settings fall back to defaults; a broken file is kept aside, not lost."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError):
            path.replace(path.with_suffix(".broken.json"))
            return cls()
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp", encoding="utf-8") as tmp:
            json.dump(asdict(self), tmp, indent=2)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp.name, path)

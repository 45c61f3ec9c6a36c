"""The immutable description of one generation, built by the UI or the CLI."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any


class Mode(str, Enum):
    TXT2IMG = "txt2img"
    IMG2IMG = "img2img"


@dataclass(frozen=True)
class GenerationRequest:
    """What to generate. Field names follow A1111's meaning; `seed=-1` means a random seed."""

    model: str
    prompt: str = ""
    negative_prompt: str = ""
    mode: Mode = Mode.TXT2IMG
    steps: int = 20
    cfg_scale: float = 7.0
    sampler: str = "Euler a"
    schedule: str = "Automatic"
    seed: int = -1
    width: int = 512
    height: int = 512
    batch_size: int = 1
    batch_count: int = 1
    clip_skip: int = 1
    init_image: Path | None = None
    denoising_strength: float = 0.75
    vae: str | None = None
    model_config: Path | None = None

    def replace(self, **changes: Any) -> "GenerationRequest":
        return dataclasses.replace(self, **changes)

    def to_json_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["mode"] = self.mode.value
        for key in ("init_image", "model_config"):
            data[key] = str(data[key]) if data[key] is not None else None
        return data

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> "GenerationRequest":
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["mode"] = Mode(values.get("mode", Mode.TXT2IMG.value))
        for key in ("init_image", "model_config"):
            if values.get(key):
                values[key] = Path(values[key])
        return cls(**values)

"""How the engine runs and saves, from the user's settings; torch-free so the UI can build it at once."""

from __future__ import annotations

from dataclasses import dataclass

from core.file_names import DEFAULT_FILE_NAME_PATTERN
from core.settings import DEFAULT_PREVIEW_EVERY, Settings


@dataclass(frozen=True)
class EngineOptions:
    precision: str = "auto"  # auto | fp16 | bf16 | fp32
    attention_slicing: str = "auto"  # auto | on | off
    preview_every: int = DEFAULT_PREVIEW_EVERY  # steps between previews in Progress events; 0: none
    file_name_pattern: str = DEFAULT_FILE_NAME_PATTERN

    @classmethod
    def from_settings(cls, settings: Settings) -> "EngineOptions":
        return cls(settings.precision, settings.attention_slicing, settings.preview_every, settings.file_name_pattern)

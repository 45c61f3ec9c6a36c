"""How the engine runs and saves, from the user's settings; torch-free so the UI can build it at once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from core.file_names import DEFAULT_FILE_NAME_PATTERN
from core.settings import DEFAULT_PREVIEW_EVERY, VAE_AUTOMATIC, Settings


@dataclass(frozen=True)
class EngineOptions:
    precision: str = "auto"  # auto | fp16 | bf16 | fp32
    attention_slicing: str = "auto"  # auto | on | off
    preview_every: int = DEFAULT_PREVIEW_EVERY  # steps between previews in Progress events; 0: none
    file_name_pattern: str = DEFAULT_FILE_NAME_PATTERN
    vae: str = VAE_AUTOMATIC  # Automatic | None | a VAE name or path; a request's own `vae` wins
    model_vaes: Mapping[str, str] = field(default_factory=dict)  # checkpoint name -> VAE choice, over `vae`
    vae_tiling: str = "auto"  # auto | on | off

    @classmethod
    def from_settings(cls, settings: Settings) -> "EngineOptions":
        return cls(settings.precision, settings.attention_slicing, settings.preview_every, settings.file_name_pattern,
                   settings.vae, dict(settings.model_vaes), settings.vae_tiling)

"""Shared builders for tests: tiny random models in the real single-file format, and an engine."""

from __future__ import annotations

from pathlib import Path

from core.engine import Engine
from core.events import EngineEvent
from core.model_resolution import ModelResolver
from core.paths import AppPaths
from core.request import GenerationRequest
from core.settings import Settings


def make_engine(home: Path) -> Engine:
    paths = AppPaths(home).ensure()
    return Engine(ModelResolver.from_settings(paths, Settings()), paths.outputs_dir, device="cpu")


def tiny_request(model, **changes) -> GenerationRequest:  # type: ignore[no-untyped-def]
    base = GenerationRequest(
        model=str(model.checkpoint), model_config=model.config_dir, prompt="a red fox in the snow",
        negative_prompt="blurry", steps=3, width=64, height=64, seed=1234, sampler="Euler",
    )
    return base.replace(**changes)


class Recorder:
    """Collects engine events in order."""

    def __init__(self) -> None:
        self.events: list[EngineEvent] = []

    def __call__(self, event: EngineEvent) -> None:
        self.events.append(event)

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]

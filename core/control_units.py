"""The engine's ControlNet side: each unit's model file and control image are found and made before the
checkpoint loads (so a bad unit fails fast), then the ControlNets are loaded, or kept from the last request."""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.annotators.session import AnnotatorSession
from core.control_images import control_hint
from core.device import DevicePlan
from core.errors import EaselError
from core.events import EventSink, ModelLoading, ModelReady
from core.model_resolution import ModelResolver
from core.pipelines.attention_slicing import set_model_attention_slicing
from core.pipelines.control_hook import ActiveUnit
from core.pipelines.controlnet import ControlNetCache, ControlNetSource, load_controlnet
from core.request import GenerationRequest
from core.request_images import StartImages


def annotator_models_dirs(resolver: ModelResolver) -> tuple[Path, ...]:
    """The models folders behind the resolver's model folders (Easel's `models`, an A1111 `models`), in its
    order, where annotator weights are looked for: `<models>/annotators` and the extension's downloads."""
    found: list[Path] = []
    for folder in resolver.folders:
        found.append(Path(folder.path).parent)
        if folder.kind_hint is None:  # a folder the person added may itself be a models folder
            found.append(Path(folder.path))
    return tuple(dict.fromkeys(found))


def stored_bytes(sources: tuple[ControlNetSource, ...]) -> int:
    """What the ControlNets' weights take on disk: a coarse measure of what they take in memory."""
    files = [file for source in sources
             for file in (source.path.rglob("*") if source.is_diffusers_folder else [source.path])]
    return sum(file.stat().st_size for file in files if file.is_file())


def _is_out_of_memory(error: BaseException) -> bool:
    return "out of memory" in str(error).lower()


@dataclass(frozen=True)
class PreparedControls:
    """A request's units with their ControlNet files and control images (generation size), nothing loaded."""

    request: GenerationRequest
    sources: tuple[ControlNetSource, ...]
    hints: tuple[np.ndarray, ...]
    annotators: AnnotatorSession  # the preprocessor networks loaded for the hints, for the hires pass's hints

    @property
    def titles(self) -> tuple[str, ...]:
        """Each unit's model as the infotext names it."""
        return tuple(source.title for source in self.sources)


class ControlNets:
    """ControlNet models for the engine, kept while requests keep using them."""

    def __init__(self, load: Any = load_controlnet) -> None:
        self._cache = ControlNetCache(load)

    @property
    def load_count(self) -> int:
        return self._cache.load_count

    def clear(self) -> None:
        self._cache.clear()

    @staticmethod
    def resolve(request: GenerationRequest, resolver: ModelResolver, architecture: str
                ) -> tuple[ControlNetSource, ...]:
        """Every unit's ControlNet file, refusing one made for another family."""
        return tuple(resolver.resolve_controlnet(unit.model, architecture) for unit in request.controlnets)

    @staticmethod
    def prepare(request: GenerationRequest, start: StartImages, sources: tuple[ControlNetSource, ...],
                resolver: ModelResolver, seed: int, device: str = "cpu") -> PreparedControls:
        """Every unit's control image, made with the annotator weights found in the resolver's folders."""
        annotators = AnnotatorSession(annotator_models_dirs(resolver), device)  # units with one preprocessor share it
        hints = tuple(control_hint(unit, index, request.width, request.height, start.init_image, start.inpaint, seed,
                                   annotators)
                      for index, unit in enumerate(request.controlnets))
        return PreparedControls(request, sources, hints, annotators)

    def activate(self, prepared: PreparedControls, unet_config: dict[str, Any], plan: DevicePlan,
                 attention_slicing: bool, on_event: EventSink = lambda event: None) -> tuple[ActiveUnit, ...]:
        """The units ready to run, each ControlNet load announced; ControlNets no unit uses any more are let go."""
        self._cache.keep_only({ControlNetCache.key(source, unet_config, plan) for source in prepared.sources})
        active = []
        for unit, source, hint in zip(prepared.request.controlnets, prepared.sources, prepared.hints):
            net = self._announced_load(source, unet_config, plan, on_event)
            set_model_attention_slicing(net, attention_slicing)
            active.append(ActiveUnit(net, hint, unit.weight, unit.guidance_start, unit.guidance_end, unit.control_mode))
        return tuple(active)

    def _announced_load(self, source: ControlNetSource, unet_config: dict[str, Any], plan: DevicePlan,
                        on_event: EventSink) -> Any:
        if self._cache.has(source, unet_config, plan):
            return self._load(source, unet_config, plan)
        on_event(ModelLoading(source.title))
        started = time.perf_counter()
        net = self._load(source, unet_config, plan)
        on_event(ModelReady(source.title, time.perf_counter() - started))
        return net

    def _load(self, source: ControlNetSource, unet_config: dict[str, Any], plan: DevicePlan) -> Any:
        try:
            return self._cache.get(source, unet_config, plan)
        except EaselError:
            raise
        except Exception as error:
            if _is_out_of_memory(error):
                raise  # the engine reports it with what to lower
            raise EaselError(f"The ControlNet {source.path.name} could not be loaded: {error}",
                             hint="The file may be damaged or of a kind Easel does not load (ControlNet-LLLite, "
                             "Control-LoRA, T2I-Adapter).", details=traceback.format_exc()) from error

"""The engine's hires fix side: what a request's hires fix needs, found and made before the checkpoint loads
(upscaler file, control images at the hires size), and what every batch's second pass shares."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core import samplers
from core.annotators.session import AnnotatorSession
from core.control_images import control_hint
from core.device import DevicePlan
from core.errors import EaselError, RequestError
from core.hires import LATENT_UPSCALERS, PIXEL_UPSCALERS, HiresSize, check_upscaler_name
from core.model_resolution import ModelResolver
from core.pipelines.control_hook import ActiveUnit
from core.pipelines.hires import second_pass_timesteps
from core.pipelines.loader import LoadedModel
from core.pipelines.run import encode_request
from core.prompts.encoding import Embeddings
from core.request import GenerationRequest, Mode
from core.request_images import StartImages


def validate_hires(request: GenerationRequest) -> None:
    """Refuse a hires fix outside txt2img or with values A1111 would not take (the upscaler is found later)."""
    hires = request.hires
    if hires is None:
        return
    if request.mode is not Mode.TXT2IMG:
        raise RequestError("Hires fix works in txt2img only.",
                           hint="Turn hires fix off (easel generate: --no-hires); for img2img or inpainting "
                                "set the size you want instead.")
    hires.check(None)
    if hires.sampler is not None:
        samplers.parse_sampler_name(hires.sampler, request.schedule)


def hires_upscaler_file(request: GenerationRequest, resolver: ModelResolver) -> Path | None:
    """The hires upscaler model's file (name, A1111 title or path); None for the latent and model-less ones."""
    if request.hires is None:
        return None
    name = request.hires.upscaler
    if name in LATENT_UPSCALERS or name in PIXEL_UPSCALERS:
        return None
    from core.upscale import find_upscaler

    entries = resolver.entries()
    try:
        return find_upscaler(entries, name).path
    except EaselError:
        names = [entry.name for entry in entries if entry.kind == "upscaler" and entry.supported]
        check_upscaler_name(name, names)  # raises, listing every upscaler there is
        raise


def hires_hints(request: GenerationRequest, start: StartImages, size: HiresSize | None, seed: int,
                annotators: AnnotatorSession) -> tuple[np.ndarray, ...]:
    """ControlNet control images made again at the hires size, as the extension does for the second pass."""
    if size is None:
        return ()
    return tuple(control_hint(unit, index, size.width, size.height, start.init_image, start.inpaint, seed,
                              annotators) for index, unit in enumerate(request.controlnets))


@dataclass(frozen=True)
class HiresPlan:
    """The hires fix of a job: target size, the second pass as an img2img request, its control images."""

    size: HiresSize
    request: GenerationRequest  # img2img at the final size with the hires steps, strength, sampler, prompts
    controls: tuple[ActiveUnit, ...]  # the job's ControlNet units with control images at the hires size
    upscaler_path: Path | None  # an upscaler model's file; None for the latent and model-less upscalers

    @classmethod
    def of(cls, request: GenerationRequest, size: HiresSize | None, controls: tuple[ActiveUnit, ...],
           hints: tuple[np.ndarray, ...], upscaler: Path | None) -> "HiresPlan | None":
        fix = request.hires
        if fix is None or size is None:
            return None
        sampler, schedule = samplers.parse_sampler_name(fix.sampler or request.sampler, request.schedule)
        second = request.replace(
            mode=Mode.IMG2IMG, width=size.width, height=size.height, steps=fix.second_pass_steps(request.steps),
            denoising_strength=fix.denoise, sampler=sampler, schedule=schedule,
            prompt=request.prompt if fix.prompt is None else fix.prompt,
            negative_prompt=request.negative_prompt if fix.negative_prompt is None else fix.negative_prompt,
            hires=None, controlnets=())
        hires_controls = tuple(dataclasses.replace(unit, hint=hint) for unit, hint in zip(controls, hints))
        return cls(size, second, hires_controls, upscaler)


@dataclass(frozen=True)
class SecondPass:
    """What every batch's hires pass shares: its conditioning, step count and upscaler model (loaded once)."""

    conditionings: list[Any]
    timesteps: int  # sampler steps the second pass runs (steps times strength)
    upscaler: Any  # a core.upscale.LoadedUpscaler, or None

    @classmethod
    def prepare(cls, hires: HiresPlan, loaded: LoadedModel, embeddings: Embeddings | None,
                plan: DevicePlan) -> "SecondPass":
        request = hires.request
        scheduler = samplers.build_scheduler(request.sampler, request.schedule, loaded.scheduler_config)
        timesteps = second_pass_timesteps(scheduler, request.steps, request.denoising_strength)
        upscaler = None
        if hires.upscaler_path is not None:
            from core.upscale import load_upscaler, preferred_dtype

            upscaler = load_upscaler(hires.upscaler_path, plan.device, preferred_dtype(plan.device))
        return cls(encode_request(loaded, request, embeddings), timesteps, upscaler)

"""One diffusers pipeline call for one batch: CPU-seeded noise, step events, cancel between steps."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

import torch
from PIL import Image

from core.errors import GenerationCancelled
from core.events import CancelCheck, Progress
from core.pipelines.clip_skip import clip_skip_arguments
from core.pipelines.loader import LoadedModel
from core.request import GenerationRequest, Mode

PREVIEW_EVERY_N_STEPS = 2
NEUTRAL_GRAY = (127, 127, 127)


@dataclass(frozen=True)
class BatchSpec:
    request: GenerationRequest
    seeds: tuple[int, ...]
    batch_index: int
    batch_total: int
    init_image: Image.Image | None


def cpu_generators(seeds: tuple[int, ...]) -> list[torch.Generator]:
    """Noise comes from CPU generators so a seed gives the same image on Mac, PC and Linux."""
    return [torch.Generator("cpu").manual_seed(seed) for seed in seeds]


def _mode_arguments(loaded: LoadedModel, spec: BatchSpec) -> dict[str, Any]:
    request = spec.request
    size = (request.width, request.height)
    if loaded.source.inpaint:
        # An inpainting checkpoint generates as A1111 does: the whole image masked, gray where no init image.
        image = spec.init_image or Image.new("RGB", size, NEUTRAL_GRAY)
        strength = request.denoising_strength if request.mode is Mode.IMG2IMG else 1.0
        return {"image": image, "mask_image": Image.new("L", size, 255), "strength": strength,
                "width": request.width, "height": request.height}
    if request.mode is Mode.IMG2IMG:
        return {"image": spec.init_image, "strength": request.denoising_strength}
    return {"width": request.width, "height": request.height}


def _prompt_arguments(loaded: LoadedModel, pipe: Any, request: GenerationRequest) -> dict[str, Any]:
    if request.clip_skip <= 1:
        return {"prompt": request.prompt, "negative_prompt": request.negative_prompt or None}
    if loaded.family.name.startswith("sdxl"):
        # diffusers' SDXL path works; A1111 counts the last layer as 1, diffusers as 0.
        return {"prompt": request.prompt, "negative_prompt": request.negative_prompt or None,
                "clip_skip": request.clip_skip - 1}
    return clip_skip_arguments(pipe, request.prompt, request.negative_prompt, request.clip_skip)


def _step_callback(
    on_progress: Callable[[Progress], None],
    cancel: CancelCheck,
    preview: Callable[[torch.Tensor], Image.Image] | None,
    spec: BatchSpec,
) -> Callable[..., dict[str, Any]]:
    started = time.perf_counter()

    def on_step_end(pipe: Any, index: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        if cancel():
            raise GenerationCancelled("Generation cancelled.")
        step, total = index + 1, pipe.num_timesteps
        image = None
        if preview is not None and (step % PREVIEW_EVERY_N_STEPS == 0 or step == total):
            image = preview(tensors["latents"])
        on_progress(Progress(step, total, time.perf_counter() - started, spec.batch_index, spec.batch_total, image))
        return tensors

    return on_step_end


def run_batch(
    loaded: LoadedModel,
    spec: BatchSpec,
    scheduler: Any,
    on_progress: Callable[[Progress], None],
    cancel: CancelCheck,
    preview: Callable[[torch.Tensor], Image.Image] | None = None,
) -> torch.Tensor:
    """Run the sampler and return the final latents (decoding is separate, see decode.py)."""
    request = spec.request
    pipe = loaded.pipeline_for(request.mode)
    pipe.scheduler = scheduler
    if cancel():
        raise GenerationCancelled("Generation cancelled.")
    arguments = dict(
        **_prompt_arguments(loaded, pipe, request),
        num_inference_steps=request.steps,
        guidance_scale=request.cfg_scale,
        num_images_per_prompt=len(spec.seeds),
        generator=cpu_generators(spec.seeds),
        output_type="latent",
        callback_on_step_end=_step_callback(on_progress, cancel, preview, spec),
        **_mode_arguments(loaded, spec),
    )
    with torch.inference_mode():
        return pipe(**arguments).images

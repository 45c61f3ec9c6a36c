"""One diffusers pipeline call for one batch: CPU-seeded noise, step events, cancel between steps."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any, Callable

import torch
from PIL import Image

from core.errors import GenerationCancelled
from core.events import CancelCheck, Progress
from core.inpaint import PreparedInpaint
from core.pipelines.loader import LoadedModel
from core.pipelines.composition import ComposedPrompt, composed_guidance
from core.pipelines.control_hook import ActiveUnit, SamplingProgress, controlled_unet
from core.pipelines.inpaint_inputs import inpaint_arguments
from core.prompts import extract_lora_tags, split_and
from core.prompts.encoding import ConditioningSchedule, Embeddings, PromptEmbeddings, encode_schedules
from core.request import GenerationRequest, Mode

NEUTRAL_GRAY = (127, 127, 127)


@dataclass(frozen=True)
class BatchSpec:
    request: GenerationRequest
    seeds: tuple[int, ...]
    batch_index: int
    batch_total: int
    init_image: Image.Image | None
    conditionings: list[tuple[ConditioningSchedule, float]]  # from encode_request, shared by every batch
    inpaint: PreparedInpaint | None = None  # for Mode.INPAINT: the image and mask the model receives
    controls: tuple[ActiveUnit, ...] = ()  # ControlNet units, applied around the UNet
    hires_input: torch.Tensor | list[Image.Image] | None = None  # the hires pass's start: latents or images


def cpu_generators(seeds: tuple[int, ...]) -> list[torch.Generator]:
    """Noise comes from CPU generators so a seed gives the same image on Mac, PC and Linux."""
    return [torch.Generator("cpu").manual_seed(seed) for seed in seeds]


def _hires_arguments(loaded: LoadedModel, spec: BatchSpec) -> dict[str, Any]:
    """The hires pass: img2img from the upscaled latents (4 channels: used as they are) or images."""
    request, start = spec.request, spec.hires_input
    arguments: dict[str, Any] = {"image": start, "strength": request.denoising_strength}
    if loaded.source.inpaint:
        size = (request.width, request.height)
        arguments.update(mask_image=Image.new("L", size, 255), width=request.width, height=request.height)
        if isinstance(start, torch.Tensor):
            # The masked image is all gray, as A1111's txt2img conditioning; given as pixels it gets encoded.
            arguments["masked_image_latents"] = torch.zeros(1, 3, request.height, request.width)
    return arguments


def _mode_arguments(loaded: LoadedModel, spec: BatchSpec, generators: list[torch.Generator]) -> dict[str, Any]:
    request = spec.request
    size = (request.width, request.height)
    if spec.hires_input is not None:
        return _hires_arguments(loaded, spec)
    if request.mode is Mode.INPAINT and spec.inpaint is not None:
        pipe = loaded.pipeline_for(request.mode)
        return inpaint_arguments(pipe, spec.inpaint, request.denoising_strength, spec.seeds, generators)
    if loaded.source.inpaint:
        # An inpainting checkpoint generates as A1111 does: the whole image masked, gray where no init image.
        image = spec.init_image or Image.new("RGB", size, NEUTRAL_GRAY)
        strength = request.denoising_strength if request.mode is Mode.IMG2IMG else 1.0
        return {"image": image, "mask_image": Image.new("L", size, 255), "strength": strength,
                "width": request.width, "height": request.height}
    if request.mode is Mode.IMG2IMG:
        return {"image": spec.init_image, "strength": request.denoising_strength}
    return {"width": request.width, "height": request.height}


def _sub_prompts(request: GenerationRequest) -> list[tuple[str, float]]:
    """The positive prompt's AND parts with their weights; one part, as written, when there is no AND."""
    prompt, _ = extract_lora_tags(request.prompt)  # the LoRAs themselves are loaded by the engine
    parts = split_and(prompt)
    # Without AND, A1111 would still read a trailing ":number" as a weight ("time: 12:00" -> weight 0):
    # Easel keeps such a prompt as plain text.
    return parts if len(parts) > 1 else [(prompt, 1.0)]


def encode_request(
    loaded: LoadedModel, request: GenerationRequest, embeddings: Embeddings | None = None
) -> list[tuple[ConditioningSchedule, float]]:
    """The request's conditioning, one schedule per AND part with its weight; encoded once per request."""
    pipe = loaded.pipeline_for(request.mode)
    return [
        (encode_schedules(pipe, loaded.family.name, text, request.negative_prompt, request.steps,
                          request.clip_skip, embeddings), weight)
        for text, weight in _sub_prompts(request)
    ]


def _prompt_arguments(embeddings: PromptEmbeddings) -> dict[str, Any]:
    arguments = {"prompt_embeds": embeddings.prompt_embeds, "negative_prompt_embeds": embeddings.negative_prompt_embeds}
    if embeddings.pooled is not None:
        arguments["pooled_prompt_embeds"] = embeddings.pooled
        arguments["negative_pooled_prompt_embeds"] = embeddings.negative_pooled
    return arguments


def _pipeline_tensors(pipe: Any, embeddings: PromptEmbeddings, images: int) -> dict[str, torch.Tensor]:
    """The conditioning as the pipeline holds it during sampling: with CFG, negatives then positives, per image."""

    def rows(positive: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
        batch = [negative] * images + [positive] * images if pipe.do_classifier_free_guidance else [positive] * images
        return torch.cat(batch).to(pipe._execution_device)

    tensors = {"prompt_embeds": rows(embeddings.prompt_embeds, embeddings.negative_prompt_embeds)}
    if embeddings.pooled is not None:
        tensors["add_text_embeds"] = rows(embeddings.pooled, embeddings.negative_pooled)
    return tensors


def _prompt_switch(
    conditioning: ConditioningSchedule, images: int, composed: ComposedPrompt | None,
    progress: SamplingProgress | None = None,
) -> Callable[[Any, int], dict[str, torch.Tensor]]:
    """Replacement tensors for the model call `step` when prompt editing changes the text there."""

    def switch(pipe: Any, step: int) -> dict[str, torch.Tensor]:
        if composed is not None:
            composed.step = step  # each AND part follows its own schedule
        if progress is not None:
            progress.step, progress.total = step, pipe.num_timesteps  # ControlNet guidance start/end
        if not conditioning.changes_at(step):
            return {}
        return _pipeline_tensors(pipe, conditioning.at(step), images)

    return switch


def _step_callback(
    on_progress: Callable[[Progress], None],
    cancel: CancelCheck,
    preview: Callable[[torch.Tensor], Image.Image] | None,
    preview_every: int,
    spec: BatchSpec,
    switch_prompt: Callable[[Any, int], dict[str, torch.Tensor]],
) -> Callable[..., dict[str, Any]]:
    started = time.perf_counter()

    def on_step_end(pipe: Any, index: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        if cancel():
            raise GenerationCancelled("Generation cancelled.")
        step, total = index + 1, pipe.num_timesteps
        image = None
        if preview is not None and preview_every > 0 and (step % preview_every == 0 or step == total):
            image = preview(tensors["latents"])
        on_progress(Progress(step, total, time.perf_counter() - started, spec.batch_index, spec.batch_total, image))
        # The callback runs after model call `index`; what it returns conditions call `index + 1`.
        return {**tensors, **switch_prompt(pipe, index + 1)}

    return on_step_end


def run_batch(
    loaded: LoadedModel,
    spec: BatchSpec,
    scheduler: Any,
    on_progress: Callable[[Progress], None],
    cancel: CancelCheck,
    preview: Callable[[torch.Tensor], Image.Image] | None,
    preview_every: int,
) -> torch.Tensor:
    """Run the sampler and return the final latents (decoding is separate, see decode.py).

    A preview comes with every `preview_every`-th step's progress and the last one's; 0: none."""
    request = spec.request
    pipe = loaded.pipeline_for(request.mode)
    pipe.scheduler = scheduler
    if cancel():
        raise GenerationCancelled("Generation cancelled.")
    parts = spec.conditionings
    conditioning = parts[0][0]  # with AND its positive half is replaced by the composition below
    composed = ComposedPrompt(parts, len(spec.seeds)) if len(parts) > 1 else None
    generators = cpu_generators(spec.seeds)
    progress = SamplingProgress()
    arguments = dict(
        **_prompt_arguments(conditioning.at(0)),
        num_inference_steps=request.steps,
        guidance_scale=request.cfg_scale,
        num_images_per_prompt=len(spec.seeds),
        generator=generators,
        output_type="latent",
        callback_on_step_end=_step_callback(on_progress, cancel, preview, preview_every, spec,
                                            _prompt_switch(conditioning, len(spec.seeds), composed, progress)),
    )
    composition = composed_guidance(pipe.unet, composed) if composed else contextlib.nullcontext()
    control = controlled_unet(pipe.unet, list(spec.controls), progress, len(spec.seeds)) if spec.controls \
        else contextlib.nullcontext()
    with torch.inference_mode(), composition, control:  # the control hook wraps the composition's UNet calls
        # Inside inference mode: latent noise / nothing encode the image here, with the same generators.
        return pipe(**arguments, **_mode_arguments(loaded, spec, generators)).images

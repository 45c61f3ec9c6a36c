"""The engine: one loaded model, reused across requests; requests in, typed events out."""

from __future__ import annotations

import datetime
import gc
import random
import time
import traceback
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from PIL import Image

from core import infotext, samplers
from core.control_units import ControlNets, stored_bytes
from core.device import DevicePlan, plan_device, total_memory_bytes
from core.engine_options import EngineOptions
from core.errors import EaselError, GenerationCancelled, RequestError
from core.events import (
    Cancelled, EngineEvent, EventSink, Failed, Finished, ImageDone, ModelLoading, ModelReady, Notice, Started,
)
from core.file_names import NameFields
from core.hires import HiresSize
from core.hires_job import HiresPlan, SecondPass, hires_hints, hires_upscaler_file, validate_hires
from core.images import next_image_path, save_png_atomically
from core.inpaint import PreparedInpaint
from core.model_resolution import ModelResolver, ResolvedModel, autov2_when_ready, lora_hash_when_ready
from core.paths import AppPaths
from core.pipelines.attention_slicing import set_attention_slicing
from core.pipelines.control_hook import ActiveUnit
from core.pipelines.decode import decode_latents, needs_upcast, tiling_wanted, vae_tiling
from core.pipelines.families import BANG, ENDOFTEXT, family_of
from core.pipelines.hires import TwoPassProgress, upscale_images, upscale_latents
from core.pipelines.loader import LoadedModel, file_identity, load_model, load_vae
from core.pipelines.lora import apply_loras
from core.pipelines.run import BatchSpec, encode_request, run_batch
from core.preview import latents_to_rgb_preview
from core.prompts.embeddings import EmbeddingCache, describe_widths, encoder_widths, fit_to_encoders, names_in_texts
from core.prompts.encoding import Embeddings, embeddings_used
from core.prompts.lora_tags import LoraTag, extract_lora_tags
from core.request import INPAINT_AREAS, MASK_MODES, MASKED_CONTENTS, RESIZE_MODES, GenerationRequest, Mode
from core.request_images import start_images
from core.settings import VAE_AUTOMATIC, VAE_NONE, Settings
from core.sizes import VAE_DECODE_BYTES_PER_PIXEL_FP32, check_fits_in_memory, round_to_multiple_of_8
from core.tokenizer import TokenizerCache
from core.vae_choice import automatic_vae, vae_choice

MAX_SEED = 2**32 - 1
OUT_OF_MEMORY_HINT = "Lower the width, height or batch size, close other apps, or use a smaller model."


def is_out_of_memory(error: BaseException) -> bool:
    if isinstance(error, torch.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and "out of memory" in str(error).lower()


def free_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    if torch.backends.mps.is_available():
        torch.mps.empty_cache()


def _check_choice(what: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise RequestError(f"Unknown {what} {value!r}.", hint=f"Use one of: {', '.join(choices)}.")


class Engine:
    """Generates images. Not thread-safe: one worker thread owns it."""

    def __init__(
        self,
        resolver: ModelResolver,
        outputs_dir: Path,
        device: str | None = None,
        load: Callable[..., LoadedModel] = load_model,
        options: EngineOptions | None = None,
    ) -> None:
        self._resolver = resolver
        self._outputs_dir = outputs_dir
        self._device_override = device
        self._options = options or EngineOptions()
        self._plan: DevicePlan | None = None
        self._load = load
        self._loaded: LoadedModel | None = None
        self._embedding_files = EmbeddingCache()
        self._tokenizers = TokenizerCache()
        self._controlnets = ControlNets()
        self.load_count = 0

    def warm_up(self) -> None:
        """Do now, while nobody waits, the slow parts of a first generation: importing diffusers and
        building the tokenizers (which holds the GIL and would stall the window mid-generation)."""
        import diffusers  # noqa: F401

        for pad in (ENDOFTEXT, BANG):
            self._tokenizers.get(pad)
        # The hundreds of thousands of objects the imports made live as long as the process: moved out of
        # the collector's view, a full collection (hundreds of ms with the GIL held) becomes cheap.
        gc.freeze()

    @classmethod
    def from_settings(
        cls, resolver: ModelResolver, paths: AppPaths, settings: Settings, device: str | None = None
    ) -> "Engine":
        """An engine as the user's settings ask; `device` (a command-line flag) overrides theirs."""
        return cls(resolver, settings.outputs_folder(paths.outputs_dir), device=device or settings.device,
                   options=EngineOptions.from_settings(settings))

    @property
    def options(self) -> EngineOptions:
        return self._options

    def configure(self, options: EngineOptions, device: str | None) -> None:
        """New settings for the next request (`device` None: the best there is); the loaded model is kept
        unless the device or precision change."""
        self._options, self._device_override, self._plan = options, device, None

    def apply_settings(self, paths: AppPaths, settings: Settings, device: str | None = None) -> None:
        """What `from_settings` sets up, for settings changed while the engine runs (output folder too)."""
        self.configure(EngineOptions.from_settings(settings), device or settings.device)
        self._outputs_dir = settings.outputs_folder(paths.outputs_dir)

    def use_resolver(self, resolver: ModelResolver) -> None:
        """Model folders changed: find models through `resolver`; the loaded model stays if it is the same."""
        self._resolver = resolver

    @property
    def plan(self) -> DevicePlan:
        if self._plan is None:
            options = self._options
            self._plan = plan_device(self._device_override, options.precision, options.attention_slicing)
        return self._plan

    @property
    def loaded_model(self) -> LoadedModel | None:
        return self._loaded

    @property
    def controlnet_load_count(self) -> int:
        return self._controlnets.load_count

    def unload(self) -> None:
        if self._loaded is None:
            return  # a full collection holds the GIL for a noticeable time: only when it frees something
        self._loaded = None
        self._controlnets.clear()
        free_memory()

    def generate(
        self,
        request: GenerationRequest,
        on_event: EventSink,
        cancel: Callable[[], bool] = lambda: False,
        output_dir: Path | None = None,
    ) -> list[ImageDone]:
        """Run a request to the end, sending events; never raises for a failure the user can act on."""
        done: list[ImageDone] = []

        def collect(event: EngineEvent) -> None:
            if isinstance(event, ImageDone):
                done.append(event)
            on_event(event)

        try:
            self._generate(request, collect, cancel, output_dir)
        except GenerationCancelled:
            free_memory()
            on_event(Cancelled(images_kept=len(done)))
        except EaselError as error:
            on_event(Failed(error.message, error.hint, error.details))
        except Exception as error:  # noqa: BLE001 - the engine must stay usable after any failure
            details = traceback.format_exc()
            free_memory()
            if is_out_of_memory(error):
                on_event(Failed("Out of memory while generating.", OUT_OF_MEMORY_HINT, details))
            else:
                on_event(Failed(f"Generation failed: {error}", "See the details; the app is still usable.", details))
        return done

    def _generate(
        self, request: GenerationRequest, on_event: EventSink, cancel: Callable[[], bool], output_dir: Path | None
    ) -> None:
        started = time.perf_counter()
        request, notices = self._validated(request)
        start = start_images(request)
        request = start.request
        notices += start.notices
        resolved = self._resolver.resolve(request)
        if resolved.notice:
            notices.append(resolved.notice)
        family_of(resolved.source.architecture).pipeline_class_name(request.mode, resolved.source.inpaint)
        hires_size = request.hires.target_size(request.width, request.height) if request.hires else None
        control_sources = ControlNets.resolve(request, self._resolver, resolved.source.architecture)
        vae_tiled = self._check_memory(resolved, request, hires_size, stored_bytes(control_sources))
        loras = self._resolve_loras(request, resolved)
        seeds = self._seeds(request)
        prepared = ControlNets.prepare(request, start, control_sources, self._resolver, seeds[0],
                                       str(self.plan.device))
        hints = hires_hints(request, start, hires_size, seeds[0], prepared.annotators)
        upscaler = hires_upscaler_file(request, self._resolver)
        vae_path, vae_future, vae_notice = self._vae_for(request, resolved)
        notices += [vae_notice] if vae_notice else []
        loaded = self._ensure_loaded(resolved, on_event)
        controls = self._controlnets.activate(prepared, dict(loaded.base.unet.config), self.plan,
                                              self.plan.attention_slicing, on_event)
        set_attention_slicing(loaded.base, self.plan.attention_slicing)
        resolved.start_hashing()
        vae_hash = self._ensure_vae(loaded, vae_path, vae_future)
        lora_hashes = self._ensure_loras(loaded, loras)
        embeddings, ti_hashes = self._embeddings(loaded, request, notices)
        hires = HiresPlan.of(request, hires_size, controls, hints, upscaler)
        job = Job(request, resolved, loaded, seeds, start.init_image, vae_hash,
                  output_dir or self._default_output_folder(request), lora_hashes, embeddings, ti_hashes,
                  start.inpaint, controls, prepared.titles, vae_path.name if vae_path else None, hires, vae_tiled)
        on_event(Started(request, job.seeds, tuple(notices)))
        saved = self._run_batches(job, on_event, cancel)
        on_event(Finished(tuple(saved), job.seeds, time.perf_counter() - started))

    def _run_batches(self, job: "Job", on_event: EventSink, cancel: Callable[[], bool]) -> list[Path]:
        request, loaded = job.request, job.loaded
        scheduler = samplers.build_scheduler(request.sampler, request.schedule, loaded.scheduler_config)
        preview = lambda latents: latents_to_rgb_preview(latents, loaded.family.preview_family)  # noqa: E731
        saved: list[Path] = []
        conditionings = encode_request(loaded, request, job.embeddings)
        second = SecondPass.prepare(job.hires, loaded, job.embeddings, self.plan) if job.hires else None
        for batch_index in range(request.batch_count):
            batch_seeds = job.seeds[batch_index * request.batch_size:(batch_index + 1) * request.batch_size]
            spec = BatchSpec(request, batch_seeds, batch_index, request.batch_count, job.init_image, conditionings,
                             job.inpaint, job.controls)
            progress = TwoPassProgress(on_event, second.timesteps) if second else None
            with vae_tiling(loaded.pipeline_for(request.mode).vae, job.vae_tiled):  # img2img encodes its input
                latents = run_batch(loaded, spec, scheduler, progress.first if progress else on_event, cancel,
                                    preview, self._options.preview_every)
            if second is not None and progress is not None:
                images = self._hires_pass(job, second, spec, latents, progress, on_event, cancel, preview)
            else:
                images = self._decode(job, request.mode, latents, on_event)
            if job.inpaint is not None:
                images = [job.inpaint.composite(image) for image in images]
            for image, seed in zip(images, batch_seeds):
                event = self._save(job, image, seed)
                saved.extend([event.path] if event.path else [])
                on_event(event)
        return saved

    def _decode(self, job: "Job", mode: Mode, latents: torch.Tensor, on_event: EventSink) -> list[Image.Image]:
        pipe = job.loaded.pipeline_for(mode)
        images, notice = decode_latents(pipe, latents, upcast=needs_upcast(pipe.vae, job.loaded.family.name),
                                        tiled=job.vae_tiled)
        if notice:
            on_event(Notice(notice))
        return images

    def _hires_pass(self, job: "Job", second: "SecondPass", spec: BatchSpec, latents: torch.Tensor,
                    progress: TwoPassProgress, on_event: EventSink, cancel: Callable[[], bool],
                    preview: Callable[[torch.Tensor], Image.Image]) -> list[Image.Image]:
        """Upscale the first pass's result and repaint it at the hires size (A1111's sample_hr_pass)."""
        hires = job.hires
        assert hires is not None
        fix = job.request.hires
        assert fix is not None
        latent_mode = fix.latent_mode
        if latent_mode is not None:
            start: torch.Tensor | list[Image.Image] = upscale_latents(latents, hires.size, latent_mode)
        else:
            start = upscale_images(self._decode(job, job.request.mode, latents, on_event), fix, hires.size,
                                   second.upscaler, cancel)
        if second.timesteps == 0:  # denoising strength 0: the upscale as it is
            return self._decode(job, Mode.IMG2IMG, start, on_event) if isinstance(start, torch.Tensor) else start
        second_spec = BatchSpec(hires.request, spec.seeds, spec.batch_index, spec.batch_total, None,
                                second.conditionings, None, hires.controls, hires_input=start)
        scheduler = samplers.build_scheduler(hires.request.sampler, hires.request.schedule,
                                             job.loaded.scheduler_config)
        with vae_tiling(job.loaded.pipeline_for(Mode.IMG2IMG).vae, job.vae_tiled):
            final = run_batch(job.loaded, second_spec, scheduler, progress.second, cancel, preview,
                              self._options.preview_every)
        return self._decode(job, Mode.IMG2IMG, final, on_event)

    def _validated(self, request: GenerationRequest) -> tuple[GenerationRequest, list[str]]:
        if not 1 <= request.steps <= 1000:
            raise RequestError(f"{request.steps} steps is out of range.", hint="Use between 1 and 1000 steps.")
        if request.batch_size < 1 or request.batch_count < 1:
            raise RequestError("Batch size and batch count must be at least 1.")
        if request.mode is Mode.IMG2IMG and request.init_image is None:
            raise RequestError("Img2img needs an init image.", hint="Choose an image to start from.")
        if request.mode is Mode.INPAINT:
            self._validate_inpaint(request)
        if not 0.0 <= request.denoising_strength <= 1.0:
            raise RequestError("Denoising strength must be between 0 and 1.")
        _check_choice("resize mode", request.resize_mode, RESIZE_MODES)
        for index, unit in enumerate(request.controlnets):
            unit.check(index)
        samplers.parse_sampler_name(request.sampler, request.schedule)
        validate_hires(request)
        rounded = round_to_multiple_of_8(request.width, request.height)
        notices = [rounded.notice] if rounded.notice else []
        return request.replace(width=rounded.width, height=rounded.height), notices

    @staticmethod
    def _validate_inpaint(request: GenerationRequest) -> None:
        if request.init_image is None:
            raise RequestError("Inpainting needs an init image.", hint="Choose the image to repaint.")
        if request.mask is None and not request.outpaint:
            raise RequestError("Inpainting needs a mask.",
                               hint="Give a mask image, white where to repaint, or sides to outpaint.")
        _check_choice("mask mode", request.mask_mode, MASK_MODES)
        _check_choice("masked content", request.masked_content, MASKED_CONTENTS)
        _check_choice("inpaint area", request.inpaint_area, INPAINT_AREAS)
        if request.mask_blur < 0 or request.padding < 0:
            raise RequestError("Mask blur and padding cannot be negative.")

    def _check_memory(self, resolved: ResolvedModel, request: GenerationRequest, hires: HiresSize | None,
                      controlnet_bytes: int) -> bool:
        """Refuse a size that cannot fit (the hires size when there is one, with the ControlNets' weights);
        returns whether the VAE tiles."""
        plan = self.plan
        if plan.device.type == "cuda":
            available = torch.cuda.mem_get_info(plan.device)[1]
        else:
            available = total_memory_bytes()
        family = resolved.source.architecture.split("-")[0]
        half = plan.dtype != torch.float32
        width, height = (hires.width, hires.height) if hires else (request.width, request.height)
        decode_bytes = VAE_DECODE_BYTES_PER_PIXEL_FP32 * width * height * request.batch_size * (0.5 if half else 1)
        # Not discounted for tiling: the estimate stands for the UNet's working memory at that size too.
        check_fits_in_memory(family, width, height, request.batch_size, half, available, controlnet_bytes)
        return tiling_wanted(self._options.vae_tiling, int(decode_bytes), available)

    def _ensure_loaded(self, resolved: ResolvedModel, on_event: EventSink) -> LoadedModel:
        key = resolved.source.cache_key(self.plan)
        if self._loaded is not None and self._loaded.key == key:
            return self._loaded
        self.unload()
        on_event(ModelLoading(resolved.name))
        started = time.perf_counter()
        try:
            self._loaded = self._load(resolved.source, self.plan, tokenizers=self._tokenizers)
        except EaselError:
            raise
        except Exception as error:
            if is_out_of_memory(error):
                raise
            raise EaselError(
                f"The model {resolved.name} could not be loaded: {error}",
                hint="The file may be damaged or of an unsupported variant; check it loads in another tool, "
                "or give Easel its diffusers config folder (--model-config).",
                details=traceback.format_exc(),
            ) from error
        self.load_count += 1
        on_event(ModelReady(resolved.name, time.perf_counter() - started))
        return self._loaded

    def _vae_for(self, request: GenerationRequest, resolved: ResolvedModel
                 ) -> tuple[Path | None, Future | None, str | None]:
        """The VAE file to use (None: the checkpoint's own), its hash being computed, and a notice when the
        settings name a VAE that cannot be used (the checkpoint's own is used then; a request's is refused)."""
        options = self._options
        choice, explicit = vae_choice(request.vae, resolved.source.path, resolved.name, options.model_vaes,
                                      options.vae)
        if choice == VAE_NONE:
            return None, None, None
        if choice == VAE_AUTOMATIC:
            beside = automatic_vae(resolved.source.path)
            if beside is None:
                return None, None, None
            choice = str(beside)
        try:
            path, future = self._resolver.resolve_vae(choice)
        except EaselError as error:
            if explicit:
                raise
            return None, None, (f"The VAE {choice!r} chosen in the settings cannot be used ({error.message}); "
                                "the checkpoint's own VAE was used.")
        return path, future, None

    def _ensure_vae(self, loaded: LoadedModel, path: Path | None, hash_future: Future | None) -> str | None:
        """Swap in the chosen VAE (loaded once per file) or restore the checkpoint's own; its hash."""
        if path is None:
            loaded.use_vae(None, None)
            return None
        key = file_identity(path)
        if loaded.vae_key != key:
            loaded.use_vae(load_vae(path, loaded.config_dir, self.plan), key)
        return autov2_when_ready(hash_future)

    def _resolve_loras(self, request: GenerationRequest, resolved: ResolvedModel) -> list[tuple[LoraTag, Path, Future]]:
        """Each `<lora:...>` tag's file (and its hash, being computed); refuses missing or mismatched LoRAs
        before anything is loaded."""
        _, tags = extract_lora_tags(request.prompt)
        return [(tag, *self._resolver.resolve_lora(tag.name, resolved.source.architecture)) for tag in tags]

    @staticmethod
    def _ensure_loras(loaded: LoadedModel, loras: list[tuple[LoraTag, Path, Future]]) -> str | None:
        """Apply the prompt's LoRAs (none: take any off); they stay for the next request that uses the same.
        Returns the infotext's `Lora hashes` value."""
        applied = apply_loras(loaded, [tag for tag, _, _ in loras], [path for _, path, _ in loras])
        hashes = [(lora.name, lora_hash_when_ready(future)) for lora, (_, _, future) in zip(applied, loras)]
        return ", ".join(f"{name}: {value}" for name, value in hashes if value) or None

    def _embeddings(self, loaded: LoadedModel, request: GenerationRequest,
                    notices: list[str]) -> tuple[Embeddings, str | None]:
        """The textual-inversion embeddings the prompts name, fitted to this model, and the infotext's
        `TI hashes`; one made for another model is skipped with a notice, its name left as words."""
        pipe = loaded.pipeline_for(request.mode)
        prompt, _ = extract_lora_tags(request.prompt)
        available = self._resolver.embeddings()
        tokenizer = getattr(pipe, "tokenizer", None) or pipe.tokenizer_2  # the SDXL refiner has only the second
        widths = encoder_widths(pipe)
        fitted: dict[str, dict[str, torch.Tensor]] = {}
        texts = [prompt, request.negative_prompt]
        if request.hires is not None:  # the hires pass's own prompts may name others
            texts += [extract_lora_tags(request.hires.prompt or "")[0], request.hires.negative_prompt or ""]
        for name in names_in_texts(tokenizer, texts, available):
            vectors = self._embedding_files.read(available[name])  # UnsafeFileError for a pickle that runs code
            fit = fit_to_encoders(vectors, widths)
            if fit is None:
                notices.append(f"The embedding {name} ({describe_widths(vectors)}) was made for another kind of "
                               f"model than {loaded.family.name}; it is skipped and its name read as words.")
            else:
                fitted[name] = fit
        used = embeddings_used(pipe, loaded.family.name, prompt, request.negative_prompt, request.steps, fitted)
        hashes = [(name, lora_hash_when_ready(self._resolver.hash_embedding(available[name]))) for name in used]
        # A1111 drops ":" and "," from names so the list can be read back.
        text = ", ".join(f"{name.replace(':', '').replace(',', '')}: {value}" for name, value in hashes if value)
        return fitted, text or None

    @staticmethod
    def _seeds(request: GenerationRequest) -> tuple[int, ...]:
        first = request.seed if request.seed >= 0 else random.randint(0, MAX_SEED)
        return tuple((first + i) % (MAX_SEED + 1) for i in range(request.batch_size * request.batch_count))

    def _default_output_folder(self, request: GenerationRequest) -> Path:
        kind = "txt2img-images" if request.mode is Mode.TXT2IMG else "img2img-images"  # A1111 puts inpaint there too
        return self._outputs_dir / kind / datetime.date.today().isoformat()

    def _save(self, job: "Job", image: Image.Image, seed: int) -> ImageDone:
        request = job.request
        extra: dict[str, object] = {"Lora hashes": job.lora_hashes, "TI hashes": job.ti_hashes}
        extra.update(infotext.controlnet_params(list(zip(request.controlnets, job.control_titles))))
        text = infotext.infotext_for_request(request, seed, job.resolved.name, job.resolved.model_hash(),
                                             vae_hash=job.vae_hash, vae_name=job.vae_name,
                                             extra={key: value for key, value in extra.items() if value} or None)
        request_json = request.replace(seed=seed).to_json_dict()
        try:
            job.folder.mkdir(parents=True, exist_ok=True)
            path = save_png_atomically(image, self._image_path(job, seed), text, request_json)
        except OSError as error:
            return ImageDone(image, seed, text, None,
                             f"Could not save the image in {job.folder}: {error.strerror or error}")
        return ImageDone(image, seed, text, path)

    def _image_path(self, job: "Job", seed: int) -> Path:
        request = job.request
        fields = NameFields(seed, job.resolved.name, request.width, request.height, request.sampler, request.steps,
                            request.cfg_scale, request.prompt)
        return next_image_path(job.folder, seed, self._options.file_name_pattern, fields)


@dataclass(frozen=True)
class Job:
    """One validated request with everything resolved for it."""

    request: GenerationRequest
    resolved: ResolvedModel
    loaded: LoadedModel
    seeds: tuple[int, ...]
    init_image: Image.Image | None
    vae_hash: str | None
    folder: Path
    lora_hashes: str | None = None  # `name: hash, ...` for the infotext
    embeddings: Embeddings | None = None  # textual inversions the prompts use, fitted to the model
    ti_hashes: str | None = None  # `name: hash, ...` for the infotext
    inpaint: PreparedInpaint | None = None  # for Mode.INPAINT: the model's input and how to composite its output
    controls: tuple[ActiveUnit, ...] = ()  # ControlNet units, ready to run
    control_titles: tuple[str, ...] = ()  # every unit's model as the infotext names it
    vae_name: str | None = None  # the VAE file used instead of the checkpoint's own
    hires: "HiresPlan | None" = None  # the hires fix's second pass
    vae_tiled: bool = False  # the VAE decodes and encodes in tiles

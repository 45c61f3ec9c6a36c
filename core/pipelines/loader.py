"""Turn a checkpoint file (or diffusers folder) into a ready pipeline, with no network."""

from __future__ import annotations

import importlib
import inspect
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.device import DevicePlan
from core.errors import ModelFileError
from core.models.safe_load import load_state_dict
from core.offline import enforce_offline
from core.pipelines.families import Family, family_of
from core.pipelines.fast_load import load_diffusers_component, load_text_encoder
from core.request import Mode
from core.tokenizer import TokenizerCache

SKIPPED_COMPONENTS = {"tokenizer", "tokenizer_2", "safety_checker", "feature_extractor", "image_encoder"}


def file_identity(path: Path) -> tuple[str, int, int]:
    """Path, size and modification time: a changed file is a different model."""
    stat = path.stat()
    return str(path.resolve()), stat.st_size, stat.st_mtime_ns


@dataclass(frozen=True)
class ModelSource:
    """A model as the loader needs it: where the weights are and which config describes them."""

    path: Path
    architecture: str  # sd1, sd2, sd2-v, sdxl, sdxl-refiner
    inpaint: bool
    config_dir: Path | None  # None for a diffusers-format folder, which carries its own
    v_prediction: bool = False

    @property
    def is_diffusers_folder(self) -> bool:
        return self.path.is_dir()

    def cache_key(self, plan: DevicePlan) -> tuple[Any, ...]:
        return (*file_identity(self.path), str(self.config_dir), self.v_prediction, str(plan.device), str(plan.dtype))


@dataclass
class LoadedModel:
    """One set of weights in memory; every mode's pipeline is built from it without reloading."""

    source: ModelSource
    family: Family
    base: Any  # a diffusers DiffusionPipeline
    key: tuple[Any, ...]
    scheduler_config: dict[str, Any] = field(default_factory=dict)  # the model's own, before samplers change it
    _pipelines: dict[str, Any] = field(default_factory=dict)
    _own_vae: Any = None
    vae_key: tuple[Any, ...] | None = None  # which override VAE is in use; None = the checkpoint's own
    lora_state: Any = None  # the LoRAs applied as adapters, kept by core.pipelines.lora

    @property
    def config_dir(self) -> Path:
        return self.source.config_dir or self.source.path

    def use_vae(self, vae: Any | None, key: tuple[Any, ...] | None) -> None:
        """Swap in an override VAE for every mode's pipeline, or restore the checkpoint's own (None)."""
        if self._own_vae is None:
            self._own_vae = self.base.vae
        chosen = self._own_vae if vae is None else vae
        for pipe in (self.base, *self._pipelines.values()):
            pipe.vae = chosen
        self.vae_key = key if vae is not None else None

    def pipeline_for(self, mode: Mode) -> Any:
        import diffusers

        class_name = self.family.pipeline_class_name(mode, self.source.inpaint)
        if type(self.base).__name__ == class_name:
            return self.base
        if class_name not in self._pipelines:
            pipe = getattr(diffusers, class_name).from_pipe(self.base)
            pipe.set_progress_bar_config(disable=True)  # not carried over by from_pipe; Easel reports progress
            self._pipelines[class_name] = pipe
        return self._pipelines[class_name]


def diffusers_folder_architecture(folder: Path) -> tuple[str, bool]:
    """Family and inpaint flag of a diffusers-format folder, from its JSON configs."""
    try:
        index = json.loads((folder / "model_index.json").read_text(encoding="utf-8"))
        unet = json.loads((folder / "unet" / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ModelFileError(
            f"{folder} is not a diffusers model folder: {error}.",
            hint="Point Easel at a folder with model_index.json and unet/config.json, or at a .safetensors file.",
        ) from error
    inpaint = unet.get("in_channels") == 9
    if "text_encoder_2" in index:
        return ("sdxl" if index.get("text_encoder") not in (None, [None, None]) else "sdxl-refiner"), inpaint
    width = unet.get("cross_attention_dim")
    return ("sd2" if width == 1024 else "sd1"), inpaint


def _absent_optional_parts(pipeline_class: Any) -> dict[str, None]:
    """The safety checker and its feature extractor are not used: pass them as None so nothing is fetched."""
    accepted = inspect.signature(pipeline_class.__init__).parameters
    return {name: None for name in ("safety_checker", "feature_extractor", "image_encoder") if name in accepted}


def _read_index(config_dir: Path) -> dict[str, Any]:
    return json.loads((config_dir / "model_index.json").read_text(encoding="utf-8"))


def _component_classes(index: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {
        name: (value[0], value[1])
        for name, value in index.items()
        if isinstance(value, list) and len(value) == 2 and value[0] and value[1]
        and name not in SKIPPED_COMPONENTS
    }


def _index_arguments(index: dict[str, Any], pipeline_class: Any) -> dict[str, Any]:
    """What model_index.json says beyond the components: plain settings (requires_aesthetics_score, ...)
    and parts listed as [null, null] (the SDXL refiner's text_encoder), which the pipeline still requires."""
    accepted = inspect.signature(pipeline_class.__init__).parameters
    settings = {k: v for k, v in index.items() if not isinstance(v, list) and not k.startswith("_")}
    declared_empty = {k: None for k, v in index.items() if v == [None, None]}
    return {k: v for k, v in {**settings, **declared_empty}.items() if k in accepted and k != "self"}


def _load_component(name: str, library: str, class_name: str, checkpoint: dict[str, Any], config_dir: Path,
                    plan: DevicePlan) -> Any:
    """One component from the already-read checkpoint, with diffusers' own key conversion."""
    cls = getattr(importlib.import_module(library), class_name)
    if name in ("unet", "vae"):
        return load_diffusers_component(cls, checkpoint, config_dir, name, plan.dtype, plan.device)
    if name.startswith("text_encoder"):
        return load_text_encoder(cls, checkpoint, config_dir, name, plan.dtype, plan.device)
    return cls.from_pretrained(str(config_dir), subfolder=name, local_files_only=True)


def _load_single_file(source: ModelSource, pipeline_class: Any, plan: DevicePlan, extra: dict[str, Any]) -> Any:
    assert source.config_dir is not None
    index = _read_index(source.config_dir)
    checkpoint = load_state_dict(source.path)
    components = {
        name: _load_component(name, library, class_name, checkpoint, source.config_dir, plan)
        for name, (library, class_name) in _component_classes(index).items()
    }
    del checkpoint
    return pipeline_class(**components, **{**_index_arguments(index, pipeline_class), **extra})


def is_fp16_fix_vae(path: Path) -> bool:
    """madebyollin's sdxl-vae-fp16-fix (as downloaded: sdxl-vae-fp16-fix.safetensors, sdxl_vae_fp16_fix...):
    rescaled so it does not overflow in half precision; its own config says force_upcast false."""
    name = path.name.lower().replace("_", "-")
    return "fp16-fix" in name or "fp16fix" in name


def load_vae(path: Path, config_dir: Path, plan: DevicePlan) -> Any:
    """A standalone VAE file (ldm or diffusers keys, with or without `first_stage_model.`).

    It takes the checkpoint's VAE config, except that the fp16-fix VAE is not upcast to float32."""
    from diffusers import AutoencoderKL

    vae = load_diffusers_component(AutoencoderKL, load_state_dict(path), config_dir, "vae", plan.dtype, plan.device)
    if is_fp16_fix_vae(path):
        vae.register_to_config(force_upcast=False)
    return vae


def load_model(source: ModelSource, plan: DevicePlan, tokenizers: TokenizerCache | None = None) -> LoadedModel:
    enforce_offline()
    import diffusers

    family = family_of(source.architecture)
    class_name = family.pipeline_class_name(Mode.TXT2IMG if family.txt2img else Mode.IMG2IMG, source.inpaint)
    pipeline_class = getattr(diffusers, class_name)
    tokenizers = tokenizers or TokenizerCache()
    extra = {**{name: tokenizers.get(pad) for name, pad in family.tokenizer_pads.items()},
             **_absent_optional_parts(pipeline_class)}
    if source.is_diffusers_folder:
        pipe = pipeline_class.from_pretrained(source.path, local_files_only=True, torch_dtype=plan.dtype, **extra)
    else:
        pipe = _load_single_file(source, pipeline_class, plan, extra)
    if source.v_prediction and pipe.scheduler.config.get("prediction_type") != "v_prediction":
        pipe.scheduler.register_to_config(prediction_type="v_prediction")
    pipe.set_progress_bar_config(disable=True)
    if source.is_diffusers_folder and plan.device.type != "cpu":  # single files load straight onto the device
        pipe.to(plan.device)
    if plan.attention_slicing:
        pipe.enable_attention_slicing()
    return LoadedModel(
        source=source, family=family, base=pipe, key=source.cache_key(plan), scheduler_config=dict(pipe.scheduler.config)
    )

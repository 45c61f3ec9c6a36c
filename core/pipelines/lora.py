"""LoRAs named by `<lora:name:weight>` tags, as peft adapters on the loaded model's UNet and text encoders.

Adapters stay unfused: unloading them gives back the base weights bit for bit, while fusing and
unfusing drifts (~5e-5). The set in use is remembered with the loaded model, so a request with the
same files and weights runs without loading anything again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import ModelFileError
from core.models.safe_load import load_state_dict
from core.pipelines.loader import LoadedModel, file_identity
from core.prompts.lora_tags import LoraTag

FAMILY_TITLES = {"sd1": "SD 1.x", "sd2": "SD 2.x", "sdxl": "SDXL", "sdxl-refiner": "SDXL refiner"}
_MISFIT_SIGNS = ("size mismatch", "mismatched", "not found in the base model")


@dataclass(frozen=True)
class AppliedLora:
    """One LoRA in use: the tag's name and weights, its file, and the adapter that carries it."""

    name: str
    path: Path
    weight: float
    te_weight: float | None
    adapter: str


@dataclass(frozen=True)
class _AppliedSet:
    key: tuple[Any, ...]
    loras: list[AppliedLora]


def lora_family(architecture: str) -> str:
    """The family a LoRA must be made for: SD 2.x LoRAs fit v-prediction SD 2.x models too."""
    return "sd2" if architecture == "sd2-v" else architecture


def wrong_architecture_error(name: str, lora_architecture: str, model_architecture: str) -> ModelFileError:
    lora_title = FAMILY_TITLES.get(lora_family(lora_architecture), lora_architecture)
    model_title = FAMILY_TITLES.get(lora_family(model_architecture), model_architecture)
    return ModelFileError(f"{name} is a LoRA for {lora_title}; the model is {model_title}.",
                          hint=f"Remove the tag or choose an {lora_title} model.")


def applied_loras(loaded: LoadedModel) -> list[AppliedLora]:
    """The LoRAs now active on `loaded`, in tag order."""
    state: _AppliedSet | None = loaded.lora_state
    return list(state.loras) if state else []


def apply_loras(loaded: LoadedModel, tags: list[LoraTag], files: list[Path]) -> list[AppliedLora]:
    """Make exactly these LoRAs (tags[i] from files[i]) active; reuses what is loaded when nothing changed.

    On any failure nothing stays applied and the base weights are as they were."""
    if len(tags) != len(files):
        raise ValueError("apply_loras needs one file per tag.")
    key = tuple((file_identity(path), tag.weight, tag.te_weight) for tag, path in zip(tags, files))
    state: _AppliedSet | None = loaded.lora_state
    if state is not None and state.key == key:
        return list(state.loras)
    remove_loras(loaded)
    if not tags:
        return []
    pipe = loaded.base
    loras = [AppliedLora(tag.name, Path(path), tag.weight, tag.te_weight, _adapter_name(index, Path(path)))
             for index, (tag, path) in enumerate(zip(tags, files))]
    try:
        for lora in loras:
            _load_adapter(pipe, lora, loaded.family.name)
        _set_weights(pipe, loras)
    except Exception:
        pipe.unload_lora_weights()
        raise
    loaded.lora_state = _AppliedSet(key, loras)
    return list(loras)


def remove_loras(loaded: LoadedModel) -> None:
    """Take every LoRA off; the UNet and text encoders are their unmodified selves again."""
    if loaded.lora_state is None:
        return
    loaded.base.unload_lora_weights()
    loaded.lora_state = None


def _adapter_name(index: int, path: Path) -> str:
    # peft keeps adapters in ModuleDicts, whose keys cannot contain dots.
    return f"lora{index}_" + re.sub(r"\W", "_", path.stem)


def _sgm_arguments(pipe: Any) -> dict[str, Any]:
    """kohya names SDXL's layers as sgm blocks (input_blocks_4_1_...); diffusers maps them with the UNet config.
    The SDXL pipelines pass it themselves and reject it given twice."""
    from diffusers.loaders import StableDiffusionXLLoraLoaderMixin

    return {} if isinstance(pipe, StableDiffusionXLLoraLoaderMixin) else {"unet_config": pipe.unet.config}


def _load_adapter(pipe: Any, lora: AppliedLora, family: str) -> None:
    # Read through safe_load: safetensors, or a pickle opened weights-only; diffusers never sees the path.
    state_dict = load_state_dict(lora.path, device=str(pipe.unet.device))
    try:
        pipe.load_lora_weights(state_dict, adapter_name=lora.adapter, **_sgm_arguments(pipe))
    except (RuntimeError, ValueError, KeyError) as error:
        raise _load_error(lora.name, family, error) from error
    if not any(lora.adapter in names for names in pipe.get_list_adapters().values()):
        raise ModelFileError(f"{lora.name} has no layers that match this {FAMILY_TITLES.get(family, family)} model.",
                             hint="Remove the tag; the file may be a LoRA type Easel cannot apply yet.",
                             details=str(lora.path))


def _load_error(name: str, family: str, error: Exception) -> ModelFileError:
    title = FAMILY_TITLES.get(family, family)
    text = str(error)
    if any(sign in text for sign in _MISFIT_SIGNS):
        return ModelFileError(
            f"{name} does not fit this {title} model: its layers have other sizes, "
            "so it was made for another Stable Diffusion version.",
            hint=f"Remove the tag or choose a LoRA made for {title}.", details=text)
    return ModelFileError(f"{name} could not be applied: {text.splitlines()[0] if text else type(error).__name__}",
                          hint="Remove the tag; the file may be damaged or a LoRA type Easel cannot apply yet.",
                          details=text)


def _set_weights(pipe: Any, loras: list[AppliedLora]) -> None:
    """Each adapter's UNet weight, and its text-encoder weight (A1111's `<lora:name:te:unet>`) where it differs."""
    components = pipe.get_list_adapters()  # {"unet": [adapters], "text_encoder": [...], ...}
    weights = [
        {component: lora.weight if component == "unet" else (lora.te_weight if lora.te_weight is not None
                                                              else lora.weight)
         for component, names in components.items() if lora.adapter in names}
        for lora in loras
    ]
    pipe.set_adapters([lora.adapter for lora in loras], adapter_weights=weights)

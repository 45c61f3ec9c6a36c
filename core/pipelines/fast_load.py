"""Build pipeline components from a checkpoint held in memory, one copy per tensor.

diffusers' `from_single_file` spends most of its time in `load_model_dict_into_meta`
(several copies and a Python round trip per tensor: 5.6 s of 7.4 s for an SD1.5 file on
this project's 2-core CPU). Easel keeps diffusers' own key conversion and config handling,
then converts each tensor once to the target dtype and device and assigns it to a model
built on the meta device. See benchmarks/bench_engine.py for the figures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import torch
from accelerate import init_empty_weights

from core.errors import ModelFileError

OPEN_CLIP_PREFIXES = {
    "text_encoder": "cond_stage_model.model.",  # SD 2.x
    "text_encoder_2": "conditioner.embedders.1.model.",  # SDXL base
}
SDXL_REFINER_OPEN_CLIP_PREFIX = "conditioner.embedders.0.model."
MAX_NAMES_IN_MESSAGE = 3


def _to_target(tensor: torch.Tensor, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    target_dtype = dtype if tensor.is_floating_point() else tensor.dtype
    # copy=True: never keep a view into the memory-mapped file the checkpoint came from.
    return tensor.to(device=device, dtype=target_dtype, copy=True).contiguous()


def assign_weights(model: torch.nn.Module, weights: Mapping[str, torch.Tensor], dtype: torch.dtype,
                   device: torch.device, component: str) -> torch.nn.Module:
    """Give a meta-device model its weights; every parameter must be in `weights`."""
    expected = model.state_dict().keys()
    missing = [name for name in expected if name not in weights]
    if missing:
        raise ModelFileError(
            f"The checkpoint has no weights for part of its {component} "
            f"({', '.join(missing[:MAX_NAMES_IN_MESSAGE])}{', ...' if len(missing) > MAX_NAMES_IN_MESSAGE else ''}).",
            hint="The file may be incomplete, or of a variant Easel does not recognise: "
            "give it a matching diffusers config folder (--model-config).",
        )
    model.load_state_dict({name: _to_target(weights[name], dtype, device) for name in expected},
                          strict=True, assign=True)
    return model.eval()


def load_diffusers_component(cls: Any, checkpoint: Mapping[str, torch.Tensor], config_dir: Path, subfolder: str,
                             dtype: torch.dtype, device: torch.device) -> Any:
    """A UNet, VAE or ControlNet from an LDM-layout checkpoint, converted by diffusers' own mapping."""
    from diffusers.loaders.single_file_model import SINGLE_FILE_LOADABLE_CLASSES

    config = cls.load_config(str(config_dir), subfolder=subfolder, local_files_only=True)
    with init_empty_weights():
        model = cls.from_config(config)
    convert = SINGLE_FILE_LOADABLE_CLASSES[cls.__name__]["checkpoint_mapping_fn"]
    return assign_weights(model, convert(config=model.config, checkpoint=checkpoint), dtype, device, subfolder)


def load_text_encoder(cls: Any, checkpoint: Mapping[str, torch.Tensor], config_dir: Path, subfolder: str,
                      dtype: torch.dtype, device: torch.device) -> Any:
    """A CLIP or OpenCLIP text encoder, converted by diffusers' own mapping."""
    from diffusers.loaders.single_file_utils import convert_ldm_clip_checkpoint, convert_open_clip_checkpoint

    config = cls.config_class.from_pretrained(str(config_dir), subfolder=subfolder, local_files_only=True)
    with init_empty_weights():
        model = cls(config)
    prefix = _open_clip_prefix(checkpoint, subfolder)
    if prefix is None:
        weights = convert_ldm_clip_checkpoint(checkpoint)
    else:
        weights = convert_open_clip_checkpoint(model, checkpoint, prefix=prefix)
    if not hasattr(model, "text_model"):  # transformers >= 5.6 flattened CLIPTextModel
        weights = {name.removeprefix("text_model."): tensor for name, tensor in weights.items()}
    return assign_weights(model, weights, dtype, device, subfolder)


def _open_clip_prefix(checkpoint: Mapping[str, torch.Tensor], subfolder: str) -> str | None:
    prefix = OPEN_CLIP_PREFIXES.get(subfolder)
    if prefix and any(name.startswith(prefix) for name in checkpoint):
        return prefix
    if subfolder == "text_encoder_2" and any(name.startswith(SDXL_REFINER_OPEN_CLIP_PREFIX) for name in checkpoint):
        return SDXL_REFINER_OPEN_CLIP_PREFIX
    return None

"""Load ControlNet models: single files as A1111 uses them (`.safetensors`, or `.pth` opened weights-only) in
the original `control_model.*` layout or diffusers' key layout, and diffusers folders; kept for the next request.

A ControlNet is a copy of its base UNet's encoder, so its architecture is the base model's: the config is
the loaded UNet's (SD1, SD2, SDXL or Easel's tiny test models alike) with what the weights show that can
differ (input and hint channels, transformer depth). `resources/configs/controlnet-sd1` and
`controlnet-sdxl` are the published configs that derivation reproduces (tested).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import torch
from accelerate import init_empty_weights

from core.device import DevicePlan
from core.errors import ModelFileError
from core.models.safe_load import load_state_dict
from core.pipelines.fast_load import assign_weights
from core.pipelines.loader import file_identity

LDM_PREFIX = "control_model."
DIFFUSERS_MARK = "controlnet_cond_embedding.conv_in.weight"
# Config entries a ControlNet shares with the UNet it was made from (diffusers' ControlNetModel.from_unet).
SHARED_WITH_UNET = (
    "encoder_hid_dim", "encoder_hid_dim_type", "addition_embed_type", "addition_time_embed_dim",
    "transformer_layers_per_block", "flip_sin_to_cos", "freq_shift", "down_block_types", "only_cross_attention",
    "block_out_channels", "layers_per_block", "downsample_padding", "mid_block_scale_factor", "act_fn",
    "norm_num_groups", "norm_eps", "cross_attention_dim", "attention_head_dim", "num_attention_heads",
    "use_linear_projection", "class_embed_type", "num_class_embeds", "upcast_attention", "resnet_time_scale_shift",
    "projection_class_embeddings_input_dim", "mid_block_type",
)
# The extension's models made for content shuffle pool their output (their .yaml says so; the name tells).
GLOBAL_POOLING_NAME = "shuffle"


@dataclass(frozen=True)
class ControlNetSource:
    path: Path  # a single file or a diffusers folder (config.json + weights)
    architecture: str | None  # sd1, sd2, sdxl; None when the file does not say
    title: str  # as the extension's infotext names it: "control_v11p_sd15_openpose [cab727d4]"

    @property
    def is_diffusers_folder(self) -> bool:
        return self.path.is_dir()


def _stripped(checkpoint: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The ControlNet's own tensors, without the `control_model.` prefix of A1111 files."""
    if any(name.startswith(LDM_PREFIX) for name in checkpoint):
        return {name[len(LDM_PREFIX):]: t for name, t in checkpoint.items() if name.startswith(LDM_PREFIX)}
    return dict(checkpoint)


def _label_embedding(ldm: Mapping[str, torch.Tensor], config: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """SDXL's `label_emb` (time and size embedding), which diffusers' converter leaves out for ControlNets."""
    target = "add_embedding" if config.get("addition_embed_type") else "class_embedding"
    layers = {"label_emb.0.0": "linear_1", "label_emb.0.2": "linear_2"}
    return {f"{target}.{layers[name.rsplit('.', 1)[0]]}.{name.rsplit('.', 1)[1]}": tensor
            for name, tensor in ldm.items() if name.rsplit(".", 1)[0] in layers}


def diffusers_weights(checkpoint: Mapping[str, torch.Tensor], config: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """The weights under diffusers' names, converted by diffusers' own mapping when they are in ldm layout."""
    if DIFFUSERS_MARK in checkpoint:
        return dict(checkpoint)
    from diffusers.loaders.single_file_utils import convert_controlnet_checkpoint

    ldm = _stripped(checkpoint)
    weights = convert_controlnet_checkpoint({LDM_PREFIX + name: t for name, t in ldm.items()}, config)
    weights.update(_label_embedding(ldm, config))
    return {name: tensor for name, tensor in weights.items() if tensor is not None}


def _embedding_channels(weights: Mapping[str, torch.Tensor]) -> tuple[int, ...]:
    """The hint encoder's widths: its first convolution's, then every second (strided) block's."""
    channels = [weights[DIFFUSERS_MARK].shape[0]]
    index = 1
    while f"controlnet_cond_embedding.blocks.{index}.weight" in weights:
        channels.append(weights[f"controlnet_cond_embedding.blocks.{index}.weight"].shape[0])
        index += 2
    return tuple(channels)


def _transformer_depths(weights: Mapping[str, torch.Tensor], config: Mapping[str, Any]) -> Any:
    """Transformer blocks per down block, counted in the weights (SDXL's mid/small ControlNets have fewer)."""
    depths = []
    for block in range(len(config["block_out_channels"])):
        pattern = re.compile(rf"^down_blocks\.{block}\.attentions\.0\.transformer_blocks\.(\d+)\.")
        found = {int(m[1]) for name in weights if (m := pattern.match(name))}
        depths.append(max(found) + 1 if found else 1)
    shared = config.get("transformer_layers_per_block", 1)
    same = all(d == (shared if isinstance(shared, int) else shared[i]) for i, d in enumerate(depths)
               if "CrossAttn" in config["down_block_types"][i])
    return shared if same else tuple(depths)


def controlnet_config(unet_config: Mapping[str, Any], weights: Mapping[str, torch.Tensor],
                      global_pooling: bool = False) -> dict[str, Any]:
    """A ControlNetModel config for `weights` (diffusers names) made for a UNet configured as `unet_config`."""
    config = {name: unet_config[name] for name in SHARED_WITH_UNET if name in unet_config}
    config["in_channels"] = weights["conv_in.weight"].shape[1]
    config["conditioning_channels"] = weights[DIFFUSERS_MARK].shape[1]
    config["conditioning_embedding_out_channels"] = _embedding_channels(weights)
    config["transformer_layers_per_block"] = _transformer_depths(weights, config)
    config["global_pool_conditions"] = global_pooling
    return config


def _build(config: dict[str, Any], weights: Mapping[str, torch.Tensor], plan: DevicePlan, name: str) -> Any:
    from diffusers import ControlNetModel

    with init_empty_weights():
        model = ControlNetModel.from_config(config)
    try:
        return assign_weights(model, weights, plan.dtype, plan.device, "ControlNet")
    except RuntimeError as error:  # size mismatches: made for another kind of model
        raise ModelFileError(f"The ControlNet {name} does not fit this model: {str(error).splitlines()[0]}",
                             hint="Choose a ControlNet made for the checkpoint's family (SD 1.x, SD 2.x or SDXL).",
                             details=str(error)) from error


def load_controlnet(source: ControlNetSource, unet_config: Mapping[str, Any], plan: DevicePlan) -> Any:
    """A ready ControlNetModel on the plan's device and dtype; no network, no code from the file."""
    if source.is_diffusers_folder:
        from diffusers import ControlNetModel

        model = ControlNetModel.from_pretrained(str(source.path), local_files_only=True, torch_dtype=plan.dtype)
        return model.to(plan.device).eval()
    checkpoint = load_state_dict(source.path)
    layout = {name: unet_config[name] for name in ("layers_per_block", "addition_embed_type") if name in unet_config}
    weights = diffusers_weights(checkpoint, layout)
    del checkpoint
    if DIFFUSERS_MARK not in weights or "conv_in.weight" not in weights:
        raise ModelFileError(f"{source.path.name} is not a ControlNet Easel can load.",
                             hint="Easel loads ControlNets in the A1111 (control_model.*) or diffusers layout.")
    config = controlnet_config(unet_config, weights, GLOBAL_POOLING_NAME in source.path.stem.lower())
    return _build(config, weights, plan, source.path.name)


class ControlNetCache:
    """The ControlNets of the last request, kept so the next one that uses them does not load them again."""

    def __init__(self, load: Any = load_controlnet) -> None:
        self._load = load
        self._models: dict[tuple[Any, ...], Any] = {}
        self.load_count = 0

    @staticmethod
    def key(source: ControlNetSource, unet_config: Mapping[str, Any], plan: DevicePlan) -> tuple[Any, ...]:
        shape = (tuple(unet_config.get("block_out_channels", ())), unet_config.get("cross_attention_dim"))
        return (*file_identity(source.path), shape, str(plan.device), str(plan.dtype))

    def has(self, source: ControlNetSource, unet_config: Mapping[str, Any], plan: DevicePlan) -> bool:
        return self.key(source, unet_config, plan) in self._models

    def get(self, source: ControlNetSource, unet_config: Mapping[str, Any], plan: DevicePlan) -> Any:
        key = self.key(source, unet_config, plan)
        if key not in self._models:
            self._models[key] = self._load(source, unet_config, plan)
            self.load_count += 1
        return self._models[key]

    def keep_only(self, keys: set[tuple[Any, ...]]) -> None:
        """Drop the ControlNets a request no longer uses (one model's worth of memory each)."""
        for key in [k for k in self._models if k not in keys]:
            del self._models[key]

    def clear(self) -> None:
        self._models.clear()

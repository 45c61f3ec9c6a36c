"""Diffusers state dicts -> the CompVis/ldm key layout of single-file checkpoints (as civitai ships them).

Each function is the inverse of one converter in `diffusers/loaders/single_file_utils.py`:
`unet_to_ldm` of `convert_ldm_unet_checkpoint`, `vae_to_ldm` of `convert_ldm_vae_checkpoint`,
`clip_to_ldm` of `convert_ldm_clip_checkpoint` and `open_clip_to_ldm` of `convert_open_clip_checkpoint`.
Families: sd1, sd2, sdxl and sdxl-refiner (SDXL's img2img-only second stage, with one OpenCLIP encoder).
"""

from __future__ import annotations

import math
import re
from typing import Mapping

import torch

UNET_PREFIX = "model.diffusion_model."
VAE_PREFIX = "first_stage_model."
SD1_CLIP_PREFIX = "cond_stage_model.transformer."
SD2_OPEN_CLIP_PREFIX = "cond_stage_model.model."
SDXL_CLIP_PREFIX = "conditioner.embedders.0.transformer."
SDXL_OPEN_CLIP_PREFIX = "conditioner.embedders.1.model."
# The refiner has only the OpenCLIP encoder, so it sits at embedders.0; diffusers and Easel's detector key on that.
SDXL_REFINER_OPEN_CLIP_PREFIX = "conditioner.embedders.0.model."
FAMILIES = ("sd1", "sd2", "sdxl", "sdxl-refiner")
# Which of (text_encoder, text_encoder_2) each family has, as the diffusers pipelines name them.
_TEXT_ENCODERS = {
    "sd1": (True, False),
    "sd2": (True, False),
    "sdxl": (True, True),
    "sdxl-refiner": (False, True),
}

# open_clip's initial temperature, ln(1 / 0.07); real SD2/SDXL files carry the trained value.
_OPEN_CLIP_LOGIT_SCALE = math.log(1 / 0.07)
_CLIP_MAX_POSITIONS = 77

_UNET_TOP_LEVEL = {
    "time_embedding.linear_1": "time_embed.0",
    "time_embedding.linear_2": "time_embed.2",
    "conv_in": "input_blocks.0.0",
    "conv_norm_out": "out.0",
    "conv_out": "out.2",
    # SDXL's text_time add-embedding and a "projection" class embedding share LDM's label_emb.
    "add_embedding.linear_1": "label_emb.0.0",
    "add_embedding.linear_2": "label_emb.0.2",
    "class_embedding.linear_1": "label_emb.0.0",
    "class_embedding.linear_2": "label_emb.0.2",
}
_UNET_RESNET_PARTS = {
    "norm1": "in_layers.0",
    "conv1": "in_layers.2",
    "norm2": "out_layers.0",
    "conv2": "out_layers.3",
    "time_emb_proj": "emb_layers.1",
    "conv_shortcut": "skip_connection",
}
_VAE_TOP_LEVEL = {
    "encoder.conv_norm_out": "encoder.norm_out",
    "decoder.conv_norm_out": "decoder.norm_out",
}
_VAE_ATTENTION_PARTS = {
    "group_norm": "norm",
    "to_q": "q",
    "to_k": "k",
    "to_v": "v",
    "to_out.0": "proj_out",
}
_OPEN_CLIP_LAYER_PARTS = {
    "self_attn.out_proj": "attn.out_proj",
    "layer_norm1": "ln_1",
    "layer_norm2": "ln_2",
    "mlp.fc1": "mlp.c_fc",
    "mlp.fc2": "mlp.c_proj",
}
_OPEN_CLIP_TOP_LEVEL = {
    "text_model.embeddings.token_embedding.weight": "token_embedding.weight",
    "text_model.embeddings.position_embedding.weight": "positional_embedding",
    "text_model.final_layer_norm.weight": "ln_final.weight",
    "text_model.final_layer_norm.bias": "ln_final.bias",
}


def _split_param(key: str) -> tuple[str, str]:
    """'a.b.weight' -> ('a.b', 'weight')."""
    module, _, param = key.rpartition(".")
    return module, param


def _unet_resnet_key(rest: str) -> str:
    part, _, param = rest.partition(".")
    return f"{_UNET_RESNET_PARTS[part]}.{param}"


def _block_layer_key(blocks: str, index: int, kind: str, rest: str) -> str:
    """LDM keeps a block's resnet at `.0` and its attention at `.1` of one numbered entry."""
    if kind == "resnets":
        return f"{blocks}.{index}.0.{_unet_resnet_key(rest)}"
    return f"{blocks}.{index}.1.{rest}"


def _blocks_with_attentions(state_dict: Mapping[str, torch.Tensor], side: str) -> set[int]:
    pattern = re.compile(rf"^{side}\.(\d+)\.attentions\.")
    return {int(m.group(1)) for key in state_dict if (m := pattern.match(key))}


def _unet_key(key: str, layers_per_block: int, up_blocks_with_attention: set[int]) -> str:
    module, param = _split_param(key)
    if module in _UNET_TOP_LEVEL:
        return f"{_UNET_TOP_LEVEL[module]}.{param}"
    per_block = layers_per_block + 1
    if m := re.match(r"^down_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.+)$", key):
        block, kind, layer, rest = int(m[1]), m[2], int(m[3]), m[4]
        index = 1 + block * per_block + layer
        return _block_layer_key("input_blocks", index, kind, rest)
    if m := re.match(r"^down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.+)$", key):
        return f"input_blocks.{(int(m[1]) + 1) * per_block}.0.op.{m[2]}"
    if m := re.match(r"^mid_block\.resnets\.(\d+)\.(.+)$", key):
        return f"middle_block.{2 * int(m[1])}.{_unet_resnet_key(m[2])}"
    if m := re.match(r"^mid_block\.attentions\.0\.(.+)$", key):
        return f"middle_block.1.{m[1]}"
    if m := re.match(r"^up_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.+)$", key):
        block, kind, layer, rest = int(m[1]), m[2], int(m[3]), m[4]
        index = block * per_block + layer
        return _block_layer_key("output_blocks", index, kind, rest)
    if m := re.match(r"^up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.+)$", key):
        block = int(m[1])
        # LDM puts the upsampler after the attention when the block has one.
        slot = 2 if block in up_blocks_with_attention else 1
        return f"output_blocks.{block * per_block + layers_per_block}.{slot}.conv.{m[2]}"
    raise KeyError(f"No LDM name for the UNet tensor {key!r}.")


def unet_to_ldm(state_dict: Mapping[str, torch.Tensor], layers_per_block: int) -> dict[str, torch.Tensor]:
    """A UNet2DConditionModel state dict under `model.diffusion_model.*` (SD1/SD2/SDXL, inpaint too)."""
    if not isinstance(layers_per_block, int):
        raise ValueError("LDM checkpoints need the same layers_per_block in every UNet block.")
    with_attention = _blocks_with_attentions(state_dict, "up_blocks")
    return {
        UNET_PREFIX + _unet_key(key, layers_per_block, with_attention): tensor for key, tensor in state_dict.items()
    }


def _vae_resnet_key(rest: str) -> str:
    return rest.replace("conv_shortcut", "nin_shortcut")


def _vae_key(key: str, num_blocks: int) -> str:
    module, param = _split_param(key)
    if module in _VAE_TOP_LEVEL:
        return f"{_VAE_TOP_LEVEL[module]}.{param}"
    if m := re.match(r"^encoder\.down_blocks\.(\d+)\.resnets\.(.+)$", key):
        return f"encoder.down.{m[1]}.block.{_vae_resnet_key(m[2])}"
    if m := re.match(r"^encoder\.down_blocks\.(\d+)\.downsamplers\.0\.(.+)$", key):
        return f"encoder.down.{m[1]}.downsample.{m[2]}"
    # The decoder's up blocks are numbered from the bottom in LDM, from the top in diffusers.
    if m := re.match(r"^decoder\.up_blocks\.(\d+)\.resnets\.(.+)$", key):
        return f"decoder.up.{num_blocks - 1 - int(m[1])}.block.{_vae_resnet_key(m[2])}"
    if m := re.match(r"^decoder\.up_blocks\.(\d+)\.upsamplers\.0\.(.+)$", key):
        return f"decoder.up.{num_blocks - 1 - int(m[1])}.upsample.{m[2]}"
    if m := re.match(r"^(encoder|decoder)\.mid_block\.resnets\.(\d+)\.(.+)$", key):
        return f"{m[1]}.mid.block_{int(m[2]) + 1}.{_vae_resnet_key(m[3])}"
    if m := re.match(r"^(encoder|decoder)\.mid_block\.attentions\.0\.(.+)\.(weight|bias)$", key):
        return f"{m[1]}.mid.attn_1.{_VAE_ATTENTION_PARTS[m[2]]}.{m[3]}"
    if key.startswith(("encoder.conv_", "decoder.conv_", "quant_conv.", "post_quant_conv.")):
        return key
    raise KeyError(f"No LDM name for the VAE tensor {key!r}.")


def _as_conv1x1(key: str, tensor: torch.Tensor) -> torch.Tensor:
    # LDM's VAE attention projections are 1x1 convolutions; diffusers stores them as linear layers.
    if ".mid.attn_1." in key and key.endswith(".weight") and tensor.ndim == 2:
        return tensor[:, :, None, None]
    return tensor


def vae_to_ldm(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """An AutoencoderKL state dict under `first_stage_model.*`."""
    block_ids = {int(m[1]) for key in state_dict if (m := re.match(r"^decoder\.up_blocks\.(\d+)\.", key))}
    num_blocks = max(block_ids) + 1
    converted = {}
    for key, tensor in state_dict.items():
        ldm_key = _vae_key(key, num_blocks)
        converted[VAE_PREFIX + ldm_key] = _as_conv1x1(ldm_key, tensor)
    return converted


def _with_text_model_prefix(key: str) -> str:
    # transformers 5 dropped `text_model.` from CLIPTextModel keys; CLIPTextModelWithProjection keeps it.
    if key.startswith("text_model.") or key.startswith("text_projection."):
        return key
    return "text_model." + key


def _position_ids(dtype: torch.dtype = torch.int64) -> torch.Tensor:
    return torch.arange(_CLIP_MAX_POSITIONS, dtype=dtype)[None, :]


def clip_to_ldm(state_dict: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """A CLIPTextModel (ViT-L style) under `prefix + "text_model.*"`, plus position_ids as real files have."""
    converted = {prefix + _with_text_model_prefix(key): tensor for key, tensor in state_dict.items()}
    converted[prefix + "text_model.embeddings.position_ids"] = _position_ids()
    return converted


def _open_clip_layer_key(key: str) -> str | None:
    m = re.match(r"^text_model\.encoder\.layers\.(\d+)\.(.+)\.(weight|bias)$", key)
    if not m or m[2] not in _OPEN_CLIP_LAYER_PARTS:
        return None
    return f"transformer.resblocks.{m[1]}.{_OPEN_CLIP_LAYER_PARTS[m[2]]}.{m[3]}"


def _fused_in_proj(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """open_clip keeps q, k and v as one `in_proj_weight` / `in_proj_bias` per layer."""
    fused = {}
    layers = {int(m[1]) for key in state_dict if (m := re.match(r"^text_model\.encoder\.layers\.(\d+)\.", key))}
    for layer in sorted(layers):
        source = f"text_model.encoder.layers.{layer}.self_attn"
        for param in ("weight", "bias"):
            parts = [state_dict[f"{source}.{name}_proj.{param}"] for name in ("q", "k", "v")]
            fused[f"transformer.resblocks.{layer}.attn.in_proj_{param}"] = torch.cat(parts, dim=0)
    return fused


def open_clip_to_ldm(state_dict: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """A CLIPTextModel[WithProjection] state dict in open_clip's layout under `prefix` (SD2, SDXL and its refiner).

    Without a `text_projection.weight` (SD2's CLIPTextModel has none) an identity projection of
    the hidden size is written: real SD2 files carry one, diffusers ignores it, and its first dimension
    is what diffusers uses to split the fused q/k/v weights.
    """
    named = {_with_text_model_prefix(key): tensor for key, tensor in state_dict.items()}
    converted: dict[str, torch.Tensor] = {}
    for key, tensor in named.items():
        if key in _OPEN_CLIP_TOP_LEVEL:
            converted[_OPEN_CLIP_TOP_LEVEL[key]] = tensor
        elif key == "text_projection.weight":
            converted["text_projection"] = tensor.T.contiguous()
        elif (layer_key := _open_clip_layer_key(key)) is not None:
            converted[layer_key] = tensor
        elif not re.search(r"\.self_attn\.[qkv]_proj\.", key):
            raise KeyError(f"No open_clip name for the text encoder tensor {key!r}.")
    converted.update(_fused_in_proj(named))
    reference = converted["token_embedding.weight"]
    if "text_projection" not in converted:
        converted["text_projection"] = torch.eye(reference.shape[1], dtype=reference.dtype)
    converted["logit_scale"] = torch.tensor(_OPEN_CLIP_LOGIT_SCALE, dtype=reference.dtype)
    return {prefix + key: tensor for key, tensor in converted.items()}


def _check_text_encoders(family: str, text_encoder: object, text_encoder_2: object) -> None:
    if family not in FAMILIES:
        raise ValueError(f"Unknown family {family!r}; expected one of {', '.join(FAMILIES)}.")
    if (text_encoder is not None, text_encoder_2 is not None) != _TEXT_ENCODERS[family]:
        raise ValueError(
            "SD1/SD2 have only text_encoder, SDXL has text_encoder and text_encoder_2, "
            f"the SDXL refiner has only text_encoder_2; got the wrong set for {family!r}."
        )


def _text_encoders_to_ldm(
    family: str, text_encoder: torch.nn.Module | None, text_encoder_2: torch.nn.Module | None
) -> dict[str, torch.Tensor]:
    if family == "sd1":
        return clip_to_ldm(text_encoder.state_dict(), SD1_CLIP_PREFIX)
    if family == "sd2":
        return open_clip_to_ldm(text_encoder.state_dict(), SD2_OPEN_CLIP_PREFIX)
    if family == "sdxl-refiner":
        return open_clip_to_ldm(text_encoder_2.state_dict(), SDXL_REFINER_OPEN_CLIP_PREFIX)
    converted = clip_to_ldm(text_encoder.state_dict(), SDXL_CLIP_PREFIX)
    converted.update(open_clip_to_ldm(text_encoder_2.state_dict(), SDXL_OPEN_CLIP_PREFIX))
    return converted


def ldm_state_dict(
    family: str,
    unet: torch.nn.Module,
    vae: torch.nn.Module,
    text_encoder: torch.nn.Module | None,
    text_encoder_2: torch.nn.Module | None = None,
) -> dict[str, torch.Tensor]:
    """The whole single-file checkpoint of a diffusers pipeline's modules, keyed as real `family` files are.

    The SDXL refiner has no `text_encoder`: pass None and its OpenCLIP encoder as `text_encoder_2`.
    """
    _check_text_encoders(family, text_encoder, text_encoder_2)
    checkpoint = unet_to_ldm(unet.state_dict(), unet.config.layers_per_block)
    checkpoint.update(vae_to_ldm(vae.state_dict()))
    checkpoint.update(_text_encoders_to_ldm(family, text_encoder, text_encoder_2))
    return checkpoint

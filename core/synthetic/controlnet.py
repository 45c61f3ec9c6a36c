"""Random-weight ControlNets for the tiny models, in the files A1111 users have.

"ldm" is the original ControlNet layout (`control_model.input_blocks...`, `zero_convs`, `input_hint_block`,
`middle_block_out`), the inverse of diffusers' `convert_controlnet_checkpoint` (plus SDXL's `label_emb`);
"diffusers" is ControlNetModel's own key layout, as most SDXL ControlNets are shared as single files.
The ControlNet is made from the tiny UNet of the same family and seed layout, so its residuals fit it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

import torch
from diffusers import ControlNetModel, UNet2DConditionModel

from core.synthetic.builders import _random_module, tiny_spec, write_safetensors
from core.synthetic.ldm_keys import _unet_key

CONTROLNET_LAYOUTS = ("ldm", "diffusers")
FILE_FORMATS = ("safetensors", "pth")
LDM_PREFIX = "control_model."


def tiny_controlnet(family: str = "sd1", *, seed: int = 0, dtype: torch.dtype = torch.float32) -> ControlNetModel:
    """A ControlNetModel shaped after the tiny `family` UNet, every weight random (none zero), so that both
    the latents and the control image change its output."""
    unet_config = tiny_spec(family).unet

    def factory() -> ControlNetModel:
        return ControlNetModel.from_unet(UNet2DConditionModel(**unet_config), load_weights_from_unet=False)

    model = _random_module(factory, seed * 8 + 5, dtype)
    _amplify_hint_encoder(model, seed)
    return model


def _amplify_hint_encoder(model: ControlNetModel, seed: int) -> None:
    """Kaiming-scaled weights for the control image's encoder: with PyTorch's default scale its seven
    convolutions would shrink the control image to nothing, and the control image would hardly matter."""
    generator = torch.Generator().manual_seed(seed * 8 + 6)
    for name, tensor in model.controlnet_cond_embedding.state_dict(keep_vars=True).items():
        if name.endswith(".weight"):
            bound = (6.0 / tensor.shape[1:].numel()) ** 0.5
            with torch.no_grad():
                tensor.copy_(torch.empty(tensor.shape).uniform_(-bound, bound, generator=generator).to(tensor.dtype))


def _controlnet_key(key: str, layers_per_block: int, hint_blocks: int) -> str:
    module, _, param = key.rpartition(".")
    if module == "controlnet_cond_embedding.conv_in":
        return f"input_hint_block.0.{param}"
    if module == "controlnet_cond_embedding.conv_out":
        return f"input_hint_block.{2 * (hint_blocks + 1)}.{param}"
    if m := re.match(r"^controlnet_cond_embedding\.blocks\.(\d+)$", module):
        return f"input_hint_block.{2 * (int(m[1]) + 1)}.{param}"
    if m := re.match(r"^controlnet_down_blocks\.(\d+)$", module):
        return f"zero_convs.{m[1]}.0.{param}"
    if module == "controlnet_mid_block":
        return f"middle_block_out.0.{param}"
    return _unet_key(key, layers_per_block, set())


def controlnet_to_ldm(state_dict: Mapping[str, torch.Tensor], layers_per_block: int) -> dict[str, torch.Tensor]:
    """A ControlNetModel state dict under `control_model.*`, as the original ControlNet files keep it."""
    hint_blocks = len({k for k in state_dict if k.startswith("controlnet_cond_embedding.blocks.")}) // 2
    return {LDM_PREFIX + _controlnet_key(key, layers_per_block, hint_blocks): tensor
            for key, tensor in state_dict.items()}


def write_tiny_controlnet(folder: Path, family: str = "sd1", seed: int = 0, *, layout: str = "ldm",
                          file_format: str = "safetensors", dtype: torch.dtype = torch.float32,
                          name: str | None = None) -> Path:
    """`folder/<name or tiny-controlnet-<family>>.<safetensors|pth>`: a tiny random ControlNet for `family`."""
    if layout not in CONTROLNET_LAYOUTS or file_format not in FILE_FORMATS:
        raise ValueError(f"layout must be one of {CONTROLNET_LAYOUTS}, file_format one of {FILE_FORMATS}")
    model = tiny_controlnet(family, seed=seed, dtype=dtype)
    tensors = model.state_dict()
    if layout == "ldm":
        tensors = controlnet_to_ldm(tensors, model.config.layers_per_block)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name or f'tiny-controlnet-{family}'}.{file_format}"
    if file_format == "pth":
        torch.save({key: tensor.contiguous() for key, tensor in tensors.items()}, path)
    else:
        write_safetensors(path, tensors)
    return path

"""Random-weight LoRAs for the tiny models, in the file layouts civitai LoRAs come in.

Styles:
- "kohya": `lora_unet_<module path with _>.lora_down.weight` / `.lora_up.weight` / `.alpha`, and
  `lora_te_...` for the text encoder (`lora_te1_` / `lora_te2_` for SDXL's two), with the
  `ss_base_model_version` metadata kohya's sd-scripts write.
- "kohya-sgm": kohya names over the original LDM UNet layout (`lora_unet_input_blocks_4_1_...`,
  `middle_block_1_`, `output_blocks_2_1_`), as most real SDXL LoRAs have them.
- "peft": `unet.<module path>.lora_A.weight` / `.lora_B.weight` (what diffusers saves today).
- "diffusers": the older diffusers layout, `unet.<module path>.lora.down.weight` / `.lora.up.weight`
  and `text_encoder.<module path>.lora_linear_layer.down.weight` / `.up.weight`.

They target every attention projection of the UNet (to_q, to_k, to_v, to_out.0) and the first
layer's attention of each text encoder. Up weights are nonzero, so a LoRA changes the image.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
from accelerate import init_empty_weights
from diffusers import UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel

from core.synthetic.builders import ModelSpec, tiny_spec, write_safetensors

LORA_STYLES = ("kohya", "kohya-sgm", "peft", "diffusers")
_UNET_TARGET = re.compile(r"attn[12]\.(to_q|to_k|to_v|to_out\.0)$")
_DIFFUSERS_ATTENTION = re.compile(r"^(down_blocks|mid_block|up_blocks)\.(?:(\d+)\.)?attentions\.(\d+)\.(.+)$")
# transformers 5 dropped the `text_model.` level from CLIP's module names; LoRA files keep it.
_TEXT_TARGET = re.compile(r"^(text_model\.)?encoder\.layers\.0\.self_attn\.(q_proj|k_proj|v_proj|out_proj)$")
ALL_COMPONENTS = ("unet", "text_encoder", "text_encoder_2")
_KOHYA_BASE_VERSIONS = {"sd1": "sd_v1", "sd2": "sd_v2", "sdxl": "sdxl_base_v1-0"}

Targets = dict[str, dict[str, tuple[int, int]]]  # component -> module path -> (out features, in features)


def _linear_shapes(module: torch.nn.Module, pattern: re.Pattern[str]) -> dict[str, tuple[int, int]]:
    return {name: (layer.out_features, layer.in_features) for name, layer in module.named_modules()
            if isinstance(layer, torch.nn.Linear) and pattern.search(name)}


def lora_targets(spec: ModelSpec) -> Targets:
    """The layers a tiny LoRA for `spec` adapts, with their shapes (built on the meta device: no memory)."""
    with init_empty_weights():
        targets: Targets = {"unet": _linear_shapes(UNet2DConditionModel(**spec.unet), _UNET_TARGET)}
        for component, config in (("text_encoder", spec.text_encoder), ("text_encoder_2", spec.text_encoder_2)):
            if config is not None:
                shapes = _linear_shapes(CLIPTextModel(CLIPTextConfig(**config)), _TEXT_TARGET)
                targets[component] = {"text_model." + name.removeprefix("text_model."): shape
                                      for name, shape in shapes.items()}
    return targets


def _kohya_prefix(component: str, family: str) -> str:
    if component == "unet":
        return "lora_unet_"
    if component == "text_encoder_2":
        return "lora_te2_"
    return "lora_te1_" if family == "sdxl" else "lora_te_"


def sgm_module(module: str, layers_per_block: int) -> str:
    """The LDM (sgm) path of a diffusers UNet attention module: `down_blocks.1.attentions.0.x` -> `input_blocks.4.1.x`.

    LDM numbers layers across the whole UNet, levels with and without attention alike: each down level takes
    `layers_per_block` entries plus one for its downsampler, each up level `layers_per_block + 1` (its upsampler
    rides in the last). Inside an entry the resnet is item 0 and the attention item 1.
    """
    match = _DIFFUSERS_ATTENTION.match(module)
    if match is None:
        raise ValueError(f"{module} is not a UNet attention module.")
    kind, level, layer, rest = match.groups()
    if kind == "mid_block":
        return f"middle_block.1.{rest}"  # resnet, attention, resnet
    if kind == "down_blocks":  # input_blocks.0 is conv_in
        return f"input_blocks.{1 + int(level) * (layers_per_block + 1) + int(layer)}.1.{rest}"
    return f"output_blocks.{int(level) * (layers_per_block + 1) + int(layer)}.1.{rest}"


def _pair_names(style: str, component: str, module: str, family: str) -> tuple[str, str, str | None]:
    """Names of the down weight, up weight and alpha of one adapted layer."""
    if style.startswith("kohya"):
        if style == "kohya-sgm" and component == "unet":
            module = sgm_module(module, tiny_spec(family).unet["layers_per_block"])
        base = _kohya_prefix(component, family) + module.replace(".", "_")
        return f"{base}.lora_down.weight", f"{base}.lora_up.weight", f"{base}.alpha"
    if style == "peft":
        return f"{component}.{module}.lora_A.weight", f"{component}.{module}.lora_B.weight", None
    inner = "lora" if component == "unet" else "lora_linear_layer"
    return f"{component}.{module}.{inner}.down.weight", f"{component}.{module}.{inner}.up.weight", None


def tiny_lora_tensors(family: str = "sd1", *, style: str = "kohya", seed: int = 0, rank: int = 4,
                      components: tuple[str, ...] = ALL_COMPONENTS) -> dict[str, torch.Tensor]:
    """The tensors of a random LoRA for the tiny `family` model (alpha = rank, so the scale is 1)."""
    if style not in LORA_STYLES:
        raise ValueError(f"Unknown LoRA style {style!r}; expected one of {', '.join(LORA_STYLES)}.")
    generator = torch.Generator().manual_seed(seed)
    tensors: dict[str, torch.Tensor] = {}
    for component, modules in lora_targets(tiny_spec(family)).items():
        if component not in components:
            continue
        for module, (out_features, in_features) in sorted(modules.items()):
            down, up, alpha = _pair_names(style, component, module, family)
            # Each factor at PyTorch's default init bound: the change is as large as the layer's own weights.
            tensors[down] = torch.empty(rank, in_features).uniform_(-1, 1, generator=generator) * in_features**-0.5
            tensors[up] = torch.empty(out_features, rank).uniform_(-1, 1, generator=generator) * rank**-0.5
            if alpha is not None:
                tensors[alpha] = torch.tensor(float(rank))
    return tensors


def write_tiny_lora(path: Path, family: str = "sd1", *, style: str = "kohya", seed: int = 0, rank: int = 4,
                    components: tuple[str, ...] = ALL_COMPONENTS) -> Path:
    """Write a random LoRA for the tiny `family` model to `path` (.safetensors) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = tiny_lora_tensors(family, style=style, seed=seed, rank=rank, components=components)
    metadata = {"format": "pt"}
    if style.startswith("kohya"):
        metadata["ss_base_model_version"] = _KOHYA_BASE_VERSIONS.get(family, family)
    write_safetensors(path, tensors, metadata)
    return path

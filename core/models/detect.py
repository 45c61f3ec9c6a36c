"""What a model file is — kind and architecture — from tensor names and shapes, never tensor data.

Key structure decides first and widths second: Easel's tests use tiny random models
whose layout is real but whose widths are small.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

from core.models.filetype import FileFormat, not_a_model_error, sniff
from core.models.safetensors_header import read_header

Shapes = Mapping[str, tuple[int, ...]]

KINDS = ("checkpoint", "lora", "vae", "controlnet", "embedding", "upscaler", "unknown")
SUPPORTED_ARCHITECTURES = ("sd1", "sd2", "sd2-v", "sdxl", "sdxl-refiner")

_ARCH_TITLES = {
    "sd1": "SD 1.x", "sd2": "SD 2.x", "sd2-v": "SD 2.x (768, v-prediction)", "sdxl": "SDXL",
    "sdxl-refiner": "SDXL refiner", "sd3": "SD3", "flux": "Flux", "sd-cascade": "Stable Cascade",
    "pixart": "PixArt", "hunyuan-dit": "Hunyuan-DiT", "auraflow": "AuraFlow", "svd": "Stable Video Diffusion",
    "instruct-pix2pix": "InstructPix2Pix", "sd3-flux-vae": "SD3/Flux",
}
_CROSS_ATTENTION_WIDTHS = {768: "sd1", 1024: "sd2", 2048: "sdxl", 1280: "sdxl-refiner"}
_UNET = "model.diffusion_model."


@dataclass(frozen=True)
class ModelInfo:
    kind: str
    architecture: str | None = None
    inpaint: bool = False
    prediction: str | None = None  # "epsilon", "v_prediction" or None when it does not apply
    supported: bool = True
    reason: str = ""
    # For checkpoints: which parts the file holds ("unet", "text_encoder", "vae"), so a loader can fill gaps.
    components: frozenset[str] = frozenset()


def unknown(reason: str) -> ModelInfo:
    return ModelInfo("unknown", supported=False, reason=reason)


def unsupported(kind: str, architecture: str) -> ModelInfo:
    title = _ARCH_TITLES.get(architecture, architecture)
    noun = {"checkpoint": "models", "lora": "LoRAs", "vae": "VAEs", "controlnet": "ControlNets"}.get(kind, "models")
    return ModelInfo(kind, architecture, supported=False, reason=f"Easel does not support {title} {noun} yet.")


# ---------------------------------------------------------------- entry points

def detect_model(path: Path, kind_hint: str | None = None) -> ModelInfo:
    """Detect the model at `path`. Raises ModelFileError (or UnsafeFileError) for files that cannot be opened."""
    path = Path(path)
    file_format = sniff(path)
    if file_format is FileFormat.SAFETENSORS:
        header = read_header(path)
        return detect_from_shapes(header.shapes, header.metadata, v_prediction_yaml=yaml_says_v_prediction(path),
                                  kind_hint=kind_hint)
    if not file_format.is_model:
        raise not_a_model_error(path, file_format)
    from core.models.safe_load import load_state_dict  # torch is heavy; only pickles need it here

    state_dict = load_state_dict(path, mmap=True)
    shapes = {name: tuple(tensor.shape) for name, tensor in state_dict.items()}
    return detect_from_shapes(shapes, {}, v_prediction_yaml=yaml_says_v_prediction(path), kind_hint=kind_hint)


def detect_from_shapes(shapes: Shapes, metadata: Mapping[str, str] | None = None, *,
                       v_prediction_yaml: bool = False, kind_hint: str | None = None) -> ModelInfo:
    """Detect from tensor names and shapes (and safetensors metadata)."""
    metadata = metadata or {}
    if not shapes:
        return unknown("The file holds no tensors.")
    for detector in _DETECTORS:
        info = detector(shapes, metadata, v_prediction_yaml)
        if info is not None:
            return info
    upscaler = detect_upscaler(shapes)
    if upscaler is not None:
        return upscaler
    hint = f" It is in the {kind_hint} folder, but does not look like one." if kind_hint else ""
    return unknown(f"Easel could not tell what kind of model this is.{hint}")


def yaml_says_v_prediction(path: Path) -> bool:
    """A1111 convention: `name.yaml` beside the checkpoint with `parameterization: "v"`."""
    config = Path(path).with_suffix(".yaml")
    try:
        text = config.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return re.search(r"""^\s*parameterization:\s*["']?v["']?\s*(#.*)?$""", text, re.MULTILINE) is not None


# ---------------------------------------------------------------- helpers

def _has_prefix(shapes: Shapes, *prefixes: str) -> bool:
    return any(name.startswith(prefixes) for name in shapes)


def _contains(shapes: Shapes, pattern: str) -> bool:
    regex = re.compile(pattern)
    return any(regex.search(name) for name in shapes)


def _first_shape(shapes: Shapes, pattern: str) -> tuple[int, ...] | None:
    regex = re.compile(pattern)
    return next((shape for name, shape in shapes.items() if regex.search(name)), None)


def _width_architecture(width: int | None) -> str | None:
    return _CROSS_ATTENTION_WIDTHS.get(width) if width is not None else None


# ---------------------------------------------------------------- unsupported families

_FOREIGN_FAMILIES: tuple[tuple[str, str], ...] = (
    (r"(^|\.)joint_blocks\.", "sd3"),
    (r"(^|\.)(double_blocks|single_blocks)\.", "flux"),
    (r"(^|\.)(single_transformer_blocks)\.", "flux"),
    (r"(^|\.)(clip_txt_mapper|clip_txt_pooled_mapper|effnet_mapper)\.", "sd-cascade"),
    (r"(^|\.)(t_block\.1|y_embedder\.y_proj)\.", "pixart"),
    (r"(^|\.)(text_embedding_padding|extra_embedder)", "hunyuan-dit"),
    (r"(^|\.)(double_layers|cond_seq_linear)\.", "auraflow"),
    (r"(^|\.)input_blocks\.\d+\.\d+\.time_stack\.", "svd"),
)


def _foreign_family(shapes: Shapes) -> str | None:
    for pattern, family in _FOREIGN_FAMILIES:
        if _contains(shapes, pattern):
            return family
    return None


# ---------------------------------------------------------------- detectors, in order

def detect_lora(shapes: Shapes, metadata: Mapping[str, str], _v: bool) -> ModelInfo | None:
    kohya = _has_prefix(shapes, "lora_unet_", "lora_te_", "lora_te1_", "lora_te2_")
    peft = _contains(shapes, r"(lora_[AB]|lora\.(down|up)|lora_(down|up)|_lora\.(down|up))\.weight$") and \
        _has_prefix(shapes, "unet.", "text_encoder.", "text_encoder_2.", "transformer.", "down_blocks.",
                    "up_blocks.", "mid_block.", "lora_unet", "base_model.")
    if not (kohya or peft):
        return None
    foreign = _foreign_family(shapes) or _lora_foreign_from_names(shapes)
    if foreign:
        return unsupported("lora", foreign)
    return ModelInfo("lora", _lora_architecture(shapes, metadata))


def _lora_foreign_from_names(shapes: Shapes) -> str | None:
    if _contains(shapes, r"^lora_unet_joint_blocks_"):
        return "sd3"
    if _contains(shapes, r"^lora_unet_(double|single)_blocks_") or _has_prefix(shapes, "transformer."):
        return "flux" if _contains(shapes, r"(double|single)") else "sd3"
    return None


def _lora_architecture(shapes: Shapes, metadata: Mapping[str, str]) -> str | None:
    if _has_prefix(shapes, "lora_te2_", "lora_te1_", "text_encoder_2."):
        return "sdxl"
    # SDXL's UNet has up to ten transformer blocks per attention; SD1/SD2 have one.
    if _contains(shapes, r"transformer_blocks[._][1-9]"):
        return "sdxl"
    down = _first_shape(shapes, r"attn2[._](processor[._])?to_k.*(lora_down|lora\.down|lora_A|hada_w1_b|_lora\.down)\.weight$") \
        or _first_shape(shapes, r"attn2[._](processor[._])?to_k(_lora)?[._](down|hada_w1_b)")
    architecture = _width_architecture(down[-1]) if down else None
    if architecture == "sdxl-refiner":
        architecture = None
    if architecture is None:
        text = _first_shape(shapes, r"^lora_te_.*k_proj\.lora_down\.weight$") \
            or _first_shape(shapes, r"^text_encoder\..*k_proj\.(lora_A|lora\.down|lora_linear_layer\.down)\.weight$")
        architecture = {768: "sd1", 1024: "sd2"}.get(text[-1]) if text else None
    if architecture is None:
        architecture = _architecture_from_metadata(metadata)
    return architecture


def _architecture_from_metadata(metadata: Mapping[str, str]) -> str | None:
    base = (metadata.get("ss_base_model_version") or metadata.get("modelspec.architecture") or "").lower()
    if "xl" in base:
        return "sdxl"
    if "v2" in base or "sd2" in base or "2.1" in base or "2.0" in base:
        return "sd2"
    if "v1" in base or "sd1" in base or "1.5" in base:
        return "sd1"
    return None


def detect_foreign_checkpoint(shapes: Shapes, _metadata: Mapping[str, str], _v: bool) -> ModelInfo | None:
    family = _foreign_family(shapes)
    return unsupported("checkpoint", family) if family else None


def detect_controlnet(shapes: Shapes, _metadata: Mapping[str, str], _v: bool) -> ModelInfo | None:
    if _contains(shapes, r"(^|\.)lllite") or _has_prefix(shapes, "lora_controlnet"):
        return ModelInfo("controlnet", supported=False,
                         reason="Easel does not support ControlNet-LLLite or Control-LoRA models yet.")
    if _has_prefix(shapes, "control_model.input_hint_block.", "input_hint_block."):
        prefix = "control_model." if _has_prefix(shapes, "control_model.") else ""
        return ModelInfo("controlnet", _ldm_unet_architecture(shapes, prefix))
    if _has_prefix(shapes, "controlnet_cond_embedding."):
        return ModelInfo("controlnet", _diffusers_unet_architecture(shapes))
    return None


def detect_checkpoint(shapes: Shapes, metadata: Mapping[str, str], v_prediction_yaml: bool) -> ModelInfo | None:
    has_unet = f"{_UNET}input_blocks.0.0.weight" in shapes
    if not has_unet and not _is_diffusers_unet(shapes):
        return None
    components = frozenset(part for part, present in (
        ("unet", True),
        ("text_encoder", _has_prefix(shapes, "cond_stage_model.", "conditioner.embedders.")),
        ("vae", _has_prefix(shapes, "first_stage_model.")),
    ) if present)
    if has_unet:
        architecture = _checkpoint_architecture(shapes)
        in_channels = shapes[f"{_UNET}input_blocks.0.0.weight"][1]
    else:
        architecture = _diffusers_unet_architecture(shapes)
        in_channels = shapes["conv_in.weight"][1]
    if in_channels == 8:
        return unsupported("checkpoint", "instruct-pix2pix")
    inpaint = in_channels == 9
    if architecture == "sd2" and _says_v_prediction(metadata, v_prediction_yaml):
        architecture = "sd2-v"
    prediction = "v_prediction" if architecture == "sd2-v" else "epsilon"
    if architecture is None:
        return ModelInfo("checkpoint", None, inpaint, prediction, supported=False, components=components,
                         reason="Easel could not tell which Stable Diffusion version this checkpoint is.")
    return ModelInfo("checkpoint", architecture, inpaint, prediction, components=components)


def _checkpoint_architecture(shapes: Shapes) -> str | None:
    if _has_prefix(shapes, "conditioner.embedders.1.model."):
        return "sdxl"
    if _has_prefix(shapes, "conditioner.embedders.0.model."):
        return "sdxl-refiner"
    if _has_prefix(shapes, "conditioner.embedders.0.transformer."):
        return "sdxl"
    if _has_prefix(shapes, "cond_stage_model.model."):
        return "sd2"
    if _has_prefix(shapes, "cond_stage_model.transformer."):
        return "sd1"
    return _ldm_unet_architecture(shapes, "model.diffusion_model.")  # a UNet-only file


def _ldm_unet_architecture(shapes: Shapes, prefix: str) -> str | None:
    label = shapes.get(f"{prefix}label_emb.0.0.weight")
    if label is not None:
        return "sdxl-refiner" if label[-1] == 2560 else "sdxl"
    # SD2 made the transformer's proj_in a Linear layer; SD1 has a 1x1 convolution.
    proj_in = _first_shape(shapes, rf"^{re.escape(prefix)}input_blocks\.\d+\.1\.proj_in\.weight$")
    if proj_in is not None:
        return "sd2" if len(proj_in) == 2 else "sd1"
    to_k = _first_shape(shapes, rf"^{re.escape(prefix)}input_blocks\..*attn2\.to_k\.weight$")
    return _width_architecture(to_k[-1]) if to_k else None


def _is_diffusers_unet(shapes: Shapes) -> bool:
    return "conv_in.weight" in shapes and _has_prefix(shapes, "down_blocks.") and _has_prefix(shapes, "time_embedding.")


def _diffusers_unet_architecture(shapes: Shapes) -> str | None:
    add_embedding = shapes.get("add_embedding.linear_1.weight")
    if add_embedding is not None:
        return "sdxl-refiner" if add_embedding[-1] == 2560 else "sdxl"
    proj_in = _first_shape(shapes, r"^down_blocks\.\d+\.attentions\.\d+\.proj_in\.weight$")
    if proj_in is not None:
        return "sd2" if len(proj_in) == 2 else "sd1"
    to_k = _first_shape(shapes, r"attn2\.to_k\.weight$")
    return _width_architecture(to_k[-1]) if to_k else None


def _says_v_prediction(metadata: Mapping[str, str], v_prediction_yaml: bool) -> bool:
    if v_prediction_yaml:
        return True
    prediction = metadata.get("modelspec.prediction_type", "").lower()
    if prediction in ("v", "v_prediction", "v-prediction"):
        return True
    flags = (metadata.get("ss_v_parameterization", ""), metadata.get("v_pred", ""),
             metadata.get("v_parameterization", ""))
    return any(flag.strip().lower() in ("true", "1", "yes") for flag in flags)


def detect_vae(shapes: Shapes, _metadata: Mapping[str, str], _v: bool) -> ModelInfo | None:
    stripped = {name.removeprefix("first_stage_model.").removeprefix("vae."): shape for name, shape in shapes.items()}
    if "encoder.conv_in.weight" not in stripped or "decoder.conv_out.weight" not in stripped:
        return None
    latent = stripped.get("decoder.conv_in.weight")
    if latent is not None and latent[1] == 16:
        return unsupported("vae", "sd3-flux-vae")
    # SD1, SD2 and SDXL VAEs share one layout; the name of the file is the only hint which it is.
    return ModelInfo("vae", None)


def detect_embedding(shapes: Shapes, _metadata: Mapping[str, str], _v: bool) -> ModelInfo | None:
    if "clip_l" in shapes and "clip_g" in shapes:
        return ModelInfo("embedding", "sdxl")
    vectors = shapes.get("emb_params") or next(
        (shape for name, shape in shapes.items() if name.startswith("string_to_param.")), None)
    if vectors is None and len(shapes) == 1:
        # diffusers textual inversion: {"<token>": vector}
        only = next(iter(shapes.values()))
        vectors = only if len(only) in (1, 2) and only[-1] in (768, 1024) else None
    if vectors is None:
        return None
    return ModelInfo("embedding", {768: "sd1", 1024: "sd2"}.get(vectors[-1]))


def detect_upscaler(shapes: Shapes) -> ModelInfo | None:
    """Ask spandrel's detectors, on empty stand-in tensors with the file's shapes."""
    import torch
    from spandrel import MAIN_REGISTRY, canonicalize_state_dict

    stand_ins = {name: torch.empty(shape, device="meta") for name, shape in shapes.items()}
    stand_ins = canonicalize_state_dict(stand_ins)
    for support in MAIN_REGISTRY.architectures("detection"):
        try:
            if support.detect(stand_ins):
                return _upscaler_info(support.architecture.name)
        except Exception:  # a detector that chokes on this dict means "not mine"
            continue
    return None


# Architectures spandrel loads that do not enlarge a whole picture.
_NOT_UPSCALERS = {"LaMa": "an inpainting model", "GFPGAN": "a face restoration model",
                  "RestoreFormer": "a face restoration model"}


def _upscaler_info(architecture: str) -> ModelInfo:
    what = _NOT_UPSCALERS.get(architecture)
    if what is None:
        return ModelInfo("upscaler", architecture)
    return ModelInfo("upscaler", architecture, supported=False,
                     reason=f"{architecture} is {what}, not an upscaler; Easel does not use it.")


_DETECTORS: tuple[Callable[[Shapes, Mapping[str, str], bool], ModelInfo | None], ...] = (
    detect_lora, detect_controlnet, detect_foreign_checkpoint, detect_checkpoint, detect_vae, detect_embedding,
)


def describe(info: ModelInfo) -> str:
    """One line for a person: "SDXL checkpoint, inpainting", "LoRA for SD 1.x", "Unsupported: ..."."""
    if not info.supported:
        return f"Not usable: {info.reason}" if info.reason else "Not usable"
    title = _ARCH_TITLES.get(info.architecture or "", info.architecture or "")
    if info.kind == "checkpoint":
        text = f"{title} checkpoint"
        if info.inpaint:
            text += ", inpainting"
        if "text_encoder" not in info.components:
            text += " (UNet only)"
        return text
    if info.kind == "upscaler":
        return f"Upscaler ({info.architecture})"
    noun = {"lora": "LoRA", "vae": "VAE", "controlnet": "ControlNet", "embedding": "Embedding"}.get(info.kind, info.kind)
    return f"{noun} for {title}" if title else noun

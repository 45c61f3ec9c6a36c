"""Random-weight Stable Diffusion checkpoints in the real single-file (LDM) layout, plus matching diffusers configs.

Nothing can be downloaded, so tests, benchmarks and `--self-test` load these through the same
`from_single_file` path a civitai checkpoint takes. Weights are drawn from a seeded generator,
tensor by tensor in the target dtype, so the same seed gives the same file and an SD1.5-sized
model never exists in float32 as a whole.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import torch
from accelerate import init_empty_weights
from diffusers import AutoencoderKL, DDIMScheduler, EulerDiscreteScheduler, PNDMScheduler, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

from core.synthetic.ldm_keys import FAMILIES, ldm_state_dict

_SCHEDULERS = {cls.__name__: cls for cls in (PNDMScheduler, DDIMScheduler, EulerDiscreteScheduler)}
_PIPELINES = {
    ("sd1", False): "StableDiffusionPipeline",
    ("sd2", False): "StableDiffusionPipeline",
    ("sdxl", False): "StableDiffusionXLPipeline",
    ("sd1", True): "StableDiffusionInpaintPipeline",
    ("sd2", True): "StableDiffusionInpaintPipeline",
    ("sdxl", True): "StableDiffusionXLInpaintPipeline",
    ("sdxl-refiner", False): "StableDiffusionXLImg2ImgPipeline",
}
_SAFETENSORS_DTYPES = {
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
}
# The CLIP tokenizer's vocabulary and context: kept at full size so the real tokenizer works on tiny models.
_CLIP_TOKENS = {
    "vocab_size": 49408,
    "max_position_embeddings": 77,
    "bos_token_id": 0,
    "eos_token_id": 2,
    "pad_token_id": 1,
}
_SD_BETAS = {"beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear", "num_train_timesteps": 1000}


@dataclass(frozen=True)
class SyntheticModel:
    checkpoint: Path  # the single-file .safetensors (ldm layout, as civitai ships)
    config_dir: Path  # diffusers-format configs for its shapes (JSON only, no tokenizer folders)
    family: str  # "sd1" | "sd2" | "sdxl" | "sdxl-refiner"
    inpaint: bool


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to build one model: diffusers/transformers config kwargs per component."""

    family: str
    inpaint: bool
    unet: dict[str, Any]
    vae: dict[str, Any]
    text_encoder: dict[str, Any] | None  # None for the SDXL refiner, which has only text_encoder_2
    text_encoder_2: dict[str, Any] | None
    scheduler_class: str
    scheduler: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Components:
    unet: UNet2DConditionModel
    vae: AutoencoderKL
    text_encoder: CLIPTextModel | None
    text_encoder_2: CLIPTextModelWithProjection | None


def _tiny_refiner_unet(common: dict[str, Any]) -> dict[str, Any]:
    # The refiner's shape scaled down: no attention in the first and last blocks, cross-attention over its one
    # OpenCLIP encoder (width 64), addition embeds = 5 size/crop/aesthetic-score values x 8 + pooled projection 32.
    return common | {
        "block_out_channels": (32, 64, 64),
        "layers_per_block": 2,
        "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        "up_block_types": ("UpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        "attention_head_dim": (2, 4, 4),
        "use_linear_projection": True,
        "transformer_layers_per_block": 2,
        "cross_attention_dim": 64,
        "addition_embed_type": "text_time",
        "addition_time_embed_dim": 8,
        "projection_class_embeddings_input_dim": 5 * 8 + 32,
    }


def _tiny_unet(family: str, in_channels: int) -> dict[str, Any]:
    common = {"sample_size": 8, "in_channels": in_channels, "out_channels": 4, "block_out_channels": (32, 64)}
    if family == "sdxl-refiner":
        return _tiny_refiner_unet(common)
    if family == "sdxl":
        # SDXL's first block has no attention; addition embeds = 6 size/crop values x 8 + pooled projection 32.
        return common | {
            "layers_per_block": 2,
            "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D"),
            "up_block_types": ("CrossAttnUpBlock2D", "UpBlock2D"),
            "attention_head_dim": (2, 4),
            "use_linear_projection": True,
            "transformer_layers_per_block": (1, 2),
            "cross_attention_dim": 32 + 64,
            "addition_embed_type": "text_time",
            "addition_time_embed_dim": 8,
            "projection_class_embeddings_input_dim": 6 * 8 + 32,
        }
    return common | {
        "layers_per_block": 1,
        "down_block_types": ("CrossAttnDownBlock2D", "DownBlock2D"),
        "up_block_types": ("UpBlock2D", "CrossAttnUpBlock2D"),
        "attention_head_dim": (2, 4) if family == "sd2" else 2,
        "use_linear_projection": family == "sd2",
        "cross_attention_dim": 32,
    }


def _tiny_vae(family: str) -> dict[str, Any]:
    # Four blocks keep the real 8x latent scale; 32 channels keep LDM's fixed 32-group GroupNorm valid.
    return {
        "sample_size": 64,
        "block_out_channels": (32, 32, 32, 32),
        "down_block_types": ("DownEncoderBlock2D",) * 4,
        "up_block_types": ("UpDecoderBlock2D",) * 4,
        "layers_per_block": 1,
        "latent_channels": 4,
        "scaling_factor": 0.13025 if family.startswith("sdxl") else 0.18215,
    }


def _tiny_text_encoder(hidden: int, layers: int, act: str, projection_dim: int = 32) -> dict[str, Any]:
    return _CLIP_TOKENS | {
        "hidden_size": hidden,
        "intermediate_size": 2 * hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": 4,
        "hidden_act": act,
        "projection_dim": projection_dim,
    }


def _scheduler(family: str, v_prediction: bool) -> tuple[str, dict[str, Any]]:
    prediction = "v_prediction" if v_prediction else "epsilon"
    if family.startswith("sdxl"):
        extra = {"steps_offset": 1, "timestep_spacing": "leading", "interpolation_type": "linear"}
        return "EulerDiscreteScheduler", _SD_BETAS | extra | {"prediction_type": prediction}
    fixed = {"clip_sample": False, "set_alpha_to_one": False, "steps_offset": 1, "prediction_type": prediction}
    if family == "sd2":
        return "DDIMScheduler", _SD_BETAS | fixed
    return "PNDMScheduler", _SD_BETAS | fixed | {"skip_prk_steps": True}


def _tiny_text_encoders(family: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    # The OpenCLIP (bigG-style) encoder: wider than the first so diffusers' width checks tell the two apart,
    # ten layers because `infer_diffusers_model_type` looks for resblocks.9 to recognise SDXL and its refiner.
    open_clip_big = _tiny_text_encoder(64, 10, "gelu")
    if family == "sdxl":
        return _tiny_text_encoder(32, 2, "quick_gelu"), open_clip_big
    if family == "sdxl-refiner":
        return None, open_clip_big
    return _tiny_text_encoder(32, 2, "gelu" if family == "sd2" else "quick_gelu"), None


def tiny_spec(family: str = "sd1", *, inpaint: bool = False, v_prediction: bool = False) -> ModelSpec:
    """Shapes small enough to run a 64x64 generation on a CPU in about a second."""
    if family not in FAMILIES:
        raise ValueError(f"Unknown family {family!r}; expected one of {', '.join(FAMILIES)}.")
    if inpaint and (family, True) not in _PIPELINES:
        raise ValueError(f"There are no {family} inpainting models.")
    text_encoder, text_encoder_2 = _tiny_text_encoders(family)
    scheduler_class, scheduler = _scheduler(family, v_prediction)
    return ModelSpec(
        family=family,
        inpaint=inpaint,
        unet=_tiny_unet(family, 9 if inpaint else 4),
        vae=_tiny_vae(family),
        text_encoder=text_encoder,
        text_encoder_2=text_encoder_2,
        scheduler_class=scheduler_class,
        scheduler=scheduler,
    )


def sd15_spec() -> ModelSpec:
    """The shapes of runwayml/stable-diffusion-v1-5 (UNet 859,520,964, VAE 83,653,863, text 123,060,480 params)."""
    unet = {
        "sample_size": 64,
        "in_channels": 4,
        "out_channels": 4,
        "block_out_channels": (320, 640, 1280, 1280),
        "layers_per_block": 2,
        "down_block_types": ("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
        "up_block_types": ("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
        "attention_head_dim": 8,
        "cross_attention_dim": 768,
    }
    vae = {
        "sample_size": 512,
        "block_out_channels": (128, 256, 512, 512),
        "down_block_types": ("DownEncoderBlock2D",) * 4,
        "up_block_types": ("UpDecoderBlock2D",) * 4,
        "layers_per_block": 2,
        "latent_channels": 4,
        "scaling_factor": 0.18215,
    }
    text_encoder = _CLIP_TOKENS | {
        "hidden_size": 768,
        "intermediate_size": 3072,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "hidden_act": "quick_gelu",
        "projection_dim": 768,
    }
    scheduler_class, scheduler = _scheduler("sd1", v_prediction=False)
    return ModelSpec("sd1", False, unet, vae, text_encoder, None, scheduler_class, scheduler)


def _random_tensor(name: str, shape: torch.Size, generator: torch.Generator, dtype: torch.dtype) -> torch.Tensor:
    if len(shape) >= 2:
        fan_in = shape[1:].numel()
        # Embedding tables get CLIP's small init; other weights PyTorch's default bound 1/sqrt(fan_in).
        bound = 0.035 if name.endswith("embedding.weight") else fan_in**-0.5
        values = torch.empty(shape).uniform_(-bound, bound, generator=generator)
    else:
        values = torch.empty(shape).uniform_(-0.1, 0.1, generator=generator)
        if "norm" in name and name.endswith(".weight"):
            values += 1.0
    return values.to(dtype)


def _random_module(factory: Callable[[], torch.nn.Module], seed: int, dtype: torch.dtype) -> torch.nn.Module:
    """Build without allocating, then fill every parameter from `seed` directly in `dtype`."""
    with init_empty_weights():
        module = factory()
    generator = torch.Generator().manual_seed(seed)
    values = {
        name: _random_tensor(name, tensor.shape, generator, dtype) if tensor.is_meta else tensor
        for name, tensor in module.state_dict().items()
    }
    module.load_state_dict(values, strict=True, assign=True)
    return module.eval()


def _text_encoder_factory(cls: type, kwargs: dict[str, Any]) -> Callable[[], torch.nn.Module]:
    config = CLIPTextConfig(**kwargs)
    config.architectures = [cls.__name__]
    return lambda: cls(config)


def build_components(spec: ModelSpec, *, seed: int = 0, dtype: torch.dtype = torch.float32) -> Components:
    """The diffusers/transformers modules of `spec`, each with its own stream of `seed`."""
    base = seed * 8
    text_encoder = text_encoder_2 = None
    if spec.text_encoder is not None:
        text_encoder = _random_module(_text_encoder_factory(CLIPTextModel, spec.text_encoder), base + 2, dtype)
    if spec.text_encoder_2 is not None:
        factory = _text_encoder_factory(CLIPTextModelWithProjection, spec.text_encoder_2)
        text_encoder_2 = _random_module(factory, base + 3, dtype)
    return Components(
        unet=_random_module(lambda: UNet2DConditionModel(**spec.unet), base, dtype),
        vae=_random_module(lambda: AutoencoderKL(**spec.vae), base + 1, dtype),
        text_encoder=text_encoder,
        text_encoder_2=text_encoder_2,
    )


def _model_index(spec: ModelSpec) -> dict[str, Any]:
    index: dict[str, Any] = {
        "_class_name": _PIPELINES[(spec.family, spec.inpaint)],
        # Listing these would make an offline load try to fetch them.
        "feature_extractor": [None, None],
        "image_encoder": [None, None],
        "scheduler": ["diffusers", spec.scheduler_class],
        "text_encoder": ["transformers", "CLIPTextModel"],
        # No tokenizer folder: callers pass tokenizer objects built from resources/.
        "tokenizer": ["transformers", "CLIPTokenizer"],
        "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"],
    }
    if spec.family == "sdxl":
        index |= {
            "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"],
            "tokenizer_2": ["transformers", "CLIPTokenizer"],
            "force_zeros_for_empty_prompt": True,
        }
    elif spec.family == "sdxl-refiner":
        # As stabilityai/stable-diffusion-xl-refiner-1.0 ships it: the first encoder slot present but empty.
        index |= {
            "text_encoder": [None, None],
            "tokenizer": [None, None],
            "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"],
            "tokenizer_2": ["transformers", "CLIPTokenizer"],
            "requires_aesthetics_score": True,
            "force_zeros_for_empty_prompt": False,
        }
    else:
        index |= {"safety_checker": [None, None], "requires_safety_checker": False}
    return index


def write_config_dir(folder: Path, spec: ModelSpec, components: Components) -> Path:
    """A diffusers config folder (JSON only) for loading the checkpoint with `from_single_file(config=folder)`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model_index.json").write_text(json.dumps(_model_index(spec), indent=2, sort_keys=True) + "\n")
    components.unet.save_config(folder / "unet")
    components.vae.save_config(folder / "vae")
    if components.text_encoder is not None:
        components.text_encoder.config.save_pretrained(folder / "text_encoder")
    if components.text_encoder_2 is not None:
        components.text_encoder_2.config.save_pretrained(folder / "text_encoder_2")
    # from_config keeps keys this class ignores (clip_sample for PNDM), as the real SD configs have them.
    _SCHEDULERS[spec.scheduler_class].from_config(spec.scheduler).save_config(folder / "scheduler")
    return folder


def _safetensors_header(tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str]) -> bytes:
    header: dict[str, Any] = {"__metadata__": dict(metadata)}
    offset = 0
    for name, tensor in tensors.items():
        size = tensor.numel() * tensor.element_size()
        header[name] = {
            "dtype": _SAFETENSORS_DTYPES[tensor.dtype],
            "shape": list(tensor.shape),
            "data_offsets": [offset, offset + size],
        }
        offset += size
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    return encoded + b" " * (-len(encoded) % 8)  # the format pads the header to 8 bytes with spaces


def write_safetensors(
    path: Path, tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str] | None = None
) -> None:
    """Stream `tensors` (sorted by name) into a .safetensors file, one tensor in memory at a time, atomically."""
    ordered = {name: tensors[name] for name in sorted(tensors)}
    header = _safetensors_header(ordered, metadata or {"format": "pt"})
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as out:
        out.write(struct.pack("<Q", len(header)))
        out.write(header)
        for tensor in ordered.values():
            out.write(tensor.detach().contiguous().reshape(-1).view(torch.uint8).numpy().data)
    os.replace(partial, path)


def _write_model(checkpoint: Path, config_dir: Path, spec: ModelSpec, seed: int, dtype: torch.dtype) -> SyntheticModel:
    components = build_components(spec, seed=seed, dtype=dtype)
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    write_config_dir(config_dir, spec, components)
    tensors = ldm_state_dict(
        spec.family, components.unet, components.vae, components.text_encoder, components.text_encoder_2
    )
    del components
    write_safetensors(checkpoint, tensors)
    return SyntheticModel(checkpoint=checkpoint, config_dir=config_dir, family=spec.family, inpaint=spec.inpaint)


def write_tiny_checkpoint(
    folder: Path,
    family: str = "sd1",
    *,
    inpaint: bool = False,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    v_prediction: bool = False,
) -> SyntheticModel:
    """A tiny random `family` checkpoint `folder/tiny-<family>[-inpaint][-v].safetensors` and its `-config` folder.

    The config folder is a diffusers model folder (model_index.json): keep it out of folders that
    Easel scans for models.
    """
    spec = tiny_spec(family, inpaint=inpaint, v_prediction=v_prediction)
    stem = f"tiny-{family}" + ("-inpaint" if inpaint else "") + ("-v" if v_prediction else "")
    folder = Path(folder)
    return _write_model(folder / f"{stem}.safetensors", folder / f"{stem}-config", spec, seed, dtype)


def write_sd15_checkpoint(path: Path, *, dtype: torch.dtype = torch.float16, seed: int = 0) -> SyntheticModel:
    """A random checkpoint of SD1.5's full shapes at `path`, its configs in `<stem>-config` beside it."""
    path = Path(path)
    return _write_model(path, path.with_name(f"{path.stem}-config"), sd15_spec(), seed, dtype)

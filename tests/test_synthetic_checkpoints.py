"""Random-weight checkpoints must load through diffusers' single-file path exactly like civitai files."""

from __future__ import annotations

import gzip
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from accelerate import init_empty_weights
from diffusers import (
    AutoencoderKL,
    StableDiffusionInpaintPipeline,
    StableDiffusionPipeline,
    StableDiffusionXLImg2ImgPipeline,
    StableDiffusionXLPipeline,
    UNet2DConditionModel,
)
from diffusers.loaders.single_file_utils import (
    convert_ldm_clip_checkpoint,
    convert_ldm_unet_checkpoint,
    convert_ldm_vae_checkpoint,
    convert_open_clip_checkpoint,
    infer_diffusers_model_type,
)
from safetensors import safe_open
from safetensors.torch import load_file
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

from core.models.detect import detect_model
from core.synthetic import build_components, ldm_state_dict, sd15_spec, tiny_spec, write_tiny_checkpoint
from core.synthetic.ldm_keys import SD2_OPEN_CLIP_PREFIX, SDXL_OPEN_CLIP_PREFIX, SDXL_REFINER_OPEN_CLIP_PREFIX

CASES = [("sd1", False), ("sd1", True), ("sd2", False), ("sdxl", False)]
CASE_IDS = ["sd1", "sd1-inpaint", "sd2", "sdxl"]
LAYOUT_CASES = CASES + [("sdxl", True), ("sdxl-refiner", False)]


def _bytes_to_unicode() -> dict[int, str]:
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    mapping = {byte: chr(byte) for byte in printable}
    extra = 0
    for byte in range(256):
        if byte not in mapping:
            mapping[byte] = chr(256 + extra)
            extra += 1
    return mapping


def _write_clip_tokenizer(folder: Path) -> Path:
    """CLIP's tokenizer files derived from the BPE merges shipped inside open_clip, as CLIP itself builds them."""
    bpe = Path(importlib.util.find_spec("open_clip").origin).parent / "bpe_simple_vocab_16e6.txt.gz"
    merges = gzip.open(bpe).read().decode("utf-8").split("\n")[1 : 49152 - 256 - 2 + 1]
    symbols = list(_bytes_to_unicode().values())
    vocab = symbols + [s + "</w>" for s in symbols] + ["".join(m.split()) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps({token: i for i, token in enumerate(vocab)}))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    special = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>"}
    config = special | {"pad_token": "<|endoftext|>", "model_max_length": 77}
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    return folder


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory) -> CLIPTokenizer:
    folder = _write_clip_tokenizer(tmp_path_factory.mktemp("clip-tokenizer"))
    loaded = CLIPTokenizer.from_pretrained(folder, local_files_only=True)
    assert len(loaded) == 49408
    return loaded


def _assert_same_tensors(actual: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    assert sorted(actual) == sorted(expected)
    unequal = [key for key in expected if not torch.equal(actual[key], expected[key])]
    assert not unequal, f"{len(unequal)} tensors differ, e.g. {unequal[:3]}"


def _without_text_model_prefix(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    # What diffusers does before loading into transformers 5's flattened CLIPTextModel.
    return {key.removeprefix("text_model."): value for key, value in state_dict.items()}


def _converted_text_encoders(family: str, checkpoint: dict, components) -> list[tuple[dict, dict]]:
    """(diffusers' conversion of the checkpoint, the original state dict) per text encoder."""
    if family == "sdxl-refiner":
        only = components.text_encoder_2
        converted = convert_open_clip_checkpoint(only, checkpoint, prefix=SDXL_REFINER_OPEN_CLIP_PREFIX)
        return [(converted, only.state_dict())]
    first = components.text_encoder
    if family == "sd2":
        converted = convert_open_clip_checkpoint(first, checkpoint, prefix=SD2_OPEN_CLIP_PREFIX)
    else:
        converted = convert_ldm_clip_checkpoint(checkpoint)
        # Real SD1/SDXL files carry position_ids, which the model keeps as a non-saved buffer.
        assert torch.equal(converted.pop("text_model.embeddings.position_ids"), torch.arange(77)[None])
    pairs = [(_without_text_model_prefix(converted), first.state_dict())]
    if family == "sdxl":
        second = components.text_encoder_2
        converted_2 = convert_open_clip_checkpoint(second, checkpoint, prefix=SDXL_OPEN_CLIP_PREFIX)
        pairs.append((converted_2, second.state_dict()))
    return pairs


@pytest.mark.parametrize(("family", "inpaint"), LAYOUT_CASES, ids=CASE_IDS + ["sdxl-inpaint", "sdxl-refiner"])
def test_diffusers_converters_recover_every_original_tensor(family: str, inpaint: bool) -> None:
    components = build_components(tiny_spec(family, inpaint=inpaint), seed=3)
    c = components
    checkpoint = ldm_state_dict(family, c.unet, c.vae, c.text_encoder, c.text_encoder_2)

    _assert_same_tensors(convert_ldm_unet_checkpoint(checkpoint, dict(c.unet.config)), c.unet.state_dict())
    _assert_same_tensors(convert_ldm_vae_checkpoint(checkpoint, dict(c.vae.config)), c.vae.state_dict())
    for converted, original in _converted_text_encoders(family, checkpoint, components):
        _assert_same_tensors(converted, original)


@pytest.mark.parametrize(
    ("family", "expected_keys"),
    [
        ("sd1", ["cond_stage_model.transformer.text_model.embeddings.position_embedding.weight"]),
        ("sd2", ["cond_stage_model.model.token_embedding.weight", "cond_stage_model.model.text_projection"]),
        (
            "sdxl",
            [
                "conditioner.embedders.0.transformer.text_model.embeddings.position_embedding.weight",
                "conditioner.embedders.1.model.transformer.resblocks.9.mlp.c_proj.bias",
                "conditioner.embedders.1.model.transformer.resblocks.0.attn.in_proj_weight",
                "conditioner.embedders.1.model.text_projection",
                "model.diffusion_model.label_emb.0.0.weight",
            ],
        ),
        (
            "sdxl-refiner",
            [
                "conditioner.embedders.0.model.transformer.resblocks.9.mlp.c_proj.bias",
                "conditioner.embedders.0.model.transformer.resblocks.0.attn.in_proj_weight",
                "conditioner.embedders.0.model.text_projection",
                "model.diffusion_model.label_emb.0.0.weight",
            ],
        ),
    ],
)
def test_checkpoint_has_the_key_layout_of_real_files(family: str, expected_keys: list[str]) -> None:
    c = build_components(tiny_spec(family))
    checkpoint = ldm_state_dict(family, c.unet, c.vae, c.text_encoder, c.text_encoder_2)

    always = ["model.diffusion_model.input_blocks.0.0.weight", "first_stage_model.decoder.conv_in.weight"]
    for key in expected_keys + always:
        assert key in checkpoint
    assert checkpoint["first_stage_model.encoder.mid.attn_1.q.weight"].ndim == 4  # a 1x1 conv, as LDM stores it
    prefixes = {"model.diffusion_model.", "first_stage_model.", "cond_stage_model.", "conditioner.embedders."}
    assert all(any(key.startswith(p) for p in prefixes) for key in checkpoint)
    if family == "sdxl":
        assert infer_diffusers_model_type(checkpoint) == "xl_base"


def test_refiner_checkpoint_has_one_open_clip_encoder_and_is_recognised_as_a_refiner() -> None:
    c = build_components(tiny_spec("sdxl-refiner"))
    checkpoint = ldm_state_dict("sdxl-refiner", c.unet, c.vae, None, c.text_encoder_2)

    other_encoders = ("conditioner.embedders.1.", "conditioner.embedders.0.transformer.", "cond_stage_model.")
    assert not any(key.startswith(other_encoders) for key in checkpoint)
    # Pooled projection (32) plus 5 size/crop/aesthetic-score values of 8; cross-attention over the 64-wide encoder.
    assert checkpoint["model.diffusion_model.label_emb.0.0.weight"].shape[1] == 5 * 8 + 32
    assert checkpoint["model.diffusion_model.input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight"].shape[1] == 64
    assert infer_diffusers_model_type(checkpoint) == "xl_refiner"


def test_refiner_needs_exactly_its_one_text_encoder() -> None:
    c = build_components(tiny_spec("sdxl-refiner"))

    with pytest.raises(ValueError, match="refiner"):
        ldm_state_dict("sdxl-refiner", c.unet, c.vae, c.text_encoder_2, None)
    with pytest.raises(ValueError, match="no sdxl-refiner inpainting"):
        tiny_spec("sdxl-refiner", inpaint=True)


def test_inpaint_checkpoint_is_recognised_as_inpainting() -> None:
    c = build_components(tiny_spec("sd1", inpaint=True))
    checkpoint = ldm_state_dict("sd1", c.unet, c.vae, c.text_encoder)

    assert checkpoint["model.diffusion_model.input_blocks.0.0.weight"].shape[1] == 9
    assert infer_diffusers_model_type(checkpoint) == "inpainting"


def _assert_module_weights(loaded: torch.nn.Module, original: torch.nn.Module) -> None:
    _assert_same_tensors(loaded.state_dict(), original.state_dict())


def _generate(pipe, inpaint: bool) -> np.ndarray:
    options = {"num_inference_steps": 2, "height": 64, "width": 64, "output_type": "np"}
    if inpaint:
        image = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
        mask = torch.zeros(1, 1, 64, 64)
        mask[..., 16:48, 16:48] = 1.0
        options |= {"image": image, "mask_image": mask, "strength": 1.0}
    return pipe("a photo of a cat", generator=torch.Generator().manual_seed(0), **options).images


def _load_pipeline(model, tokenizer: CLIPTokenizer):
    common = {"config": str(model.config_dir), "local_files_only": True, "tokenizer": tokenizer}
    if model.family == "sdxl":
        return StableDiffusionXLPipeline.from_single_file(str(model.checkpoint), tokenizer_2=tokenizer, **common)
    pipeline_class = StableDiffusionInpaintPipeline if model.inpaint else StableDiffusionPipeline
    return pipeline_class.from_single_file(
        str(model.checkpoint), safety_checker=None, feature_extractor=None, **common
    )


@pytest.mark.parametrize(("family", "inpaint"), CASES, ids=CASE_IDS)
def test_from_single_file_loads_the_original_weights_offline_and_generates(
    family: str, inpaint: bool, tokenizer: CLIPTokenizer, tmp_path: Path
) -> None:
    model = write_tiny_checkpoint(tmp_path, family, inpaint=inpaint, seed=5)
    original = build_components(tiny_spec(family, inpaint=inpaint), seed=5)

    pipe = _load_pipeline(model, tokenizer)

    _assert_module_weights(pipe.unet, original.unet)
    _assert_module_weights(pipe.vae, original.vae)
    _assert_module_weights(pipe.text_encoder, original.text_encoder)
    if family == "sdxl":
        _assert_module_weights(pipe.text_encoder_2, original.text_encoder_2)
    assert pipe.vae_scale_factor == 8
    images = _generate(pipe, inpaint)
    assert images.shape == (1, 64, 64, 3)
    assert np.isfinite(images).all()


def test_refiner_loads_through_from_single_file_and_refines_an_image(tokenizer: CLIPTokenizer, tmp_path: Path) -> None:
    model = write_tiny_checkpoint(tmp_path, "sdxl-refiner", seed=5)
    original = build_components(tiny_spec("sdxl-refiner"), seed=5)

    pipe = StableDiffusionXLImg2ImgPipeline.from_single_file(
        str(model.checkpoint), config=str(model.config_dir), local_files_only=True, tokenizer_2=tokenizer
    )

    assert pipe.text_encoder is None and pipe.tokenizer is None
    assert pipe.config.requires_aesthetics_score
    for name in ("unet", "vae", "text_encoder_2"):
        _assert_module_weights(getattr(pipe, name), getattr(original, name))
    image = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    images = pipe(
        "a photo of a cat", image=image, strength=0.5, num_inference_steps=2, output_type="np",
        generator=torch.Generator().manual_seed(0),
    ).images
    assert images.shape == (1, 64, 64, 3)
    assert np.isfinite(images).all()


def test_easel_detects_the_refiner_file_as_an_sdxl_refiner_checkpoint(tmp_path: Path) -> None:
    model = write_tiny_checkpoint(tmp_path, "sdxl-refiner")

    info = detect_model(model.checkpoint)

    assert (info.kind, info.architecture, info.inpaint, info.supported) == ("checkpoint", "sdxl-refiner", False, True)


def test_refiner_config_folder_names_the_img2img_pipeline_without_a_first_encoder(tmp_path: Path) -> None:
    model = write_tiny_checkpoint(tmp_path, "sdxl-refiner")

    index = json.loads((model.config_dir / "model_index.json").read_text())

    assert model.checkpoint.name == "tiny-sdxl-refiner.safetensors"
    assert index["_class_name"] == "StableDiffusionXLImg2ImgPipeline"
    assert index["text_encoder"] == index["tokenizer"] == [None, None]
    assert index["text_encoder_2"] == ["transformers", "CLIPTextModelWithProjection"]
    assert index["tokenizer_2"] == ["transformers", "CLIPTokenizer"]
    assert index["requires_aesthetics_score"] is True
    assert index["feature_extractor"] == index["image_encoder"] == [None, None]
    assert not (model.config_dir / "text_encoder").exists()
    unet = UNet2DConditionModel.load_config(model.config_dir / "unet")
    assert unet["projection_class_embeddings_input_dim"] == 5 * unet["addition_time_embed_dim"] + 32
    assert unet["cross_attention_dim"] == 64


def test_inpaint_unet_loads_alone_with_its_config_folder(tmp_path: Path) -> None:
    model = write_tiny_checkpoint(tmp_path, "sd1", inpaint=True)

    unet = UNet2DConditionModel.from_single_file(
        str(model.checkpoint), config=str(model.config_dir), subfolder="unet", local_files_only=True
    )

    assert unet.config.in_channels == 9
    assert unet.conv_in.weight.shape[1] == 9


def test_config_folder_loads_offline_without_safety_checker_or_tokenizer_files(tmp_path: Path) -> None:
    model = write_tiny_checkpoint(tmp_path, "sdxl")

    index = json.loads((model.config_dir / "model_index.json").read_text())

    assert index["_class_name"] == "StableDiffusionXLPipeline"
    assert index["feature_extractor"] == [None, None]
    assert index["tokenizer_2"] == ["transformers", "CLIPTokenizer"]
    assert not (model.config_dir / "tokenizer").exists()
    assert AutoencoderKL.load_config(model.config_dir / "vae")["scaling_factor"] == 0.13025
    assert json.loads((model.config_dir / "text_encoder_2" / "config.json").read_text())["projection_dim"] == 32


def test_v_prediction_is_written_into_the_scheduler_config(tmp_path: Path) -> None:
    model = write_tiny_checkpoint(tmp_path, "sd2", v_prediction=True)

    scheduler = json.loads((model.config_dir / "scheduler" / "scheduler_config.json").read_text())

    assert scheduler["prediction_type"] == "v_prediction"


def test_same_seed_writes_the_same_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    first = write_tiny_checkpoint(tmp_path / "a", "sd1", seed=7)
    again = write_tiny_checkpoint(tmp_path / "b", "sd1", seed=7)
    other = write_tiny_checkpoint(tmp_path / "c", "sd1", seed=8)

    assert first.checkpoint.read_bytes() == again.checkpoint.read_bytes()
    assert first.checkpoint.read_bytes() != other.checkpoint.read_bytes()


def test_half_precision_file_stores_float16_tensors(tmp_path: Path) -> None:
    model = write_tiny_checkpoint(tmp_path, "sd1", dtype=torch.float16)

    tensors = load_file(model.checkpoint)
    with safe_open(model.checkpoint, framework="pt") as handle:
        metadata = handle.metadata()

    assert metadata == {"format": "pt"}
    assert tensors["model.diffusion_model.out.2.weight"].dtype == torch.float16
    assert tensors["cond_stage_model.transformer.text_model.embeddings.position_ids"].dtype == torch.int64


@pytest.fixture(scope="module")
def sd15_shapes():
    """SD1.5-sized modules on the meta device: all the shapes, none of the memory."""
    spec = sd15_spec()
    with init_empty_weights():
        return (
            UNet2DConditionModel(**spec.unet),
            AutoencoderKL(**spec.vae),
            CLIPTextModel(CLIPTextConfig(**spec.text_encoder)),
        )


def test_sd15_spec_has_the_parameter_counts_of_stable_diffusion_1_5(sd15_shapes) -> None:
    counts = tuple(sum(p.numel() for p in module.parameters()) for module in sd15_shapes)

    assert counts == (859_520_964, 83_653_863, 123_060_480)


def test_sd15_sized_layout_converts_back_to_every_shape(sd15_shapes) -> None:
    unet, vae, text_encoder = sd15_shapes
    checkpoint = ldm_state_dict("sd1", unet, vae, text_encoder)

    assert infer_diffusers_model_type(checkpoint) == "v1"
    assert "model.diffusion_model.output_blocks.11.0.skip_connection.weight" in checkpoint
    for converted, module in [
        (convert_ldm_unet_checkpoint(checkpoint, dict(unet.config)), unet),
        (convert_ldm_vae_checkpoint(checkpoint, dict(vae.config)), vae),
    ]:
        expected = module.state_dict()
        assert sorted(converted) == sorted(expected)
        assert all(converted[key].shape == expected[key].shape for key in expected)

"""Telling checkpoints, LoRAs, VAEs, ControlNets, embeddings and upscalers apart, from headers only."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from core.models.detect import ModelInfo, describe, detect_from_shapes, detect_model

UNET = "model.diffusion_model."


def write_model(path: Path, shapes: dict[str, tuple[int, ...]], metadata: dict | None = None) -> Path:
    save_file({name: torch.zeros(shape, dtype=torch.float16) for name, shape in shapes.items()}, path,
              metadata=metadata)
    return path


def tiny_unet(in_channels: int = 4, linear_proj_in: bool = False) -> dict[str, tuple[int, ...]]:
    proj_in = (32, 32) if linear_proj_in else (32, 32, 1, 1)
    return {f"{UNET}input_blocks.0.0.weight": (32, in_channels, 3, 3),
            f"{UNET}input_blocks.1.1.proj_in.weight": proj_in,
            f"{UNET}input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": (32, 32),
            f"{UNET}out.2.weight": (4, 32, 3, 3)}


SD1_TEXT = {"cond_stage_model.transformer.text_model.embeddings.token_embedding.weight": (10, 32)}
SD2_TEXT = {"cond_stage_model.model.token_embedding.weight": (10, 32)}
SDXL_TEXT = {"conditioner.embedders.0.transformer.text_model.embeddings.token_embedding.weight": (10, 32),
             "conditioner.embedders.1.model.token_embedding.weight": (10, 32)}
REFINER_TEXT = {"conditioner.embedders.0.model.token_embedding.weight": (10, 32)}
VAE = {"first_stage_model.encoder.conv_in.weight": (8, 3, 3, 3),
       "first_stage_model.decoder.conv_out.weight": (3, 8, 3, 3),
       "first_stage_model.quant_conv.weight": (8, 8, 1, 1)}


def detect(tmp_path: Path, shapes: dict, metadata: dict | None = None, name: str = "model.safetensors") -> ModelInfo:
    return detect_model(write_model(tmp_path / name, shapes, metadata))


# ---------------------------------------------------------------- checkpoints

@pytest.mark.parametrize("text, unet, architecture", [
    (SD1_TEXT, tiny_unet(), "sd1"),
    (SD2_TEXT, tiny_unet(linear_proj_in=True), "sd2"),
    (SDXL_TEXT, {**tiny_unet(linear_proj_in=True), f"{UNET}label_emb.0.0.weight": (64, 64)}, "sdxl"),
    (REFINER_TEXT, {**tiny_unet(linear_proj_in=True), f"{UNET}label_emb.0.0.weight": (64, 64)}, "sdxl-refiner"),
])
def test_checkpoint_architecture_comes_from_the_text_encoder_layout(tmp_path: Path, text, unet, architecture) -> None:
    info = detect(tmp_path, {**text, **unet, **VAE})
    assert (info.kind, info.architecture, info.inpaint, info.prediction, info.supported) == \
        ("checkpoint", architecture, False, "epsilon", True)
    assert info.components == {"unet", "text_encoder", "vae"}


@pytest.mark.parametrize("text, architecture", [(SD1_TEXT, "sd1"), (SD2_TEXT, "sd2"), (SDXL_TEXT, "sdxl")])
def test_nine_input_channels_mean_inpainting(tmp_path: Path, text, architecture) -> None:
    info = detect(tmp_path, {**text, **tiny_unet(in_channels=9)})
    assert (info.architecture, info.inpaint) == (architecture, True)
    assert describe(info).endswith("checkpoint, inpainting")


def test_sd2_v_prediction_from_safetensors_metadata(tmp_path: Path) -> None:
    info = detect(tmp_path, {**SD2_TEXT, **tiny_unet(linear_proj_in=True)}, {"modelspec.prediction_type": "v"})
    assert (info.architecture, info.prediction) == ("sd2-v", "v_prediction")


def test_sd2_v_prediction_from_kohya_flag(tmp_path: Path) -> None:
    info = detect(tmp_path, {**SD2_TEXT, **tiny_unet(linear_proj_in=True)}, {"ss_v_parameterization": "True"})
    assert info.architecture == "sd2-v"


def test_sd2_v_prediction_from_a1111_yaml_beside_the_file(tmp_path: Path) -> None:
    (tmp_path / "v2-768.yaml").write_text('model:\n  params:\n    parameterization: "v"\n    linear_start: 0.00085\n')
    info = detect(tmp_path, {**SD2_TEXT, **tiny_unet(linear_proj_in=True)}, name="v2-768.safetensors")
    assert (info.architecture, info.prediction) == ("sd2-v", "v_prediction")


def test_sd2_without_hints_is_epsilon(tmp_path: Path) -> None:
    (tmp_path / "other.yaml").write_text('parameterization: "v"\n')  # belongs to another model
    info = detect(tmp_path, {**SD2_TEXT, **tiny_unet(linear_proj_in=True)}, name="base.safetensors")
    assert (info.architecture, info.prediction) == ("sd2", "epsilon")


@pytest.mark.parametrize("unet, architecture", [
    (tiny_unet(), "sd1"),
    (tiny_unet(linear_proj_in=True), "sd2"),
    ({**tiny_unet(linear_proj_in=True), f"{UNET}label_emb.0.0.weight": (1280, 2816)}, "sdxl"),
])
def test_unet_only_checkpoint_is_detected_from_the_unet_layout(tmp_path: Path, unet, architecture) -> None:
    info = detect(tmp_path, unet)
    assert (info.kind, info.architecture) == ("checkpoint", architecture)
    assert "text_encoder" not in info.components
    assert "UNet only" in describe(info)


def test_unet_only_sd1_vs_sd2_by_real_width_when_layout_is_silent() -> None:
    shapes = {f"{UNET}input_blocks.0.0.weight": (320, 4, 3, 3),
              f"{UNET}input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": (320, 1024)}
    assert detect_from_shapes(shapes).architecture == "sd2"


def test_instruct_pix2pix_is_named_as_unsupported(tmp_path: Path) -> None:
    info = detect(tmp_path, {**SD1_TEXT, **tiny_unet(in_channels=8)})
    assert not info.supported and "InstructPix2Pix" in info.reason


@pytest.mark.parametrize("key, title", [
    ("model.diffusion_model.joint_blocks.0.context_block.attn.qkv.weight", "SD3"),
    ("double_blocks.0.img_attn.qkv.weight", "Flux"),
    ("model.diffusion_model.single_blocks.0.linear1.weight", "Flux"),
    ("clip_txt_mapper.weight", "Stable Cascade"),
    ("y_embedder.y_proj.fc1.weight", "PixArt"),
])
def test_other_model_families_are_unsupported_with_their_name(tmp_path: Path, key: str, title: str) -> None:
    info = detect(tmp_path, {key: (4, 4), "other.weight": (2,)})
    assert not info.supported
    assert info.reason == f"Easel does not support {title} models yet."
    assert describe(info) == f"Not usable: {info.reason}"


# ---------------------------------------------------------------- LoRAs

KOHYA_TO_K = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k"


def kohya(name: str, rank: int, width: int) -> dict[str, tuple[int, ...]]:
    return {f"{name}.lora_down.weight": (rank, width), f"{name}.lora_up.weight": (320, rank), f"{name}.alpha": ()}


@pytest.mark.parametrize("width, architecture", [(768, "sd1"), (1024, "sd2"), (2048, "sdxl")])
def test_kohya_lora_architecture_from_cross_attention_width(tmp_path: Path, width: int, architecture: str) -> None:
    info = detect(tmp_path, kohya(KOHYA_TO_K, 4, width))
    assert (info.kind, info.architecture, info.supported) == ("lora", architecture, True)


def test_kohya_lora_with_two_text_encoders_is_sdxl(tmp_path: Path) -> None:
    shapes = {**kohya("lora_te1_text_model_encoder_layers_0_self_attn_k_proj", 4, 8),
              **kohya("lora_te2_text_model_encoder_layers_0_self_attn_k_proj", 4, 8)}
    assert detect(tmp_path, shapes).architecture == "sdxl"


def test_text_encoder_only_lora_uses_the_text_width(tmp_path: Path) -> None:
    info = detect(tmp_path, kohya("lora_te_text_model_encoder_layers_0_self_attn_k_proj", 4, 1024))
    assert (info.kind, info.architecture) == ("lora", "sd2")


def test_sgm_style_kohya_names_are_a_lora(tmp_path: Path) -> None:
    info = detect(tmp_path, kohya("lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k", 8, 2048))
    assert (info.kind, info.architecture) == ("lora", "sdxl")


def test_lycoris_loha_width_from_hada_weights(tmp_path: Path) -> None:
    base = KOHYA_TO_K
    shapes = {f"{base}.hada_w1_a": (320, 4), f"{base}.hada_w1_b": (4, 768),
              f"{base}.hada_w2_a": (320, 4), f"{base}.hada_w2_b": (4, 768), f"{base}.alpha": ()}
    assert detect(tmp_path, shapes).architecture == "sd1"


def test_lycoris_lokr_is_a_lora(tmp_path: Path) -> None:
    shapes = {"lora_unet_down_blocks_0_attentions_0_proj_in.lokr_w1": (4, 4),
              "lora_unet_down_blocks_0_attentions_0_proj_in.lokr_w2": (80, 80)}
    assert detect(tmp_path, shapes).kind == "lora"


@pytest.mark.parametrize("shapes, architecture", [
    ({"unet.down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.lora_A.weight": (4, 768),
      "unet.down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.lora_B.weight": (640, 4)}, "sd1"),
    ({"unet.down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.lora.down.weight": (4, 1024),
      "unet.down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.lora.up.weight": (640, 4)}, "sd2"),
    ({"down_blocks.1.attentions.0.transformer_blocks.0.attn2.processor.to_k_lora.down.weight": (4, 768),
      "down_blocks.1.attentions.0.transformer_blocks.0.attn2.processor.to_k_lora.up.weight": (640, 4)}, "sd1"),
    ({"text_encoder.text_model.encoder.layers.0.self_attn.k_proj.lora_A.weight": (4, 8),
      "text_encoder_2.text_model.encoder.layers.0.self_attn.k_proj.lora_A.weight": (4, 8)}, "sdxl"),
])
def test_diffusers_and_peft_loras(tmp_path: Path, shapes, architecture: str) -> None:
    info = detect(tmp_path, shapes)
    assert (info.kind, info.architecture) == ("lora", architecture)


def test_flux_lora_is_an_unsupported_lora(tmp_path: Path) -> None:
    info = detect(tmp_path, kohya("lora_unet_double_blocks_0_img_attn_qkv", 4, 3072))
    assert (info.kind, info.supported) == ("lora", False)
    assert "Flux" in info.reason


# ---------------------------------------------------------------- VAE, ControlNet, embeddings, upscalers

@pytest.mark.parametrize("prefix", ["", "first_stage_model."])
def test_ldm_vae_with_or_without_prefix(tmp_path: Path, prefix: str) -> None:
    shapes = {name.replace("first_stage_model.", prefix): shape for name, shape in VAE.items()}
    assert detect(tmp_path, shapes).kind == "vae"


def test_diffusers_vae(tmp_path: Path) -> None:
    shapes = {"encoder.conv_in.weight": (8, 3, 3, 3), "encoder.down_blocks.0.resnets.0.conv1.weight": (8, 8, 3, 3),
              "decoder.conv_in.weight": (8, 4, 3, 3), "decoder.conv_out.weight": (3, 8, 3, 3)}
    info = detect(tmp_path, shapes)
    assert (info.kind, info.supported, describe(info)) == ("vae", True, "VAE")


def test_sixteen_channel_vae_is_unsupported(tmp_path: Path) -> None:
    shapes = {"encoder.conv_in.weight": (8, 3, 3, 3), "decoder.conv_in.weight": (8, 16, 3, 3),
              "decoder.conv_out.weight": (3, 8, 3, 3)}
    info = detect(tmp_path, shapes)
    assert (info.kind, info.supported) == ("vae", False) and "SD3/Flux" in info.reason


@pytest.mark.parametrize("extra, architecture", [
    ({"control_model.input_blocks.1.1.proj_in.weight": (32, 32, 1, 1)}, "sd1"),
    ({"control_model.input_blocks.1.1.proj_in.weight": (32, 32)}, "sd2"),
    ({"control_model.label_emb.0.0.weight": (64, 64)}, "sdxl"),
])
def test_ldm_controlnet(tmp_path: Path, extra, architecture: str) -> None:
    shapes = {"control_model.input_hint_block.0.weight": (16, 3, 3, 3),
              "control_model.input_blocks.0.0.weight": (32, 4, 3, 3), **extra}
    info = detect(tmp_path, shapes)
    assert (info.kind, info.architecture) == ("controlnet", architecture)


@pytest.mark.parametrize("extra, architecture", [
    ({"down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight": (640, 768)}, "sd1"),
    ({"add_embedding.linear_1.weight": (1280, 2816)}, "sdxl"),
])
def test_diffusers_controlnet(tmp_path: Path, extra, architecture: str) -> None:
    shapes = {"controlnet_cond_embedding.conv_in.weight": (16, 3, 3, 3), "conv_in.weight": (32, 4, 3, 3),
              "time_embedding.linear_1.weight": (8, 8), **extra}
    assert detect(tmp_path, shapes) == ModelInfo("controlnet", architecture)


@pytest.mark.parametrize("shapes, architecture", [
    ({"emb_params": (2, 768)}, "sd1"),
    ({"emb_params": (3, 1024)}, "sd2"),
    ({"clip_l": (2, 768), "clip_g": (2, 1280)}, "sdxl"),
])
def test_safetensors_embeddings(tmp_path: Path, shapes, architecture: str) -> None:
    assert detect(tmp_path, shapes) == ModelInfo("embedding", architecture)


def test_a1111_pt_embedding_opens_safely_and_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "style.pt"
    torch.save({"string_to_token": {"*": torch.tensor(265)}, "string_to_param": {"*": torch.zeros(4, 768)},
                "name": "style", "step": 1000, "sd_checkpoint": "abc", "sd_checkpoint_name": "v1-5"}, path)
    assert detect_model(path) == ModelInfo("embedding", "sd1")


def test_real_esrgan_pth_is_an_upscaler_via_spandrel(tmp_path: Path) -> None:
    path = tmp_path / "RealESRGAN_x4plus.pth"
    keys = ["conv_first.weight", "body.0.rdb1.conv1.weight", "conv_body.weight", "conv_last.weight"]
    torch.save({"params_ema": {key: torch.zeros(4, 3, 3, 3) for key in keys}}, path)
    info = detect_model(path)
    assert (info.kind, info.architecture, describe(info)) == ("upscaler", "ESRGAN", "Upscaler (ESRGAN)")


def test_old_esrgan_safetensors_is_an_upscaler(tmp_path: Path) -> None:
    info = detect(tmp_path, {"model.0.weight": (8, 3, 3, 3), "model.1.sub.0.RDB1.conv1.0.weight": (8, 8, 3, 3)})
    assert (info.kind, info.architecture) == ("upscaler", "ESRGAN")


def test_unrecognised_tensors_are_unknown_with_a_reason(tmp_path: Path) -> None:
    info = detect(tmp_path, {"encoder.layer.0.weight": (8, 8), "classifier.bias": (3,)})
    assert (info.kind, info.supported) == ("unknown", False)
    assert "could not tell what kind of model" in info.reason


def test_describe_reads_like_a_label() -> None:
    assert describe(ModelInfo("lora", "sdxl")) == "LoRA for SDXL"
    assert describe(ModelInfo("checkpoint", "sd2-v", prediction="v_prediction",
                              components=frozenset({"unet", "text_encoder"}))) == \
        "SD 2.x (768, v-prediction) checkpoint"


def test_an_inpainting_model_spandrel_knows_is_listed_but_not_offered_as_an_upscaler() -> None:
    from spandrel.architectures.LaMa import LaMa

    with torch.device("meta"):
        shapes = {name: tuple(tensor.shape) for name, tensor in LaMa().state_dict().items()}
    info = detect_from_shapes(shapes)
    assert (info.kind, info.architecture, info.supported) == ("upscaler", "LaMa", False)
    assert "inpainting model, not an upscaler" in info.reason

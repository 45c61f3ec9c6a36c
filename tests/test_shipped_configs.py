"""The diffusers config folders in resources/configs/ describe the real reference architectures and load offline.

Models are built on the meta device (no memory, no weights), so the parameter
counts below are checked against the published sizes in a second or two.
"""

from __future__ import annotations

import json
from pathlib import Path

import accelerate
import diffusers
import pytest
import torch
from diffusers import (
    AutoencoderKL,
    DiffusionPipeline,
    StableDiffusionPipeline,
    StableDiffusionXLPipeline,
    UNet2DConditionModel,
)
from diffusers.loaders.single_file_utils import DIFFUSERS_DEFAULT_PIPELINE_PATHS
from safetensors.torch import save_file
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

from core.paths import resources_dir
from core.tokenizer import BANG_PAD, load_clip_tokenizer

CONFIGS = resources_dir() / "configs"

SD_VAE = 83_653_863
CLIP_L = 123_060_480
OPEN_CLIP_H_23_LAYERS = 340_387_840  # SD2 uses the penultimate layer: the last one is dropped
OPEN_CLIP_BIGG = 694_659_840
SD15_UNET = 859_520_964
SD2_UNET = 865_910_724
SDXL_UNET = 2_567_463_684
SDXL_REFINER_UNET = 2_259_526_660
INPAINT_EXTRA = 5 * 320 * 3 * 3  # conv_in gains 5 input channels (mask + masked-image latents)

EXPECTED_PARAMETERS = {
    "sd1": {"unet": SD15_UNET, "vae": SD_VAE, "text_encoder": CLIP_L},
    "sd1-inpaint": {"unet": SD15_UNET + INPAINT_EXTRA, "vae": SD_VAE, "text_encoder": CLIP_L},
    "sd2": {"unet": SD2_UNET, "vae": SD_VAE, "text_encoder": OPEN_CLIP_H_23_LAYERS},
    "sd2-v": {"unet": SD2_UNET, "vae": SD_VAE, "text_encoder": OPEN_CLIP_H_23_LAYERS},
    "sd2-inpaint": {"unet": SD2_UNET + INPAINT_EXTRA, "vae": SD_VAE, "text_encoder": OPEN_CLIP_H_23_LAYERS},
    "sdxl": {"unet": SDXL_UNET, "vae": SD_VAE, "text_encoder": CLIP_L, "text_encoder_2": OPEN_CLIP_BIGG},
    "sdxl-inpaint": {
        "unet": SDXL_UNET + INPAINT_EXTRA,
        "vae": SD_VAE,
        "text_encoder": CLIP_L,
        "text_encoder_2": OPEN_CLIP_BIGG,
    },
    "sdxl-refiner": {"unet": SDXL_REFINER_UNET, "vae": SD_VAE, "text_encoder_2": OPEN_CLIP_BIGG},
}
FAMILIES = sorted(EXPECTED_PARAMETERS)

# diffusers' own name for each architecture -> our folder and the hub repo it stands in for.
DIFFUSERS_MODEL_TYPES = {
    "v1": ("sd1", "stable-diffusion-v1-5/stable-diffusion-v1-5"),
    "inpainting": ("sd1-inpaint", "stable-diffusion-v1-5/stable-diffusion-inpainting"),
    "v2": ("sd2-v", "stabilityai/stable-diffusion-2-1"),
    "inpainting_v2": ("sd2-inpaint", "stabilityai/stable-diffusion-2-inpainting"),
    "xl_base": ("sdxl", "stabilityai/stable-diffusion-xl-base-1.0"),
    "xl_inpaint": ("sdxl-inpaint", "diffusers/stable-diffusion-xl-1.0-inpainting-0.1"),
    "xl_refiner": ("sdxl-refiner", "stabilityai/stable-diffusion-xl-refiner-1.0"),
}


def read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def model_index(family: str) -> dict:
    return read_json(CONFIGS / family / "model_index.json")


def parameter_count(module: torch.nn.Module) -> int:
    return sum(parameter.numel() for parameter in module.parameters())


def empty_text_encoder(family: str, subfolder: str) -> torch.nn.Module:
    config = CLIPTextConfig.from_pretrained(CONFIGS / family, subfolder=subfolder, local_files_only=True)
    model_class = CLIPTextModelWithProjection if subfolder == "text_encoder_2" else CLIPTextModel
    with accelerate.init_empty_weights():
        return model_class(config)


def empty_model(family: str, subfolder: str) -> torch.nn.Module:
    if subfolder.startswith("text_encoder"):
        return empty_text_encoder(family, subfolder)
    model_class = UNet2DConditionModel if subfolder == "unet" else AutoencoderKL
    with accelerate.init_empty_weights():
        return model_class.from_config(model_class.load_config(CONFIGS / family, subfolder=subfolder))


def test_every_family_is_shipped():
    # controlnet-sd1 / controlnet-sdxl are ControlNet configs, checked in test_controlnet.py.
    checkpoints = [path.name for path in CONFIGS.iterdir() if path.is_dir() and not path.name.startswith("controlnet-")]
    assert sorted(checkpoints) == FAMILIES


@pytest.mark.parametrize("model_type", sorted(DIFFUSERS_MODEL_TYPES))
def test_folders_stand_in_for_the_repos_diffusers_expects(model_type):
    family, repo = DIFFUSERS_MODEL_TYPES[model_type]
    assert DIFFUSERS_DEFAULT_PIPELINE_PATHS[model_type]["pretrained_model_name_or_path"] == repo
    assert (CONFIGS / family / "model_index.json").is_file()


@pytest.mark.parametrize("family", FAMILIES)
def test_folder_layout(family):
    folder = CONFIGS / family
    index = model_index(family)
    components = {name for name, value in index.items() if isinstance(value, list) and value[0] is not None}
    for name in components - {"tokenizer", "tokenizer_2", "scheduler"}:
        assert (folder / name / "config.json").is_file(), name
    assert (folder / "scheduler" / "scheduler_config.json").is_file()
    # Easel passes tokenizer objects itself; no weights may ever be shipped here.
    assert not any((folder / name).exists() for name in ("tokenizer", "tokenizer_2"))
    assert all(path.suffix == ".json" for path in folder.rglob("*") if path.is_file())


@pytest.mark.parametrize("family", FAMILIES)
def test_model_index_never_asks_for_safety_checker_or_feature_extractor(family):
    index = model_index(family)
    for optional in ("safety_checker", "feature_extractor", "image_encoder"):
        assert index.get(optional, [None, None]) == [None, None]
    if not family.startswith("sdxl"):
        assert index["requires_safety_checker"] is False


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("component", ["unet", "vae", "text_encoder", "text_encoder_2"])
def test_parameter_counts_match_the_published_models(family, component):
    expected = EXPECTED_PARAMETERS[family].get(component)
    if expected is None:
        assert not (CONFIGS / family / component).exists()
        return
    assert parameter_count(empty_model(family, component)) == expected


@pytest.mark.parametrize(
    ("family", "pipeline", "scheduler", "prediction", "latent_size", "in_channels"),
    [
        ("sd1", "StableDiffusionPipeline", "PNDMScheduler", "epsilon", 64, 4),
        ("sd1-inpaint", "StableDiffusionInpaintPipeline", "DDIMScheduler", "epsilon", 64, 9),
        ("sd2", "StableDiffusionPipeline", "PNDMScheduler", "epsilon", 64, 4),
        ("sd2-v", "StableDiffusionPipeline", "DDIMScheduler", "v_prediction", 96, 4),
        ("sd2-inpaint", "StableDiffusionInpaintPipeline", "PNDMScheduler", "epsilon", 64, 9),
        ("sdxl", "StableDiffusionXLPipeline", "EulerDiscreteScheduler", "epsilon", 128, 4),
        ("sdxl-inpaint", "StableDiffusionXLInpaintPipeline", "EulerDiscreteScheduler", "epsilon", 128, 9),
        ("sdxl-refiner", "StableDiffusionXLImg2ImgPipeline", "EulerDiscreteScheduler", "epsilon", 128, 4),
    ],
)
def test_configs_load_offline_with_the_settings_that_change_images(
    family, pipeline, scheduler, prediction, latent_size, in_channels
):
    folder = CONFIGS / family
    index = DiffusionPipeline.load_config(folder, local_files_only=True)
    unet = UNet2DConditionModel.load_config(folder, subfolder="unet", local_files_only=True)
    scheduler_class = getattr(diffusers, index["scheduler"][1])
    loaded_scheduler = scheduler_class.from_pretrained(folder, subfolder="scheduler", local_files_only=True)

    assert index["_class_name"] == pipeline
    assert type(loaded_scheduler).__name__ == scheduler
    assert loaded_scheduler.config.prediction_type == prediction
    assert loaded_scheduler.config.beta_schedule == "scaled_linear"
    assert unet["sample_size"] == latent_size and unet["in_channels"] == in_channels


def test_sd2_768_upcasts_attention_and_only_it():
    # SD2.x 768-v produces black images in fp16 without attention upcasting.
    unet_configs = {family: read_json(CONFIGS / family / "unet" / "config.json") for family in FAMILIES}
    upcast = {family: bool(config.get("upcast_attention")) for family, config in unet_configs.items()}
    assert [family for family, value in upcast.items() if value] == ["sd2-v"]


@pytest.mark.parametrize("family", ["sdxl", "sdxl-inpaint", "sdxl-refiner"])
def test_sdxl_vae_upcasts_and_uses_the_sdxl_latent_scale(family):
    vae = AutoencoderKL.load_config(CONFIGS / family, subfolder="vae", local_files_only=True)
    assert vae["force_upcast"] is True and vae["scaling_factor"] == 0.13025


@pytest.mark.parametrize("family", ["sd1", "sd1-inpaint", "sd2", "sd2-v", "sd2-inpaint"])
def test_sd_vaes_use_the_sd_latent_scale(family):
    # The SD repos leave scaling_factor out; the class default is the SD1/SD2 latent scale.
    assert empty_model(family, "vae").config.scaling_factor == 0.18215


def test_refiner_conditions_on_aesthetic_score_with_the_second_encoder_only():
    index = model_index("sdxl-refiner")
    assert index["requires_aesthetics_score"] is True
    assert index["text_encoder"] == [None, None] and index["tokenizer"] == [None, None]


@pytest.fixture
def stub_checkpoint(tmp_path: Path) -> Path:
    # from_single_file opens the file before anything else; every model is passed in below.
    path = tmp_path / "stub.safetensors"
    save_file({"model.diffusion_model.input_blocks.0.0.bias": torch.zeros(320)}, str(path))
    return path


def test_sd1_from_single_file_assembles_offline(stub_checkpoint):
    pipe = StableDiffusionPipeline.from_single_file(
        str(stub_checkpoint),
        config=str(CONFIGS / "sd1"),
        local_files_only=True,
        unet=empty_model("sd1", "unet"),
        vae=empty_model("sd1", "vae"),
        text_encoder=empty_model("sd1", "text_encoder"),
        tokenizer=load_clip_tokenizer(),
    )
    assert type(pipe.scheduler).__name__ == "PNDMScheduler"
    assert pipe.safety_checker is None and pipe.feature_extractor is None
    assert pipe.vae_scale_factor == 8


def test_sdxl_from_single_file_assembles_offline(stub_checkpoint):
    pipe = StableDiffusionXLPipeline.from_single_file(
        str(stub_checkpoint),
        config=str(CONFIGS / "sdxl"),
        local_files_only=True,
        unet=empty_model("sdxl", "unet"),
        vae=empty_model("sdxl", "vae"),
        text_encoder=empty_model("sdxl", "text_encoder"),
        text_encoder_2=empty_model("sdxl", "text_encoder_2"),
        tokenizer=load_clip_tokenizer(),
        tokenizer_2=load_clip_tokenizer(pad_token=BANG_PAD),
    )
    assert type(pipe.scheduler).__name__ == "EulerDiscreteScheduler"
    assert pipe.tokenizer.pad_token_id == 49407 and pipe.tokenizer_2.pad_token_id == 0
    assert pipe.config.force_zeros_for_empty_prompt is True

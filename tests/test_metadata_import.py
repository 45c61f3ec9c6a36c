"""Settings read back from images other tools made, saved here in those tools' own shapes."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from core.cli_generate import fields_from_image
from core.cli_info import run_info
from core.errors import EaselError
from core.images import decode_user_comment
from core.metadata import read_generation_metadata
from core.request import GenerationRequest

A1111_TEXT = """\
a lighthouse on a cliff, 杰作, (storm:1.2), <lora:add_detail:0.6>
Negative prompt: blurry,
lowres
Steps: 28, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 2736401836, Size: 512x768, \
Model hash: 7f96a1a9ca, Model: AnythingV5_v5PrtRE, Clip skip: 2, Hires upscale: 2, Hires resize: 1024x1536, \
Lora hashes: "add_detail: 7c6bad76eb54", Version: v1.10.1"""

# ComfyUI's default graph with a LoRA, clip skip and a ControlNet between prompt and sampler.
COMFY_PROMPT = {
    "3": {"class_type": "KSampler", "inputs": {
        "seed": 1125899906842624123, "steps": 24, "cfg": 6.5, "sampler_name": "dpmpp_2m", "scheduler": "karras",
        "denoise": 1.0, "model": ["10", 0], "positive": ["14", 0], "negative": ["14", 1], "latent_image": ["5", 0]}},
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "SD1.5/dreamshaper_8.safetensors"}},
    "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 512, "height": 768, "batch_size": 2}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "beautiful scenery, glass bottle,\npurple galaxy",
                                                     "clip": ["12", 0]}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "text, watermark", "clip": ["12", 0]}},
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
    "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}},
    "10": {"class_type": "LoraLoader", "inputs": {"lora_name": "add_detail.safetensors", "strength_model": 0.6,
                                                  "strength_clip": 0.6, "model": ["4", 0], "clip": ["4", 1]}},
    "12": {"class_type": "CLIPSetLastLayer", "inputs": {"stop_at_clip_layer": -2, "clip": ["10", 1]}},
    "13": {"class_type": "ControlNetLoader", "inputs": {"control_net_name": "control_v11p_sd15_openpose.pth"}},
    "14": {"class_type": "ControlNetApplyAdvanced", "inputs": {
        "strength": 1.0, "start_percent": 0.0, "end_percent": 1.0, "positive": ["6", 0], "negative": ["7", 0],
        "control_net": ["13", 0], "image": ["15", 0]}},
    "15": {"class_type": "LoadImage", "inputs": {"image": "pose.png", "upload": "image"}},
}

# The UI format ComfyUI also writes (`workflow`): widget values by position, links as a table.
COMFY_WORKFLOW = {
    "last_node_id": 7, "last_link_id": 6, "version": 0.4,
    "nodes": [
        {"id": 3, "type": "KSampler", "mode": 0,
         "inputs": [{"name": "model", "type": "MODEL", "link": 1},
                    {"name": "positive", "type": "CONDITIONING", "link": 4},
                    {"name": "negative", "type": "CONDITIONING", "link": 6},
                    {"name": "latent_image", "type": "LATENT", "link": 2}],
         "widgets_values": [42, "fixed", 25, 6.5, "euler_ancestral", "normal", 1]},
        {"id": 4, "type": "CheckpointLoaderSimple", "inputs": [],
         "widgets_values": ["v1-5-pruned-emaonly.safetensors"]},
        {"id": 5, "type": "EmptyLatentImage", "inputs": [], "widgets_values": [640, 448, 1]},
        {"id": 6, "type": "CLIPTextEncode", "inputs": [{"name": "clip", "type": "CLIP", "link": 3}],
         "widgets_values": ["a red fox in snow"]},
        {"id": 7, "type": "CLIPTextEncode", "inputs": [{"name": "clip", "type": "CLIP", "link": 5}],
         "widgets_values": ["blurry"]},
    ],
    "links": [[1, 4, 0, 3, 0, "MODEL"], [2, 5, 0, 3, 3, "LATENT"], [3, 4, 1, 6, 0, "CLIP"],
              [4, 6, 0, 3, 1, "CONDITIONING"], [5, 4, 1, 7, 0, "CLIP"], [6, 7, 0, 3, 2, "CONDITIONING"]],
}

INVOKEAI_4 = {
    "generation_mode": "txt2img", "positive_prompt": "a lighthouse at dusk, dramatic sky",
    "negative_prompt": "blurry, lowres", "width": 768, "height": 512, "seed": 1234567890, "rand_device": "cpu",
    "cfg_scale": 7.5, "cfg_rescale_multiplier": 0, "steps": 30, "scheduler": "dpmpp_2m_k", "clip_skip": 1,
    "model": {"key": "4d9c1f2e-0d4b-4f0a-9d1e-3c2b1a0f9e8d", "hash": "blake3:9f3c0e", "name": "dreamshaper_8",
              "base": "sd-1", "type": "main"},
    "loras": [{"model": {"key": "77aa", "hash": "blake3:11", "name": "add_detail", "base": "sd-1", "type": "lora"},
               "weight": 0.75}],
    "seamless_x": False, "seamless_y": False, "app_version": "4.2.9",
}

INVOKEAI_3 = {
    "app_version": "3.3.0post3", "generation_mode": "txt2img", "positive_prompt": "landscape",
    "negative_prompt": "low quality", "width": 768, "height": 432, "seed": 356120443, "rand_device": "cpu",
    "cfg_scale": 7.5, "steps": 50, "scheduler": "dpmpp_2m_sde_k", "clip_skip": 0,
    "model": {"model_name": "amixx_3Prunedfp16", "base_model": "sd-1", "model_type": "main"},
    "controlnets": [], "ipAdapters": [], "t2iAdapters": [], "loras": [],
    "vae": {"model_name": "sd-vae-ft-mse", "base_model": "sd-1"},
}

# Fooocus 2.3 in its own scheme: sorted keys, seed and resolution as strings.
FOOOCUS = {
    "adm_guidance": "(1.5, 0.8, 0.3)", "base_model": "juggernautXL_v8Rundiffusion", "base_model_hash": "aeb7e9e689",
    "full_negative_prompt": ["(worst quality, low quality:1.4)"],
    "full_prompt": ["cinematic still a cat in a hat . emotional, harmonious", "a cat in a hat, intricate"],
    "guidance_scale": 4, "loras": [["sd_xl_offset_example-lora_1.0", 0.1, "4852686128"]],
    "metadata_scheme": "fooocus", "negative_prompt": "", "performance": "Speed", "prompt": "a cat in a hat",
    "refiner_model": "None", "refiner_switch": 0.5, "resolution": "(1152, 896)", "sampler": "dpmpp_2m_sde_gpu",
    "scheduler": "karras", "seed": "8112926467838165312", "sharpness": 2,
    "steps": 30, "styles": "['Fooocus V2', 'Fooocus Enhance', 'Fooocus Sharp']", "vae": "None",
    "version": "Fooocus v2.3.1",
}

NOVELAI_COMMENT = {
    "prompt": "1girl, solo, silver hair, night sky, best quality, amazing quality", "steps": 28, "height": 1216,
    "width": 832, "scale": 5.0, "uncond_scale": 0.0, "cfg_rescale": 0.0, "seed": 3398512671, "n_samples": 1,
    "hide_debug_overlay": False, "noise_schedule": "karras", "legacy_v3_extend": False,
    "reference_information_extracted_multiple": [], "reference_strength_multiple": [],
    "sampler": "k_euler_ancestral", "controlnet_strength": 1.0, "controlnet_model": None,
    "dynamic_thresholding": False, "sm": False, "sm_dyn": False, "skip_cfg_above_sigma": None,
    "uc": "lowres, bad anatomy, bad hands", "request_type": "PromptGenerateRequest", "signed_hash": "jT0z+Q==",
}


def save_png(path: Path, chunks: dict[str, str], size: tuple[int, int] = (16, 16)) -> Path:
    info = PngInfo()
    for key, value in chunks.items():
        info.add_text(key, value)
    Image.new("RGB", size, "navy").save(path, pnginfo=info)
    return path


def save_with_user_comment(path: Path, comment: bytes | str, exif_ifd: bool = True) -> Path:
    """A JPEG/WebP with an EXIF UserComment: in the Exif IFD as A1111 (piexif) does, or in IFD0 as Fooocus does."""
    exif = Image.Exif()
    if exif_ifd:
        exif[0x8769] = {0x9286: comment}
    else:
        exif[0x9286] = comment
        exif[0x0131] = "Fooocus v2.3.1"
    Image.new("RGB", (16, 16), "olive").save(path, exif=exif)
    return path


def info_output(path: Path, as_json: bool = False) -> str:
    out = io.StringIO()
    assert run_info(argparse.Namespace(image=path, json=as_json), out) == 0
    return out.getvalue()


# --- A1111 ------------------------------------------------------------------------------------------------

def test_a1111_png_maps_onto_request_fields_and_lists_the_rest(tmp_path: Path) -> None:
    found = read_generation_metadata(save_png(tmp_path / "a.png", {"parameters": A1111_TEXT}))
    assert found is not None and found.source == "a1111" and found.raw == A1111_TEXT
    fields = found.request_fields
    assert fields["negative_prompt"] == "blurry,\nlowres"
    assert (fields["sampler"], fields["schedule"]) == ("DPM++ 2M", "Karras")
    assert (fields["cfg_scale"], fields["clip_skip"]) == (6.5, 2)
    assert (fields["width"], fields["height"], fields["seed"]) == (512, 768, 2736401836)
    assert (fields["hires"]["resize_width"], fields["hires"]["resize_height"]) == (1024, 1536)
    assert found.unmapped == {
        "Model hash": "7f96a1a9ca", "Lora hashes": "add_detail: 7c6bad76eb54", "Version": "v1.10.1",
    }


@pytest.mark.parametrize("suffix", [".jpg", ".webp"])
def test_a1111_jpeg_and_webp_exif_user_comment_in_utf16(tmp_path: Path, suffix: str) -> None:
    comment = b"UNICODE\0" + A1111_TEXT.encode("utf-16-be")  # what A1111 writes through piexif
    found = read_generation_metadata(save_with_user_comment(tmp_path / f"a{suffix}", comment))
    assert found is not None and found.source == "a1111" and found.raw == A1111_TEXT
    assert found.request_fields["prompt"].startswith("a lighthouse on a cliff, 杰作")


@pytest.mark.parametrize(
    "comment",
    [
        b"UNICODE\0" + "cat, 猫".encode("utf-16-le"),
        b"ASCII\0\0\0cat, \xe7\x8c\xab",
        "cat, 猫",
        b"\0" * 8 + "cat, 猫".encode(),
    ],
)
def test_user_comment_charsets_and_byte_orders(comment: bytes | str) -> None:
    assert decode_user_comment(comment) == "cat, 猫"


# --- ComfyUI ----------------------------------------------------------------------------------------------

def test_comfyui_api_prompt_follows_the_wires_from_the_ksampler(tmp_path: Path) -> None:
    path = save_png(tmp_path / "c.png", {"prompt": json.dumps(COMFY_PROMPT), "workflow": json.dumps(COMFY_WORKFLOW)})
    found = read_generation_metadata(path)
    assert found is not None and found.source == "comfyui"
    assert found.request_fields == {
        "seed": 1125899906842624123, "steps": 24, "cfg_scale": 6.5, "sampler": "DPM++ 2M", "schedule": "Karras",
        "prompt": "beautiful scenery, glass bottle,\npurple galaxy", "negative_prompt": "text, watermark",
        "clip_skip": 2, "model": "SD1.5/dreamshaper_8.safetensors", "width": 512, "height": 768, "batch_size": 2,
    }
    assert found.unmapped["loras"] == [
        {"lora_name": "add_detail.safetensors", "strength_model": 0.6, "strength_clip": 0.6}
    ]
    assert found.unmapped["nodes"] == ["ControlNetApplyAdvanced", "ControlNetLoader", "LoadImage"]
    GenerationRequest(**found.request_fields)


def test_comfyui_workflow_alone_is_read_from_widget_values(tmp_path: Path) -> None:
    found = read_generation_metadata(save_png(tmp_path / "w.png", {"workflow": json.dumps(COMFY_WORKFLOW)}))
    assert found is not None and found.source == "comfyui"
    assert found.request_fields == {
        "seed": 42, "steps": 25, "cfg_scale": 6.5, "sampler": "Euler a", "schedule": "Uniform",
        "prompt": "a red fox in snow", "negative_prompt": "blurry", "model": "v1-5-pruned-emaonly.safetensors",
        "width": 640, "height": 448, "batch_size": 1,
    }


def test_comfyui_hires_pass_and_unknown_scheduler_are_reported(tmp_path: Path) -> None:
    graph = json.loads(json.dumps(COMFY_PROMPT))
    graph["3"]["inputs"].update(sampler_name="euler_ancestral", scheduler="simple")
    graph["20"] = {"class_type": "LatentUpscaleBy", "inputs": {"samples": ["3", 0], "scale_by": 1.5,
                                                                "upscale_method": "nearest-exact"}}
    graph["21"] = {"class_type": "KSampler", "inputs": {**graph["3"]["inputs"], "denoise": 0.5,
                                                         "latent_image": ["20", 0], "sampler_name": "dpmpp_3m_sde"}}
    found = read_generation_metadata(save_png(tmp_path / "h.png", {"prompt": json.dumps(graph)}))
    assert found is not None
    assert found.request_fields["sampler"] == "Euler a" and "schedule" not in found.request_fields
    assert found.unmapped["scheduler"] == "simple"
    assert found.unmapped["other_samplers"][0]["denoise"] == 0.5
    assert "LatentUpscaleBy" in found.unmapped["nodes"]


# --- InvokeAI, Fooocus, NovelAI ----------------------------------------------------------------------------

def test_invokeai_4_metadata(tmp_path: Path) -> None:
    path = save_png(tmp_path / "i.png", {"invokeai_metadata": json.dumps(INVOKEAI_4), "invokeai_graph": "{}"})
    found = read_generation_metadata(path)
    assert found is not None and found.source == "invokeai"
    assert found.request_fields == {
        "prompt": "a lighthouse at dusk, dramatic sky", "negative_prompt": "blurry, lowres", "steps": 30,
        "cfg_scale": 7.5, "seed": 1234567890, "width": 768, "height": 512, "sampler": "DPM++ 2M",
        "schedule": "Karras", "model": "dreamshaper_8", "clip_skip": 2,
    }
    assert found.unmapped["loras"][0]["weight"] == 0.75 and found.unmapped["model"]["base"] == "sd-1"
    assert "positive_prompt" not in found.unmapped


def test_invokeai_3_metadata_with_its_older_model_shape(tmp_path: Path) -> None:
    found = read_generation_metadata(save_png(tmp_path / "i3.png", {"invokeai_metadata": json.dumps(INVOKEAI_3)}))
    assert found is not None
    fields = found.request_fields
    assert (fields["model"], fields["sampler"], fields["schedule"], fields["clip_skip"]) == (
        "amixx_3Prunedfp16", "DPM++ 2M SDE", "Karras", 1)
    assert found.unmapped["vae"] == {"model_name": "sd-vae-ft-mse", "base_model": "sd-1"}
    assert "controlnets" not in found.unmapped  # empty lists say nothing


def test_fooocus_png_parameters_json(tmp_path: Path) -> None:
    path = save_png(tmp_path / "f.png", {"parameters": json.dumps(FOOOCUS), "fooocus_scheme": "fooocus"})
    found = read_generation_metadata(path)
    assert found is not None and found.source == "fooocus"
    assert found.request_fields == {
        "prompt": "a cat in a hat", "negative_prompt": "", "steps": 30, "cfg_scale": 4.0,
        "seed": 8112926467838165312, "sampler": "DPM++ 2M SDE", "schedule": "Karras", "width": 1152,
        "height": 896, "model": "juggernautXL_v8Rundiffusion",
    }
    assert found.unmapped["styles"] == "['Fooocus V2', 'Fooocus Enhance', 'Fooocus Sharp']"
    assert "refiner_model" not in found.unmapped and "vae" not in found.unmapped


def test_fooocus_jpeg_writes_its_json_in_ifd0(tmp_path: Path) -> None:
    found = read_generation_metadata(save_with_user_comment(tmp_path / "f.jpg", json.dumps(FOOOCUS), exif_ifd=False))
    assert found is not None and found.source == "fooocus" and found.request_fields["seed"] == 8112926467838165312


def test_novelai_png(tmp_path: Path) -> None:
    chunks = {
        "Title": "AI generated image", "Description": NOVELAI_COMMENT["prompt"], "Software": "NovelAI",
        "Source": "NovelAI Diffusion V3 7BCCAA2C", "Generation time": "5.2", "Comment": json.dumps(NOVELAI_COMMENT),
    }
    found = read_generation_metadata(save_png(tmp_path / "n.png", chunks))
    assert found is not None and found.source == "novelai"
    assert found.request_fields == {
        "prompt": NOVELAI_COMMENT["prompt"], "negative_prompt": "lowres, bad anatomy, bad hands", "steps": 28,
        "cfg_scale": 5.0, "seed": 3398512671, "width": 832, "height": 1216, "batch_size": 1,
        "sampler": "Euler a", "schedule": "Karras",
    }
    assert found.unmapped["model"] == "NovelAI Diffusion V3 7BCCAA2C"


def test_novelai_4_prompts_nested_in_captions(tmp_path: Path) -> None:
    comment = {"v4_prompt": {"caption": {"base_caption": "a fox", "char_captions": []}, "use_order": True},
               "v4_negative_prompt": {"caption": {"base_caption": "blurry", "char_captions": []}},
               "steps": 23, "scale": 6, "seed": 5, "width": 832, "height": 1216, "sampler": "k_dpmpp_2m_sde",
               "noise_schedule": "polyexponential"}
    found = read_generation_metadata(save_png(tmp_path / "n4.png", {"Software": "NovelAI",
                                                                  "Comment": json.dumps(comment)}))
    assert found is not None
    assert (found.request_fields["prompt"], found.request_fields["negative_prompt"]) == ("a fox", "blurry")
    assert found.request_fields["sampler"] == "DPM++ 2M SDE" and found.unmapped["scheduler"] == "polyexponential"


# --- no metadata, and the commands that use it -------------------------------------------------------------

def test_an_image_without_settings_gives_none_and_a_broken_file_an_error(tmp_path: Path) -> None:
    assert read_generation_metadata(save_png(tmp_path / "plain.png", {"Software": "GIMP"})) is None
    Image.new("RGB", (8, 8)).save(tmp_path / "plain.jpg")
    assert read_generation_metadata(tmp_path / "plain.jpg") is None
    (tmp_path / "broken.png").write_bytes(b"<html>404</html>")
    with pytest.raises(EaselError, match="Cannot read the image broken.png"):
        read_generation_metadata(tmp_path / "broken.png")


def test_info_names_the_tool_and_lists_what_easel_uses(tmp_path: Path) -> None:
    text = info_output(save_png(tmp_path / "c.png", {"prompt": json.dumps(COMFY_PROMPT)}))
    assert text.startswith("Made with ComfyUI.")
    assert "  sampler: DPM++ 2M" in text and "Recorded but not used by Easel:" in text
    assert "add_detail.safetensors" in text
    payload = json.loads(info_output(tmp_path / "c.png", as_json=True))
    assert payload["source"] == "comfyui" and payload["request_fields"]["steps"] == 24
    assert payload["unmapped"]["nodes"] == ["ControlNetApplyAdvanced", "ControlNetLoader", "LoadImage"]
    assert payload["prompt"] == "beautiful scenery, glass bottle,\npurple galaxy" and payload["parameters"] is None


def test_info_prints_a1111_text_as_stored_even_from_a_jpeg(tmp_path: Path) -> None:
    path = save_with_user_comment(tmp_path / "a.jpg", b"UNICODE\0" + A1111_TEXT.encode("utf-16-be"))
    assert info_output(path) == A1111_TEXT + "\n"
    payload = json.loads(info_output(path, as_json=True))
    assert payload["source"] == "a1111" and payload["settings"]["Lora hashes"] == "add_detail: 7c6bad76eb54"
    assert payload["request_fields"]["hires"]["resize_width"] == 1024


@pytest.mark.parametrize(
    ("name", "chunks"),
    [
        ("invokeai.png", {"invokeai_metadata": json.dumps(INVOKEAI_4)}),
        ("fooocus.png", {"parameters": json.dumps(FOOOCUS)}),
        ("novelai.png", {"Software": "NovelAI", "Comment": json.dumps(NOVELAI_COMMENT)}),
        ("comfyui.png", {"prompt": json.dumps(COMFY_PROMPT)}),
    ],
)
def test_generate_from_image_accepts_every_tool(tmp_path: Path, name: str, chunks: dict[str, str]) -> None:
    fields = fields_from_image(save_png(tmp_path / name, chunks))
    request = GenerationRequest.from_json_dict({"model": "m", **fields})
    assert request.prompt and request.steps == fields["steps"] and request.sampler == fields["sampler"]


def test_generate_from_image_prefers_easels_own_request(tmp_path: Path) -> None:
    own = GenerationRequest(model="mine", prompt="exact", steps=3, seed=9).to_json_dict()
    path = save_png(tmp_path / "e.png", {"parameters": A1111_TEXT, "easel": json.dumps(own)})
    assert fields_from_image(path) == own


def test_comfyui_workflow_with_link_objects_and_a_sdxl_encoder(tmp_path: Path) -> None:
    workflow = json.loads(json.dumps(COMFY_WORKFLOW))
    workflow["links"] = [
        {"id": row[0], "origin_id": row[1], "origin_slot": row[2], "target_id": row[3], "target_slot": row[4],
         "type": row[5]} for row in workflow["links"]
    ]
    found = read_generation_metadata(save_png(tmp_path / "w1.png", {"workflow": json.dumps(workflow)}))
    assert found is not None and found.request_fields["prompt"] == "a red fox in snow"
    graph = json.loads(json.dumps(COMFY_PROMPT))
    graph["6"] = {"class_type": "CLIPTextEncodeSDXL", "inputs": {"text_g": "a castle", "text_l": "a castle",
                                                                 "clip": ["4", 1]}}
    graph["99"] = {"class_type": "Note"}  # no inputs at all
    found = read_generation_metadata(save_png(tmp_path / "xl.png", {"prompt": json.dumps(graph)}))
    assert found is not None and found.request_fields["prompt"] == "a castle"


def test_a_graph_easel_cannot_read_is_explained_not_guessed(tmp_path: Path) -> None:
    flux = {
        "13": {"class_type": "SamplerCustomAdvanced", "inputs": {"noise": ["25", 0], "guider": ["22", 0]}},
        "25": {"class_type": "RandomNoise", "inputs": {"noise_seed": 7}},
        "22": {"class_type": "BasicGuider", "inputs": {"model": ["12", 0], "conditioning": ["6", 0]}},
        "12": {"class_type": "UNETLoader", "inputs": {"unet_name": "flux1-dev.safetensors"}},
    }
    path = save_png(tmp_path / "flux.png", {"prompt": json.dumps(flux)})
    text = info_output(path)
    assert text.startswith("Made with ComfyUI. No settings Easel can use.") and "SamplerCustomAdvanced" in text
    with pytest.raises(EaselError, match="none that Easel can use"):
        fields_from_image(path)

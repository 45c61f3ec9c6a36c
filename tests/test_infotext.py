"""A1111 infotext written and read the way A1111 does, on real-world shaped examples."""

from __future__ import annotations

import pytest

from core import infotext
from core.infotext import (
    format_infotext,
    infotext_for_request,
    parse_infotext,
    quote_value,
    request_fields_from_infotext,
)
from core.request import GenerationRequest, Mode

A1111_HIRES_LORA = """\
masterpiece, best quality, 1girl, solo, long hair, looking at viewer, smile, (detailed eyes:1.2), <lora:add_detail:0.6>
Negative prompt: (worst quality, low quality:1.4), easynegative, bad-hands-5
Steps: 28, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 2736401836, Size: 512x768, \
Model hash: 7f96a1a9ca, Model: AnythingV5_v5PrtRE, Denoising strength: 0.45, Clip skip: 2, Hires upscale: 2, \
Hires steps: 15, Hires upscaler: R-ESRGAN 4x+ Anime6B, Lora hashes: "add_detail: 7c6bad76eb54", \
TI hashes: "easynegative: c74b4e810b03, bad-hands-5: aa7651be154c", Version: v1.10.1"""

A1111_OLD_COMBINED_SAMPLER = """\
a photograph of an astronaut riding a horse
Steps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 618633303, Size: 512x512, \
Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Version: v1.2.1"""

MULTILINE_CHINESE = """\
杰作, 最高质量, 一个女孩
(red dress:1.3), city at night: neon, rain
BREAK
cinematic lighting
Negative prompt: 低质量, 模糊
nsfw, watermark
Steps: 30, Sampler: Euler a, CFG scale: 6.5, Seed: 12345, Size: 768x512, Model hash: 31e35c80fc, \
Model: sd_xl_base_1.0, Version: v1.6.0"""


def test_a1111_infotext_with_hires_and_lora_hashes_parses() -> None:
    parsed = parse_infotext(A1111_HIRES_LORA)
    assert parsed.prompt.endswith("(detailed eyes:1.2), <lora:add_detail:0.6>")
    assert parsed.negative_prompt == "(worst quality, low quality:1.4), easynegative, bad-hands-5"
    assert parsed.params["Lora hashes"] == "add_detail: 7c6bad76eb54"
    assert parsed.params["TI hashes"] == "easynegative: c74b4e810b03, bad-hands-5: aa7651be154c"
    assert parsed.params["Hires upscaler"] == "R-ESRGAN 4x+ Anime6B"
    assert parsed.params["Size"] == "512x768"
    assert (parsed.params["Size-1"], parsed.params["Size-2"]) == ("512", "768")
    assert parsed.params["Version"] == "v1.10.1"


def test_a1111_infotext_maps_to_request_fields() -> None:
    fields = request_fields_from_infotext(parse_infotext(A1111_HIRES_LORA))
    assert fields["sampler"] == "DPM++ 2M" and fields["schedule"] == "Karras"
    assert fields["steps"] == 28 and fields["cfg_scale"] == 7.0 and fields["seed"] == 2736401836
    assert (fields["width"], fields["height"]) == (512, 768)
    assert fields["clip_skip"] == 2 and fields["denoising_strength"] == 0.45
    assert fields["model"] == "AnythingV5_v5PrtRE"
    GenerationRequest(**fields)  # every key is a request field


def test_old_combined_sampler_name_is_split() -> None:
    fields = request_fields_from_infotext(parse_infotext(A1111_OLD_COMBINED_SAMPLER))
    assert (fields["sampler"], fields["schedule"]) == ("DPM++ 2M", "Karras")


@pytest.mark.parametrize(("version", "schedule"), [("v1.7.0", "Uniform"), ("v1.10.1", "Automatic")])
def test_dpm_2m_without_schedule_type_runs_what_that_a1111_version_ran(version: str, schedule: str) -> None:
    text = f"cat\nSteps: 20, Sampler: DPM++ 2M, CFG scale: 7, Seed: 1, Size: 512x512, Version: {version}"
    assert request_fields_from_infotext(parse_infotext(text))["schedule"] == schedule


def test_missing_clip_skip_means_one_and_windows_line_ends_parse() -> None:
    text = "cat\r\nNegative prompt: dog\r\nSteps: 20, Sampler: Euler, CFG scale: 7, Seed: 1, Size: 512x512"
    parsed = parse_infotext(text)
    fields = request_fields_from_infotext(parsed)
    assert (parsed.prompt, parsed.negative_prompt) == ("cat", "dog")
    assert fields["clip_skip"] == 1 and fields["sampler"] == "Euler"
    assert "clip_skip" not in request_fields_from_infotext(parse_infotext("just a prompt"))


def test_multiline_chinese_prompts_with_colons_and_commas_parse() -> None:
    parsed = parse_infotext(MULTILINE_CHINESE)
    assert parsed.prompt == (
        "杰作, 最高质量, 一个女孩\n(red dress:1.3), city at night: neon, rain\nBREAK\ncinematic lighting"
    )
    assert parsed.negative_prompt == "低质量, 模糊\nnsfw, watermark"
    assert parsed.params["CFG scale"] == "6.5"
    assert (parsed.params["Size-1"], parsed.params["Size-2"]) == ("768", "512")


def test_last_line_with_fewer_than_three_pairs_is_prompt_text() -> None:
    parsed = parse_infotext("portrait of a knight\nstyle: oil painting, mood: dark")
    assert parsed.prompt == "portrait of a knight\nstyle: oil painting, mood: dark"
    assert parsed.params == {}


def test_prompt_only_text_has_no_parameters() -> None:
    parsed = parse_infotext("a red fox in snow")
    assert (parsed.prompt, parsed.negative_prompt, parsed.params) == ("a red fox in snow", "", {})


def test_quoted_values_are_json_unescaped() -> None:
    text = 'x\nSteps: 1, Seed: 2, Wildcard prompt: "a \\"quoted\\" word, then: more", Size: 64x64'
    assert parse_infotext(text).params["Wildcard prompt"] == 'a "quoted" word, then: more'


def test_values_that_would_break_the_line_are_quoted() -> None:
    assert quote_value("a: 1, b: 2") == '"a: 1, b: 2"'
    assert quote_value('say "hi"') == '"say \\"hi\\""'
    assert quote_value("Euler a") == "Euler a"
    assert quote_value(7.0) == "7" and quote_value(6.5) == "6.5"


def test_format_infotext_keeps_order_and_skips_none() -> None:
    text = format_infotext("p", "", {"Steps": 20, "Sampler": "Euler", "Hypernet": None, "CFG scale": 7.5})
    assert text == "p\nSteps: 20, Sampler: Euler, CFG scale: 7.5"


@pytest.mark.parametrize(
    ("prompt", "negative"),
    [
        ("a, b: c", ""),
        ("line one\nline two: (x:1.2)", "neg one\nneg two, bad"),
        ("汉字提示词，带冒号：是的", "低质量"),
        ('quote " inside', "Negative: fake label"),
    ],
)
def test_format_then_parse_round_trips(prompt: str, negative: str) -> None:
    params = {"Steps": 20, "Sampler": "DPM++ 2M", "Seed": 5, "Lora hashes": "a: 7c6bad76eb54, b: 0123456789ab"}
    parsed = parse_infotext(format_infotext(prompt, negative, params))
    assert (parsed.prompt, parsed.negative_prompt) == (prompt, negative)
    assert {key: parsed.params[key] for key in params} == {key: str(value) for key, value in params.items()}


def test_infotext_for_request_writes_a1111_fields_in_order() -> None:
    request = GenerationRequest(
        model="models/dreamshaper_8.safetensors",
        prompt="a cozy cabin, snow",
        negative_prompt="blurry",
        mode=Mode.IMG2IMG,
        steps=25,
        cfg_scale=7.0,
        sampler="DPM++ 2M Karras",
        width=512,
        height=768,
        clip_skip=2,
        denoising_strength=0.6,
        vae="vae-ft-mse-840000-ema-pruned.safetensors",
    )
    text = infotext_for_request(
        request, seed=42, model_name="dreamshaper_8", model_hash="879db523c3",
        extra={"Lora hashes": "film: 0123456789ab"}, vae_hash="735e4c3a44",
    )
    assert text == (
        "a cozy cabin, snow\nNegative prompt: blurry\n"
        "Steps: 25, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 42, Size: 512x768, "
        "Model hash: 879db523c3, Model: dreamshaper_8, VAE hash: 735e4c3a44, "
        "VAE: vae-ft-mse-840000-ema-pruned.safetensors, Denoising strength: 0.6, Clip skip: 2, "
        'Lora hashes: "film: 0123456789ab", Version: Easel 0.1.0'
    )


def test_txt2img_infotext_omits_img2img_and_default_fields() -> None:
    request = GenerationRequest(model="m.safetensors", prompt="cat", sampler="Euler a")
    text = infotext_for_request(request, seed=7, model_name="m", model_hash="abcdef0123")
    assert text == (
        "cat\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 7, Size: 512x512, "
        "Model hash: abcdef0123, Model: m, Version: Easel 0.1.0"
    )


def test_request_round_trips_through_infotext() -> None:
    request = GenerationRequest(
        model="m", prompt="a: b, c\nsecond line", negative_prompt="x, y", steps=33, cfg_scale=5.5,
        sampler="Euler", schedule="Exponential", seed=99, width=640, height=384, clip_skip=2,
    )
    text = infotext_for_request(request, seed=99, model_name="m", model_hash=None)
    fields = request_fields_from_infotext(parse_infotext(text))
    assert GenerationRequest(**fields) == request


# --- Infotext: format(parse(text)) keeps every field -------------------------------------------------

A1111_ADETAILER_CONTROLNET = """\
masterpiece, best quality, 1girl, dancing in the rain, <lora:more_details:0.5>
Negative prompt: (worst quality:1.4), (low quality:1.4),
bad anatomy, extra fingers
Steps: 25, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 3561234567, Size: 512x768, \
Model hash: 879db523c3, Model: dreamshaper_8, VAE hash: 735e4c3a44, VAE: vae-ft-mse-840000-ema-pruned.safetensors, \
Denoising strength: 0.5, Clip skip: 2, ADetailer model: face_yolov8n.pt, ADetailer prompt: "detailed face, smile", \
ADetailer confidence: 0.3, ADetailer dilate erode: 4, ADetailer mask blur: 4, ADetailer denoising strength: 0.4, \
ADetailer inpaint only masked: True, ADetailer inpaint padding: 32, ADetailer version: 24.1.2, \
ControlNet 0: "Module: openpose_full, Model: control_v11p_sd15_openpose [cab727d4], Weight: 1.0, \
Resize Mode: Crop and Resize, Processor Res: 512, Guidance Start: 0.0, Guidance End: 1.0, Pixel Perfect: True, \
Control Mode: Balanced", Hires upscale: 1.5, Hires steps: 10, Hires upscaler: 4x-UltraSharp, \
Lora hashes: "more_details: 3b8aa1d351ef", Version: v1.7.0"""

FORGE_SDXL_HIRES_PROMPT = """\
score_9, score_8_up, a knight in a misty forest
Negative prompt: score_4, lowres
Steps: 30, Sampler: Euler a, Schedule type: Automatic, CFG scale: 5.5, Seed: 1, Size: 832x1216, \
Model hash: 4496b36d48, Model: ponyDiffusionV6XL_v6StartWithThisOne, Hires prompt: "a knight, detailed armor", \
Hires resize: 1248x1824, Hires steps: 15, Hires upscaler: Latent, Emphasis: No norm, \
Version: f2.0.1v1.10.1-previous-313-g8a042934, Module 1: sdxl_vae"""

A1111_FACE_RESTORE_TI = """\
portrait photo of an old fisherman, (wrinkles:1.2), embedding:easynegative
Negative prompt: easynegative
Steps: 40, Sampler: DPM++ SDE Karras, CFG scale: 6, Seed: 42, Face restoration: CodeFormer, Size: 768x768, \
Model hash: e6bb9ea85b, Model: realisticVisionV51_v51VAE, TI hashes: "easynegative: c74b4e810b03", Version: v1.6.0"""

A1111_IMG2IMG_INPAINT = """\
a red scarf
Steps: 20, Sampler: Euler a, CFG scale: 7, Image CFG scale: 1.5, Seed: 7, Size: 512x512, Model hash: 3e16efc8, \
Model: sd-v1-5-inpainting, Denoising strength: 0.75, Mask blur: 4, Inpaint area: Only masked, \
Masked area padding: 32, Version: v1.3.2"""

A1111_ORDERED = [
    A1111_HIRES_LORA, A1111_OLD_COMBINED_SAMPLER, MULTILINE_CHINESE, A1111_ADETAILER_CONTROLNET,
    FORGE_SDXL_HIRES_PROMPT, A1111_FACE_RESTORE_TI, A1111_IMG2IMG_INPAINT,
]

# Civitai's generator writes the same keys in another order; fields must survive, the order need not.
CIVITAI_ORDER = """\
cyberpunk city at night
Negative prompt: blurry
Steps: 25, CFG scale: 7, Sampler: DPM++ 2M Karras, Seed: 123, Size: 512x512, Clip skip: 2, \
Created Date: 2024-05-01T10:00:00.0000000Z, Model: dreamshaper_8"""


@pytest.mark.parametrize("text", A1111_ORDERED)
def test_format_of_parse_writes_a1111_text_back_unchanged(text: str) -> None:
    assert infotext.format(infotext.parse(text)) == text


@pytest.mark.parametrize("text", [*A1111_ORDERED, CIVITAI_ORDER])
def test_format_of_parse_keeps_every_field_a1111_reads(text: str) -> None:
    again = infotext.format(infotext.parse(text))
    assert parse_infotext(again) == parse_infotext(text)
    assert infotext.parse(again) == infotext.parse(text)


def test_parse_types_the_common_fields_and_keeps_the_rest_in_order() -> None:
    info = infotext.parse(A1111_ADETAILER_CONTROLNET)
    assert info.negative_prompt == "(worst quality:1.4), (low quality:1.4),\nbad anatomy, extra fingers"
    assert (info.steps, info.sampler, info.cfg_scale, info.seed) == (25, "DPM++ 2M", 7.0, 3561234567)
    assert (info.width, info.height, info.model_hash, info.model) == (512, 768, "879db523c3", "dreamshaper_8")
    assert list(info.extra)[:3] == ["Schedule type", "VAE hash", "VAE"]
    assert info.extra["ADetailer prompt"] == "detailed face, smile"
    assert info.extra["ControlNet 0"].startswith("Module: openpose_full, Model: control_v11p_sd15_openpose [cab727d4]")
    assert info.extra["Lora hashes"] == "more_details: 3b8aa1d351ef"
    assert "Size" not in info.extra and "Steps" not in info.extra


def test_parse_keeps_an_old_combined_sampler_name_as_written() -> None:
    info = infotext.parse(A1111_OLD_COMBINED_SAMPLER)
    assert info.sampler == "DPM++ 2M Karras" and "Schedule type" not in info.extra


def test_parse_without_a_parameters_line_has_only_prompts() -> None:
    info = infotext.parse("a castle\nNegative prompt: fog,\nrain")
    assert info == infotext.Infotext(prompt="a castle", negative_prompt="fog,\nrain")
    assert infotext.format(info) == "a castle\nNegative prompt: fog,\nrain"


def test_a_value_that_is_not_a_number_stays_in_its_place() -> None:
    text = "cat\nSteps: many, Sampler: Euler, CFG scale: 7, Seed: 1, Size: 64x64"
    info = infotext.parse(text)
    assert info.steps is None and info.extra == {"Steps": "many"}
    assert infotext.format(info) == text


def test_format_quotes_values_json_style_like_a1111() -> None:
    info = infotext.Infotext(
        prompt="p", steps=20, sampler="Euler", cfg_scale=7.5, seed=3, width=64, height=32,
        extra={"Lora hashes": "a: 0123456789ab, b: ba9876543210", "Note": 'say "hi"', "Plain": "no marks"},
    )
    assert infotext.format(info) == (
        'p\nSteps: 20, Sampler: Euler, CFG scale: 7.5, Seed: 3, Size: 64x32, '
        'Lora hashes: "a: 0123456789ab, b: ba9876543210", Note: "say \\"hi\\"", Plain: no marks'
    )
    assert infotext.parse(infotext.format(info)) == info


# --- Hires fix: written as A1111 writes it, read back from new and old images ------------------------

def test_every_hires_field_round_trips_through_infotext() -> None:
    from core.hires import HiresFix
    from core.metadata.a1111 import from_infotext

    hires = HiresFix(scale=1.5, steps=12, denoise=0.45, upscaler="4x-UltraSharp", sampler="DPM++ 2M",
                     prompt="a cabin, detailed: wood\ngrain", negative_prompt="blurry, lowres")
    request = GenerationRequest(model="m", prompt="a cabin", negative_prompt="ugly", sampler="Euler a", hires=hires)
    text = infotext_for_request(request, seed=5, model_name="m", model_hash=None)
    assert ('Denoising strength: 0.45, Hires sampler: DPM++ 2M, Hires prompt: "a cabin, detailed: wood\\ngrain", '
            'Hires negative prompt: "blurry, lowres", Hires upscale: 1.5, Hires steps: 12, '
            'Hires upscaler: 4x-UltraSharp') in text
    fields = request_fields_from_infotext(parse_infotext(text))
    assert GenerationRequest(**fields).hires == hires
    assert not [key for key in from_infotext(text).unmapped if key.startswith("Hires")]
    resized = request.replace(hires=HiresFix(resize_width=1024, resize_height=1536, upscaler="Latent (bicubic)"))
    text = infotext_for_request(resized, seed=5, model_name="m", model_hash=None)
    assert "Hires resize: 1024x1536, Hires upscaler: Latent (bicubic)" in text and "Hires upscale:" not in text
    assert GenerationRequest(**request_fields_from_infotext(parse_infotext(text))).hires == resized.hires
    plain = infotext_for_request(request.replace(hires=None), seed=5, model_name="m", model_hash=None)
    assert "Hires" not in plain and "Denoising strength" not in plain


@pytest.mark.parametrize("params, expected", [
    # A1111 1.0-1.5 wrote the resize as two keys, 0 for "use the scale"
    ("Hires upscale: 2, Hires resize-1: 0, Hires resize-2: 0, Hires steps: 10, Hires upscaler: Latent, "
     "Denoising strength: 0.7", dict(scale=2.0, steps=10, denoise=0.7, upscaler="Latent")),
    ("Denoising strength: 0.55, Hires resize-1: 1024, Hires resize-2: 1536, Hires upscaler: R-ESRGAN 4x+",
     dict(resize_width=1024, resize_height=1536, denoise=0.55, upscaler="R-ESRGAN 4x+")),
    ("Denoising strength: 0.3, Hires upscale: 1.75, Hires upscaler: Latent (nearest-exact), "
     "Hires sampler: DPM++ 2M Karras", dict(scale=1.75, denoise=0.3, upscaler="Latent (nearest-exact)",
                                            sampler="DPM++ 2M Karras")),
])
def test_old_and_new_a1111_hires_fields_are_read(params: str, expected: dict) -> None:
    from core.hires import HiresFix

    text = f"a cat\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x512, {params}"
    fields = request_fields_from_infotext(parse_infotext(text))
    assert GenerationRequest(model="m", **{k: v for k, v in fields.items() if k != "model"}).hires == \
        HiresFix(**expected)
    assert request_fields_from_infotext(parse_infotext(A1111_HIRES_LORA))["hires"] == HiresFix(
        scale=2.0, steps=15, denoise=0.45, upscaler="R-ESRGAN 4x+ Anime6B").to_json_dict()

"""ControlNet units in requests, infotext and on the command line: written as the extension writes them, read back,
and bad `--control` specs refused with a message."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from core import infotext
from core.cli import main
from core.controlnet import ControlUnit
from core.images import read_png_text
from core.request import GenerationRequest

EXTENSION_EXAMPLE = ("Module: openpose, Model: control_v11p_sd15_openpose [cab727d4], Weight: 1.0, "
                     "Resize Mode: Crop and Resize, Processor Res: 512, Threshold A: 0.5, Threshold B: 0.5, "
                     "Guidance Start: 0.0, Guidance End: 1.0, Pixel Perfect: False, Control Mode: Balanced")


def test_a_unit_is_written_exactly_as_the_extension_writes_it():
    unit = ControlUnit("control_v11p_sd15_openpose", preprocessor="openpose")
    assert infotext.format_controlnet_unit(unit, "control_v11p_sd15_openpose [cab727d4]") == EXTENSION_EXAMPLE


def test_units_go_through_a1111_infotext_and_back():
    units = [ControlUnit("control_v11p_sd15_openpose [cab727d4]", preprocessor="openpose"),
             ControlUnit("control_v11p_sd15_canny [d14c016b]", preprocessor="canny", threshold_a=80, weight=0.65,
                         guidance_start=0.1, guidance_end=0.75, control_mode="My prompt is more important",
                         resize_mode="Resize and Fill", processor_res=768, pixel_perfect=True)]
    params = infotext.controlnet_params([(unit, unit.model) for unit in units])
    text = infotext.format(infotext.Infotext(prompt="a dancer", steps=20, seed=1, extra=params))
    assert '\nSteps: 20, Seed: 1, ControlNet 0: "Module: openpose, Model: control_v11p_sd15_openpose [cab727d4], ' \
        in "\n" + text
    parsed = infotext.parse_infotext(text)
    assert infotext.controlnet_units_from_params(parsed.params) == units
    assert infotext.format(infotext.parse(text)) == text


def test_infotext_from_older_extension_versions_is_read():
    old = ("Module: canny, Model: control_canny-fp16 [e3fe7712], Weight: 1, Resize Mode: Inner Fit (Scale to Fit), "
           "Low Vram: False, Processor Res: 512, Threshold A: 100, Threshold B: 200, Guidance Start: 0, "
           "Guidance End: 1, Pixel Perfect: False, Control Mode: Balanced, Hr Option: Both")
    unit = infotext.parse_controlnet_unit(old)
    assert (unit.preprocessor, unit.model, unit.weight, unit.threshold_a, unit.guidance_end, unit.resize_mode) == \
        ("canny", "control_canny-fp16 [e3fe7712]", 1.0, None, 1.0, "Crop and Resize")  # 100: canny's default


def test_requests_keep_their_units_through_json_and_old_json_still_loads(tmp_path):
    unit = ControlUnit("cn", type="openpose", pose=tmp_path / "pose.json", weight=0.7, threshold_b=3.0)
    request = GenerationRequest(model="m", controlnets=(unit, ControlUnit("cn2", image=tmp_path / "x.png")))
    data = json.loads(json.dumps(request.to_json_dict()))
    assert data["controlnets"][0]["pose"] == str(tmp_path / "pose.json")
    assert GenerationRequest.from_json_dict(data) == request
    old = {key: value for key, value in data.items() if key != "controlnets"}
    assert GenerationRequest.from_json_dict(old).controlnets == ()


# ---------------------------------------------------------------- the command line

def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def generate_args(model, out_dir: Path, *extra: str) -> list[str]:  # type: ignore[no-untyped-def]
    return ["generate", "--model", str(model.checkpoint), "--model-config", str(model.config_dir),
            "--prompt", "a house", "--steps", "2", "--width", "64", "--height", "64", "--seed", "5",
            "--out", str(out_dir), "--quiet", *extra]


def photo(path: Path) -> Path:
    image = Image.new("RGB", (96, 64), (30, 30, 30))
    ImageDraw.Draw(image).rectangle((20, 10, 70, 50), fill=(230, 230, 230))
    image.save(path)
    return path


def test_control_with_a_canny_preprocessor_end_to_end(tiny_models, tiny_controlnets, tmp_path):
    picture = photo(tmp_path / "photo.png")
    spec = f"type=canny,model={tiny_controlnets['sd1']},image={picture},pre=canny,weight=0.9,start=0,end=0.8," \
           "mode=prompt,resize=fill"
    code, out, err = run(*generate_args(tiny_models["sd1"], tmp_path / "out", "--control", spec))
    assert code == 0, err
    written = Path(out.strip())
    text = read_png_text(written)["parameters"]
    assert 'ControlNet 0: "Module: canny, Model: tiny-controlnet-sd1 [' in text
    assert "Weight: 0.9, Resize Mode: Resize and Fill" in text and "Guidance End: 0.8" in text
    assert "Control Mode: My prompt is more important" in text
    stored = json.loads(read_png_text(written)["easel"])["controlnets"]
    assert [unit["preprocessor"] for unit in stored] == ["canny"] and stored[0]["image"] == str(picture)


def test_control_flags_repeat_for_several_units(tiny_models, tiny_controlnets, tmp_path):
    picture = photo(tmp_path / "photo.png")
    net = tiny_controlnets["sd1"]
    code, out, err = run(*generate_args(tiny_models["sd1"], tmp_path / "out",
                                        "--control", f"model={net},image={picture}",
                                        "--control", f"model={net},image={picture},pre=invert,mode=control"))
    assert code == 0, err
    text = read_png_text(Path(out.strip()))["parameters"]
    assert "ControlNet 0:" in text and "ControlNet 1:" in text


@pytest.mark.parametrize("spec, message", [
    ("image=photo.png", "no model"),
    ("model=cn,image=photo.png,wieght=1", "unknown key 'wieght'. Did you mean weight?"),
    ("model=cn,image=photo.png,weight=strong", "'strong' is not a number"),
    ("model=cn,image=photo.png,weight=3", "weight 3.0 is out of range"),
    ("model=cn,image=photo.png,mode=loud", "mode=loud is not one of balanced, prompt, control"),
    ("model=cn,image=photo.png,resize=stretch", "resize=stretch is not one of just, crop, fill"),
    ("model=cn,image=missing.png", "image=missing.png: there is no such file"),
    ("model=cn,image=photo.png,pose=photo.png", "give image= or pose=, not both"),
    ("model=cn,image=photo.png,pre=sharpen", "pre=sharpen: unknown preprocessor"),
    ("model=cn,image=photo.png,start=0.9,end=0.1", "are not in order"),
    ("model=cn,photo.png", "'photo.png' is not KEY=VALUE"),
    ("model=cn,image=photo.png,weight=1,weight=2", "weight is given twice"),
])
def test_bad_control_specs_are_refused_with_a_message(tiny_models, tmp_path, monkeypatch, spec, message):
    monkeypatch.chdir(tmp_path)
    photo(tmp_path / "photo.png")
    code, out, err = run(*generate_args(tiny_models["sd1"], tmp_path / "out", "--control", spec))
    assert code == 1 and out == ""
    assert message in err, err

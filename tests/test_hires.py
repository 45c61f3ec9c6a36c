"""Hires fix on the tiny SD1 model: sizes, both upscale paths, reproducibility, progress, cancel, limits, CLI."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from core.annotator_weights import HED
from core.cli import build_parser, main
from core.cli_generate import request_from_args
from core.controlnet import ControlUnit
from core.events import Cancelled, Failed, ImageDone, Progress
from core.hires import HiresFix, HiresSize
from core.images import read_png_text, read_request_json
from core.paths import AppPaths
from core.request import GenerationRequest, Mode
from core.synthetic.annotators import write_annotator
from core.synthetic.upscaler import write_tiny_upscaler
from tests.models import Recorder, make_engine, tiny_request

FAST = dict(steps=2, denoise=0.5)  # the second pass runs int(2 * 0.5) = 1 step


@pytest.fixture(scope="module")
def engine_home(tmp_path_factory):
    return tmp_path_factory.mktemp("hires-home")


@pytest.fixture(scope="module")
def engine(engine_home):
    return make_engine(engine_home)


def generate(engine, request, tmp_path):  # type: ignore[no-untyped-def]
    events = Recorder()
    done = engine.generate(request, events, output_dir=tmp_path)
    assert not events.of(Failed), events.of(Failed)
    return done, events


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


@pytest.mark.parametrize("fix, size", [
    (HiresFix(scale=2.0), HiresSize(128, 128, 128, 128)),
    (HiresFix(scale=1.5), HiresSize(96, 96, 96, 96)),
    (HiresFix(scale=1.3), HiresSize(80, 80, 80, 80)),  # int(64 * 1.3) = 83, floored to the latent grid
    (HiresFix(resize_width=128, resize_height=0), HiresSize(128, 128, 128, 128)),
    (HiresFix(resize_width=96, resize_height=128), HiresSize(128, 128, 96, 128)),  # cropped across
    (HiresFix(resize_width=128, resize_height=96), HiresSize(128, 128, 128, 96)),
])
def test_target_size_follows_a1111(fix, size):
    assert fix.target_size(64, 64) == size


def test_latent_hires_makes_the_upscaled_size_reproducibly_and_counts_both_passes(engine, tiny_models, tmp_path):
    request = tiny_request(tiny_models["sd1"], steps=3, hires=HiresFix(scale=2.0, **FAST))
    [first], events = generate(engine, request, tmp_path)
    [again], _ = generate(engine, request, tmp_path)
    assert first.image.size == (128, 128)
    assert np.array_equal(pixels(first.image), pixels(again.image))  # same seed, same image
    steps = [(p.step, p.total) for p in events.of(Progress)]
    assert steps == [(1, 4), (2, 4), (3, 4), (4, 4)]  # 3 first-pass steps, then 1 of the second
    assert events.of(Progress)[-1].preview.size[0] >= 16  # the second pass previews too
    assert "Denoising strength: 0.5, Hires upscale: 2, Hires steps: 2, Hires upscaler: Latent" in first.infotext
    assert "Size: 64x64" in first.infotext  # A1111 records the first pass's size
    stored = GenerationRequest.from_json_dict(read_request_json(first.path))
    assert stored.hires == request.hires


def test_upscaler_model_hires_runs_the_model_and_keeps_a_batch_apart(engine, engine_home, tiny_models, tmp_path):
    write_tiny_upscaler(AppPaths(engine_home).models_dir / "upscalers", "esrgan", name="tiny-esrgan")
    resize = dict(resize_width=96, resize_height=128, **FAST)
    request = tiny_request(tiny_models["sd1"], steps=2, batch_size=2, hires=HiresFix(upscaler="tiny-esrgan", **resize))
    done, events = generate(engine, request, tmp_path)
    assert [d.image.size for d in done] == [(96, 128), (96, 128)]
    assert np.abs(pixels(done[0].image) - pixels(done[1].image)).max() > 0  # two seeds, two images
    assert "Hires resize: 96x128" in done[0].infotext and "Hires upscaler: tiny-esrgan" in done[0].infotext
    lanczos = tiny_request(tiny_models["sd1"], steps=2, hires=HiresFix(upscaler="Lanczos", **resize))
    [other], _ = generate(engine, lanczos, tmp_path)
    assert np.abs(pixels(done[0].image) - pixels(other.image)).max() > 0  # the model made a difference


def test_cancel_in_the_second_pass_keeps_nothing(engine, tiny_models, tmp_path):
    events = Recorder()
    request = tiny_request(tiny_models["sd1"], steps=3, hires=HiresFix(scale=2.0, steps=4, denoise=0.5))
    cancel = lambda: any(p.step > 3 for p in events.of(Progress))  # noqa: E731 - once the second pass began
    engine.generate(request, events, cancel, output_dir=tmp_path / "out")
    assert events.of(Cancelled) == [Cancelled(images_kept=0)]
    assert not events.of(ImageDone) and not (tmp_path / "out").exists()
    assert max(p.step for p in events.of(Progress)) == 4  # stopped after the second pass's first step


def test_hires_with_controlnet_and_with_an_inpainting_checkpoint(engine, tiny_models, tiny_controlnets, tmp_path):
    picture = tmp_path / "edges.png"
    Image.radial_gradient("L").convert("RGB").resize((64, 64)).save(picture)
    unit = ControlUnit(str(tiny_controlnets["sd1"]), preprocessor="canny", image=picture)
    hires = HiresFix(scale=2.0, **FAST)
    request = tiny_request(tiny_models["sd1"], steps=2, controlnets=(unit,), hires=hires)
    [controlled], _ = generate(engine, request, tmp_path)
    assert controlled.image.size == (128, 128) and "ControlNet 0:" in controlled.infotext
    [inpainted], _ = generate(engine, tiny_request(tiny_models["sd1-inpaint"], steps=2, hires=hires), tmp_path)
    assert inpainted.image.size == (128, 128)


def test_hires_makes_a_weighted_preprocessors_hint_again_with_the_same_weights(engine, engine_home, tiny_models,
                                                                            tiny_controlnets, tmp_path):
    write_annotator(AppPaths(engine_home).models_dir, HED, dtype=torch.float16)
    picture = tmp_path / "photo.png"
    Image.radial_gradient("L").convert("RGB").resize((64, 64)).save(picture)
    unit = ControlUnit(str(tiny_controlnets["sd1"]), preprocessor="softedge", image=picture)
    request = tiny_request(tiny_models["sd1"], steps=2, controlnets=(unit,), hires=HiresFix(scale=2.0, **FAST))
    [done], _ = generate(engine, request, tmp_path)
    assert done.image.size == (128, 128) and "Module: softedge_hed" in done.infotext


@pytest.mark.parametrize("changes, message", [
    (dict(hires=HiresFix(scale=5.0)), "Hires upscale 5 is out of range"),
    (dict(hires=HiresFix(steps=151)), "151 hires steps is out of range"),
    (dict(hires=HiresFix(denoise=1.5)), "denoising strength 1.5 is out of range"),
    (dict(hires=HiresFix(resize_width=10)), "Hires resize 10x0 is not valid"),
    (dict(hires=HiresFix(sampler="Warp drive")), "Warp drive"),
    (dict(hires=HiresFix(upscaler="4x-Nowhere")), "Use one of: Latent, Latent (antialiased)"),
    (dict(hires=HiresFix(), mode=Mode.IMG2IMG), "Hires fix works in txt2img only"),
])
def test_bad_hires_settings_are_refused_before_loading(tiny_models, tmp_path, changes, message):
    engine = make_engine(tmp_path / "home")
    if changes.get("mode") is Mode.IMG2IMG:
        Image.new("RGB", (64, 64)).save(tmp_path / "init.png")
        changes["init_image"] = tmp_path / "init.png"
    events = Recorder()
    engine.generate(tiny_request(tiny_models["sd1"], **changes), events, output_dir=tmp_path)
    [failed] = events.of(Failed)
    assert message in failed.message + " " + failed.hint, failed
    assert engine.load_count == 0


def test_the_memory_check_uses_the_hires_size(tiny_models, tmp_path, monkeypatch):
    import core.engine

    from core.sizes import estimate_peak_bytes

    enough_for_64 = estimate_peak_bytes("sd1", 64, 64, 1, False) + 1000
    monkeypatch.setattr(core.engine, "total_memory_bytes", lambda: enough_for_64)
    engine = make_engine(tmp_path / "home")
    events = Recorder()
    engine.generate(tiny_request(tiny_models["sd1"], hires=HiresFix(scale=4.0)), events, output_dir=tmp_path)
    [failed] = events.of(Failed)
    assert "256x256" in failed.message


def test_easel_generate_hires_flags(tiny_models, tmp_path):
    model = tiny_models["sd1"]
    out, err = io.StringIO(), io.StringIO()
    code = main(["generate", "--model", str(model.checkpoint), "--model-config", str(model.config_dir),
                 "--prompt", "a castle", "--steps", "2", "--width", "64", "--height", "64", "--seed", "5",
                 "--hires-scale", "1.5", "--hires-steps", "2", "--hires-denoise", "0.5", "--hires-upscaler", "Nearest",
                 "--hires-sampler", "DDIM", "--quiet", "--out", str(tmp_path)], out=out, err=err)
    assert code == 0, err.getvalue()
    path = out.getvalue().strip()
    assert Image.open(path).size == (96, 96)
    text = read_png_text(path)["parameters"]
    assert "Denoising strength: 0.5, Hires sampler: DDIM, Hires upscale: 1.5, Hires steps: 2, " \
           "Hires upscaler: Nearest" in text
    # --from-image takes the hires fix back; a flag changes one setting of it, --no-hires turns it off
    again = request_from_args(build_parser().parse_args(["generate", "--from-image", path, "--hires-resize", "128x0"]))
    assert again.hires == HiresFix(scale=1.5, steps=2, denoise=0.5, upscaler="Nearest", sampler="DDIM",
                                   resize_width=128, resize_height=0)
    off = request_from_args(build_parser().parse_args(["generate", "--from-image", path, "--no-hires"]))
    assert off.hires is None
    code = main(["generate", "--model", "m", "--hires-resize", "big", "--out", str(tmp_path)], out=out, err=err)
    assert code == 1 and "--hires-resize big is not valid" in err.getvalue()


def test_hires_survives_the_json_of_images_and_of_the_job_queue(tmp_path):
    from core.job_queue import QueuedJob

    hires = HiresFix(scale=1.5, steps=9, denoise=0.4, upscaler="4x-UltraSharp", resize_width=0, resize_height=1024,
                     sampler="DPM++ 2M", prompt="sharp", negative_prompt="blur")
    request = GenerationRequest(model="m", hires=hires)
    data = json.loads(json.dumps(request.to_json_dict()))
    assert data["hires"]["upscaler"] == "4x-UltraSharp"
    assert GenerationRequest.from_json_dict(data) == request
    assert GenerationRequest.from_json_dict({**data, "hires": None}).hires is None
    assert GenerationRequest.from_json_dict({"model": "m"}).hires is None  # requests saved before hires existed
    job = QueuedJob("1", request, 0.0)
    assert QueuedJob.from_json_dict(json.loads(json.dumps(job.to_json_dict()))).request == request

"""The engine does what the settings say: previews, precision, attention slicing, output folder and names."""

from __future__ import annotations

import datetime
import io
import json

import pytest
import torch

from core.cli import main
from core.engine import Engine
from core.engine_options import EngineOptions
from core.errors import RequestError
from core.events import Failed, Finished, ImageDone, Progress
from core.model_resolution import ModelResolver
from core.paths import AppPaths
from core.pipelines.attention_slicing import uses_attention_slicing
from core.settings import Settings
from tests.models import Recorder, tiny_request


@pytest.fixture(scope="module")
def engine(tmp_path_factory):  # type: ignore[no-untyped-def]
    """One engine whose options each test sets; the tiny model stays loaded while device and dtype stay."""
    paths = AppPaths(tmp_path_factory.mktemp("settings-home")).ensure()
    return Engine(ModelResolver.from_settings(paths, Settings()), paths.outputs_dir, device="cpu")


def generate(engine: Engine, model, folder, **changes) -> Recorder:  # type: ignore[no-untyped-def]
    events = Recorder()
    engine.generate(tiny_request(model, **changes), events, output_dir=folder)
    return events


def test_previews_every_n_steps_or_none(engine, tiny_models, tmp_path):
    engine.configure(EngineOptions(preview_every=0), device="cpu")
    events = generate(engine, tiny_models["sd1"], tmp_path, steps=3)
    assert [p.step for p in events.of(Progress)] == [1, 2, 3]
    assert all(p.preview is None for p in events.of(Progress))

    engine.configure(EngineOptions(preview_every=1), device="cpu")
    events = generate(engine, tiny_models["sd1"], tmp_path, steps=3)
    assert all(p.preview is not None and p.preview.size == (8, 8) for p in events.of(Progress))

    engine.configure(EngineOptions(preview_every=2), device="cpu")
    events = generate(engine, tiny_models["sd1"], tmp_path, steps=5)
    assert [p.step for p in events.of(Progress) if p.preview is not None] == [2, 4, 5]  # and the last step


def test_bf16_runs_on_the_cpu_and_fp16_is_refused_with_a_way_out(engine, tiny_models, tmp_path):
    engine.configure(EngineOptions(precision="bf16"), device="cpu")
    events = generate(engine, tiny_models["sd1"], tmp_path)
    assert not events.of(Failed) and len(events.of(ImageDone)) == 1
    assert engine.loaded_model.base.unet.dtype == torch.bfloat16
    assert events.of(ImageDone)[0].path.is_file()

    engine.configure(EngineOptions(precision="fp16"), device="cpu")
    events = generate(engine, tiny_models["sd1"], tmp_path)
    [failed] = events.of(Failed)
    assert "fp16" in failed.message and "CPU" in failed.message and "fp32" in failed.hint

    engine.configure(EngineOptions(precision="fp32"), device="cpu")
    events = generate(engine, tiny_models["sd1"], tmp_path)
    assert events.of(Finished) and engine.loaded_model.base.unet.dtype == torch.float32


def test_attention_slicing_follows_the_setting_without_reloading(engine, tiny_models, tmp_path):
    engine.configure(EngineOptions(attention_slicing="on"), device="cpu")
    generate(engine, tiny_models["sd1"], tmp_path)
    loads = engine.load_count
    assert uses_attention_slicing(engine.loaded_model.base.unet)

    engine.configure(EngineOptions(attention_slicing="off"), device="cpu")
    generate(engine, tiny_models["sd1"], tmp_path)
    assert not uses_attention_slicing(engine.loaded_model.base.unet)
    engine.configure(EngineOptions(attention_slicing="auto"), device="cpu")  # the CPU: off
    generate(engine, tiny_models["sd1"], tmp_path)
    assert not uses_attention_slicing(engine.loaded_model.base.unet)
    assert engine.load_count == loads


def test_file_names_follow_the_pattern(engine, tiny_models, tmp_path):
    model = tiny_models["sd1"]
    engine.configure(EngineOptions(file_name_pattern="[seed]-[model_name]-[prompt_words]"), device="cpu")
    events = generate(engine, model, tmp_path, prompt="a (red:1.2) fox/cat?", seed=618633303)
    [done] = events.of(ImageDone)
    assert done.path.name == f"618633303-{model.checkpoint.stem}-a red 1 2 fox cat.png"

    engine.configure(EngineOptions(file_name_pattern="[number]-[seed]"), device="cpu")
    events = generate(engine, model, tmp_path / "default", seed=12, batch_size=2)
    assert [e.path.name for e in events.of(ImageDone)] == ["00000-12.png", "00001-13.png"]


def test_the_settings_outputs_folder_is_where_images_go(tiny_models, tmp_path):
    paths = AppPaths(tmp_path / "home").ensure()
    settings = Settings(outputs_dir=str(tmp_path / "Pictures"), file_name_pattern="[date] [number]",
                        preview_every=0)
    engine = Engine.from_settings(ModelResolver.from_settings(paths, settings), paths, settings, device="cpu")
    events = Recorder()
    engine.generate(tiny_request(tiny_models["sd1"]), events)
    [done] = events.of(ImageDone)
    today = datetime.date.today().isoformat()
    assert done.path == tmp_path / "Pictures" / "txt2img-images" / today / f"{today} 00000.png"
    assert all(p.preview is None for p in events.of(Progress))

    # Changed while the model is loaded: the next image follows them, without loading the model again.
    loads = engine.load_count
    engine.apply_settings(paths, Settings(outputs_dir=str(tmp_path / "Elsewhere"), device="cpu"))
    events = Recorder()
    engine.generate(tiny_request(tiny_models["sd1"]), events)
    assert events.of(ImageDone)[0].path == tmp_path / "Elsewhere" / "txt2img-images" / today / "00000-1234.png"
    assert events.of(Progress)[1].preview is not None and engine.load_count == loads


def test_easel_generate_uses_settings_json(tiny_models, tmp_path, easel_home):
    model = tiny_models["sd1"]
    (easel_home / "settings.json").write_text(json.dumps({
        "outputs_dir": str(tmp_path / "out"), "file_name_pattern": "[number]-[seed]-[width]x[height]",
        "precision": "fp16", "preview_every": "often",
    }), encoding="utf-8")
    args = ["generate", "--model", str(model.checkpoint), "--model-config", str(model.config_dir),
            "--prompt", "a castle", "--steps", "2", "--width", "64", "--height", "64", "--seed", "77"]
    out, err = io.StringIO(), io.StringIO()
    assert main(args, out=out, err=err) == 1  # fp16 on the CPU
    assert "fp16" in err.getvalue() and "note: Setting 'preview_every' = 'often'" in err.getvalue()

    settings = json.loads((easel_home / "settings.json").read_text(encoding="utf-8"))
    (easel_home / "settings.json").write_text(json.dumps({**settings, "precision": "fp32"}), encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    assert main([*args, "--device", "cpu"], out=out, err=err) == 0, err.getvalue()
    written = out.getvalue().split()
    today = datetime.date.today().isoformat()
    assert written == [str(tmp_path / "out" / "txt2img-images" / today / "00000-77-64x64.png")]


def test_precision_and_slicing_settings_override_the_platform_policy(monkeypatch):
    from core import device

    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    monkeypatch.setattr(device, "total_memory_bytes", lambda: 16 * 1024**3)
    assert device.plan_device(None).attention_slicing  # a 16 GB Mac slices by default...
    plan = device.plan_device(None, precision="fp32", attention_slicing="off")  # ...unless told not to
    assert (plan.device.type, plan.dtype, plan.attention_slicing) == ("mps", torch.float32, False)
    assert device.plan_device("cpu", attention_slicing="on").attention_slicing

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    with pytest.raises(RequestError, match="bf16") as refused:
        device.plan_device("cuda", precision="bf16")
    assert "fp16" in refused.value.hint

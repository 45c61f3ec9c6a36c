"""Every way a checkpoint reaches Easel loads through the same engine: pickles, diffusers folders, name.yaml."""

from __future__ import annotations

import json

import torch
from safetensors.torch import load_file

from core.events import Failed, ImageDone, Started
from core.models.safe_load import convert_to_safetensors
from core.synthetic import write_tiny_checkpoint
from tests.models import Recorder, make_engine, tiny_request


def test_a_safe_pickle_checkpoint_loads_and_converts_beside_itself(tmp_path, tiny_models):
    model = tiny_models["sd1"]
    ckpt = tmp_path / "legacy.ckpt"
    torch.save({"state_dict": load_file(model.checkpoint), "global_step": 1000}, ckpt)
    events = Recorder()
    engine = make_engine(tmp_path / "home")
    [done] = engine.generate(tiny_request(model).replace(model=str(ckpt)), events, output_dir=tmp_path)
    assert not events.of(Failed)
    assert "easel convert" in " ".join(events.of(Started)[0].notices)
    converted = convert_to_safetensors(ckpt)
    assert converted == tmp_path / "legacy.safetensors" and ckpt.exists()
    [again] = make_engine(tmp_path / "home2").generate(
        tiny_request(model).replace(model=str(converted)), Recorder(), output_dir=tmp_path)
    assert list(done.image.getdata()) == list(again.image.getdata())


def test_a_diffusers_format_folder_loads(tmp_path, tiny_models):
    engine = make_engine(tmp_path / "home")
    engine.generate(tiny_request(tiny_models["sd1"], steps=1), Recorder(), output_dir=tmp_path)
    folder = tmp_path / "my-diffusers-model"
    engine.loaded_model.base.save_pretrained(folder)
    index = json.loads((folder / "model_index.json").read_text())
    index["tokenizer"] = ["transformers", "CLIPTokenizer"]  # as published folders name it
    (folder / "model_index.json").write_text(json.dumps(index))
    events = Recorder()
    done = make_engine(tmp_path / "home2").generate(
        tiny_request(tiny_models["sd1"]).replace(model=str(folder), model_config=None), events, output_dir=tmp_path)
    assert not events.of(Failed), events.of(Failed)
    assert done[0].image.size == (64, 64)


def test_a1111_yaml_beside_an_sd2_checkpoint_switches_to_v_prediction(tmp_path):
    model = write_tiny_checkpoint(tmp_path, "sd2", seed=5)
    engine = make_engine(tmp_path / "home")
    engine.generate(tiny_request(model, steps=1), Recorder(), output_dir=tmp_path)
    assert engine.loaded_model.scheduler_config["prediction_type"] == "epsilon"
    model.checkpoint.with_suffix(".yaml").write_text(
        "model:\n  target: ldm.models.diffusion.ddpm.LatentDiffusion\n  params:\n    parameterization: \"v\"\n")
    events = Recorder()
    engine.generate(tiny_request(model, steps=1), events, output_dir=tmp_path)
    assert engine.loaded_model.source.architecture == "sd2-v"
    assert engine.loaded_model.scheduler_config["prediction_type"] == "v_prediction"
    assert events.of(ImageDone)

"""settings.json: every setting kept across a restart, old files still read, bad values cost only themselves."""

from __future__ import annotations

import json
from pathlib import Path

from core.engine_options import EngineOptions
from core.settings import Settings


def test_every_setting_survives_save_and_load(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    settings = Settings(
        model_folders=["/models"], install_roots=["/a1111"], model_configs={"/m.safetensors": "/config"},
        device="cpu", outputs_dir=str(tmp_path / "out"), file_name_pattern="[date]-[number]-[prompt_words]",
        precision="bf16", attention_slicing="on", preview_every=0, hub_endpoint="https://hf-mirror.com", offline=False,
    )
    settings.save(path)
    loaded = Settings.load(path)
    assert loaded == settings and loaded.problems == []
    assert "problems" not in json.loads(path.read_text(encoding="utf-8"))


def test_defaults_for_the_new_settings() -> None:
    settings = Settings()
    assert (settings.outputs_dir, settings.file_name_pattern, settings.precision, settings.attention_slicing,
            settings.preview_every, settings.hub_endpoint, settings.offline) == (
        None, "[number]-[seed]", "auto", "auto", 2, "", True)


def test_a_settings_file_from_before_keeps_its_values_and_gets_the_new_defaults(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    old = {"model_folders": ["/models"], "install_roots": [], "model_configs": {}, "device": "mps"}
    path.write_text(json.dumps(old), encoding="utf-8")
    loaded = Settings.load(path)
    assert loaded == Settings(model_folders=["/models"], device="mps") and loaded.problems == []


def test_a_bad_value_falls_back_to_its_default_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({
        "model_folders": ["/models"], "precision": "fp8", "attention_slicing": True, "preview_every": -3,
        "file_name_pattern": "[number]-[colour]", "hub_endpoint": "hf-mirror.com", "offline": "yes",
        "outputs_dir": "", "some_future_setting": 1,
    }), encoding="utf-8")
    loaded = Settings.load(path)
    assert loaded == Settings(model_folders=["/models"])
    problems = "\n".join(loaded.problems)
    assert len(loaded.problems) == 7
    for expected in ("'precision' = 'fp8'", "auto, fp16, bf16, fp32", "'preview_every' = -3", "[colour]",
                     "'hub_endpoint'", "'offline'", "'attention_slicing'", "'outputs_dir'"):
        assert expected in problems
    assert path.exists()  # the file itself is the user's: left as it is


def test_a_file_that_is_not_json_is_kept_aside(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text('{"device": "cpu",', encoding="utf-8")
    loaded = Settings.load(path)
    assert loaded == Settings()
    assert (tmp_path / "settings.broken.json").read_text(encoding="utf-8") == '{"device": "cpu",'
    assert "settings.broken.json" in loaded.problems[0]


def test_the_outputs_folder_is_the_users_choice_or_easels(tmp_path: Path) -> None:
    default = tmp_path / "outputs"
    assert Settings().outputs_folder(default) == default
    assert Settings(outputs_dir="~/Pictures/Easel").outputs_folder(default) == Path.home() / "Pictures" / "Easel"


def test_engine_options_come_from_the_settings() -> None:
    settings = Settings(precision="fp32", attention_slicing="off", preview_every=5, file_name_pattern="[seed]")
    assert EngineOptions.from_settings(settings) == EngineOptions("fp32", "off", 5, "[seed]")


def test_vae_settings_save_load_check_and_reach_the_engine(tmp_path: Path) -> None:
    assert (Settings().vae, Settings().model_vaes, Settings().vae_tiling) == ("Automatic", {}, "auto")
    path = tmp_path / "settings.json"
    settings = Settings(vae="vae-ft-mse-840000-ema-pruned.safetensors", model_vaes={"ponyXL": "None"},
                        vae_tiling="on")
    settings.save(path)
    assert Settings.load(path) == settings
    options = EngineOptions.from_settings(settings)
    assert (options.vae, dict(options.model_vaes), options.vae_tiling) == (settings.vae, {"ponyXL": "None"}, "on")
    path.write_text(json.dumps({"vae": "", "model_vaes": {"ponyXL": 3}, "vae_tiling": "sometimes"}), encoding="utf-8")
    loaded = Settings.load(path)
    assert (loaded.vae, loaded.model_vaes, loaded.vae_tiling) == ("Automatic", {}, "auto")
    assert len(loaded.problems) == 3 and "is not one of auto, on, off" in loaded.problems[2]

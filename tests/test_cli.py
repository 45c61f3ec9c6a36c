"""`easel generate | models | info` as a person runs them."""

from __future__ import annotations

import io
import json
import shutil

import numpy as np
from PIL import Image

from core.cli import main
from core.models.hashing import autov2


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def generate_args(model, out_dir, *extra: str) -> list[str]:  # type: ignore[no-untyped-def]
    return ["generate", "--model", str(model.checkpoint), "--model-config", str(model.config_dir),
            "--prompt", "a castle, (masterpiece:1.2)", "--negative", "lowres", "--steps", "3",
            "--width", "64", "--height", "64", "--seed", "77", "--sampler", "DPM++ 2M", "--schedule", "Karras",
            "--out", str(out_dir), *extra]


def test_generate_prints_written_paths_and_progress(tiny_models, tmp_path):
    code, out, err = run(*generate_args(tiny_models["sd1"], tmp_path, "--batch-size", "2"))
    assert code == 0, err
    paths = out.split()
    assert [p.rsplit("/", 1)[-1] for p in paths] == ["00000-77.png", "00001-78.png"]
    assert "3/3" in err and "Loading model" in err
    assert all(Image.open(p).size == (64, 64) for p in paths)


def test_from_image_reproduces_the_image(tiny_models, tmp_path):
    code, out, err = run(*generate_args(tiny_models["sd1"], tmp_path / "a"))
    assert code == 0, err
    first = out.strip()
    code, out, err = run("generate", "--from-image", first, "--model-config", str(tiny_models["sd1"].config_dir),
                         "--model", str(tiny_models["sd1"].checkpoint), "--out", str(tmp_path / "b"), "--quiet")
    assert code == 0, err
    again = out.strip()
    assert np.array_equal(np.asarray(Image.open(first)), np.asarray(Image.open(again)))


def test_from_a1111_infotext_takes_settings_and_flags_override(tiny_models, tmp_path):
    source = tmp_path / "a1111.png"
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("parameters", "a lighthouse\nNegative prompt: fog\n"
                                "Steps: 2, Sampler: Euler a, CFG scale: 5, Seed: 4242, Size: 72x64, "
                                "Model hash: abcdef0123, Model: tiny-sd1")
    Image.new("RGB", (72, 64)).save(source, pnginfo=info)
    models_dir = tmp_path / "models"
    models_dir.mkdir()
    shutil.copy(tiny_models["sd1"].checkpoint, models_dir / "tiny-sd1.safetensors")
    code, out, err = run("generate", "--from-image", str(source), "--models-dir", str(models_dir),
                         "--model-config", str(tiny_models["sd1"].config_dir), "--steps", "3",
                         "--out", str(tmp_path / "out"))
    assert code == 0, err
    written = out.strip()
    assert written.endswith("00000-4242.png")
    code, out, _ = run("info", written, "--json")
    settings = json.loads(out)["settings"]
    assert (settings["Steps"], settings["Sampler"], settings["Size"]) == ("3", "Euler a", "72x64")
    assert json.loads(out)["negative_prompt"] == "fog"


def test_models_lists_kinds_architectures_and_hashes(tiny_models, tmp_path):
    root = tmp_path / "stable-diffusion-webui"
    (root / "models" / "Stable-diffusion").mkdir(parents=True)
    (root / "models" / "Lora").mkdir()
    shutil.copy(tiny_models["sdxl"].checkpoint, root / "models" / "Stable-diffusion" / "xl.safetensors")
    shutil.copy(tiny_models["sd1-inpaint"].checkpoint, root / "models" / "Stable-diffusion" / "inp.safetensors")
    (root / "models" / "Lora" / "broken.safetensors").write_bytes(b"<html>404</html>")
    code, out, err = run("models", "--models-dir", str(root), "--json", "--hash")
    assert code == 0, err
    listed = {entry["path"].rsplit("/", 1)[-1]: entry for entry in json.loads(out)}
    assert set(listed["xl.safetensors"]) >= {"path", "kind", "architecture", "inpaint", "size", "hash"}
    assert (listed["xl.safetensors"]["kind"], listed["xl.safetensors"]["architecture"]) == ("checkpoint", "sdxl")
    assert listed["inp.safetensors"]["inpaint"] is True
    assert listed["xl.safetensors"]["hash"] == autov2(root / "models" / "Stable-diffusion" / "xl.safetensors")
    assert listed["broken.safetensors"]["supported"] is False
    code, table, _ = run("models", "--models-dir", str(root))
    assert "sdxl" in table and "not usable" in table


def test_info_prints_parameters_and_explains_images_without_them(tiny_models, tmp_path):
    code, out, _ = run(*generate_args(tiny_models["sd1"], tmp_path, "--quiet"))
    code, text, _ = run("info", out.strip())
    assert code == 0 and "Sampler: DPM++ 2M, Schedule type: Karras" in text
    plain = tmp_path / "plain.png"
    Image.new("RGB", (8, 8)).save(plain)
    code, _, err = run("info", str(plain))
    assert code == 1 and "no generation parameters" in err


def test_bad_flags_give_a_clear_error(tiny_models, tmp_path):
    code, _, err = run("generate", "--prompt", "x")
    assert code == 1 and "No model given" in err
    code, _, err = run(*generate_args(tiny_models["sd1"], tmp_path, "--device", "cuda:7"))
    assert code == 1 and "not available" in err


def test_convert_writes_safetensors_beside_a_pickle_and_refuses_to_overwrite(tiny_models, tmp_path):
    import torch
    from safetensors.torch import load_file

    tensors = load_file(tiny_models["sd1"].checkpoint)
    ckpt = tmp_path / "old.ckpt"
    torch.save({"state_dict": tensors}, ckpt)
    code, out, err = run("convert", str(ckpt))
    assert code == 0, err
    converted = load_file(out.strip())
    assert converted.keys() == tensors.keys()
    assert all(torch.equal(converted[k], tensors[k]) for k in tensors)
    code, _, err = run("convert", str(ckpt))
    assert code == 1 and "exists" in err

"""Scanning Easel's, A1111's and ComfyUI's model folders, and finding a model by name."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from core.errors import EaselError, ModelFileError
from core.models.hashing import HashCache
from core.models.scan import ModelFolder, ModelFolders, find_model, scan
from core.paths import AppPaths

UNET_IN = "model.diffusion_model.input_blocks.0.0.weight"
SD1 = {"cond_stage_model.transformer.text_model.embeddings.token_embedding.weight": (10, 8), UNET_IN: (8, 4, 3, 3)}
SDXL = {"conditioner.embedders.0.transformer.x.weight": (2,), "conditioner.embedders.1.model.x.weight": (2,),
        UNET_IN: (8, 9, 3, 3)}
LORA = {"lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight": (4, 768)}
VAE = {"encoder.conv_in.weight": (8, 3, 3, 3), "decoder.conv_out.weight": (3, 8, 3, 3), "quant_conv.weight": (8, 8)}
CONTROLNET = {"control_model.input_hint_block.0.weight": (16, 3, 3, 3),
              "control_model.input_blocks.1.1.proj_in.weight": (8, 8, 1, 1)}
EMBEDDING = {"emb_params": (2, 768)}
ESRGAN = {"model.0.weight": (8, 3, 3, 3), "model.1.sub.0.RDB1.conv1.0.weight": (8, 8, 3, 3)}


def write_model(path: Path, shapes: dict[str, tuple[int, ...]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({name: torch.zeros(shape) for name, shape in shapes.items()}, path)
    return path


def summary(entries) -> dict[str, tuple]:
    return {entry.relative_path: (entry.kind, entry.architecture, entry.supported) for entry in entries}


def test_scan_of_an_a1111_install(tmp_path: Path) -> None:
    root = tmp_path / "stable-diffusion-webui"
    (root / "webui.py").parent.mkdir(parents=True)
    (root / "webui.py").write_text("# A1111")
    write_model(root / "models/Stable-diffusion/dreamshaper_8.safetensors", SD1)
    write_model(root / "models/Stable-diffusion/XL/juggernaut_inpaint.safetensors", SDXL)
    write_model(root / "models/Lora/detail.safetensors", LORA)
    write_model(root / "models/LyCORIS/style.safetensors", LORA)
    write_model(root / "models/VAE/vae-ft-mse.safetensors", VAE)
    write_model(root / "models/ControlNet/control_openpose.safetensors", CONTROLNET)
    write_model(root / "models/ESRGAN/4x_ultrasharp.safetensors", ESRGAN)
    write_model(root / "embeddings/easynegative.safetensors", EMBEDDING)

    entries = scan(ModelFolders.from_install_root(root))

    assert summary(entries) == {
        "dreamshaper_8.safetensors": ("checkpoint", "sd1", True),
        "XL/juggernaut_inpaint.safetensors": ("checkpoint", "sdxl", True),
        "detail.safetensors": ("lora", "sd1", True),
        "style.safetensors": ("lora", "sd1", True),
        "vae-ft-mse.safetensors": ("vae", None, True),
        "control_openpose.safetensors": ("controlnet", "sd1", True),
        "4x_ultrasharp.safetensors": ("upscaler", "ESRGAN", True),
        "easynegative.safetensors": ("embedding", "sd1", True),
    }
    inpaint = next(entry for entry in entries if entry.name == "juggernaut_inpaint")
    assert inpaint.inpaint and inpaint.size == inpaint.path.stat().st_size


def test_scan_of_a_comfyui_install(tmp_path: Path) -> None:
    root = tmp_path / "ComfyUI"
    write_model(root / "models/checkpoints/sd15.safetensors", SD1)
    write_model(root / "models/loras/detail.safetensors", LORA)
    write_model(root / "models/upscale_models/esrgan.safetensors", ESRGAN)
    write_model(root / "models/embeddings/neg.safetensors", EMBEDDING)

    entries = scan(ModelFolders.from_install_root(root))

    assert {entry.name: entry.kind for entry in entries} == \
        {"sd15": "checkpoint", "detail": "lora", "esrgan": "upscaler", "neg": "embedding"}


def test_a_folder_that_is_no_install_is_refused_with_advice(tmp_path: Path) -> None:
    with pytest.raises(EaselError, match="does not look like an AUTOMATIC1111 or ComfyUI folder"):
        ModelFolders.from_install_root(tmp_path)


def test_easel_folders_and_a_user_folder(tmp_path: Path) -> None:
    paths = AppPaths(tmp_path / "home")
    write_model(paths.models_dir / "checkpoints/mine.safetensors", SD1)
    write_model(tmp_path / "elsewhere/Mixed/a_lora.safetensors", LORA)

    entries = scan(ModelFolders.easel(paths).with_folder(tmp_path / "elsewhere"))

    assert [(entry.name, entry.kind) for entry in entries] == [("mine", "checkpoint"), ("a_lora", "lora")]


def test_bad_files_are_listed_with_their_reason(tmp_path: Path) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "empty.safetensors").write_bytes(b"")
    (folder / "page.safetensors").write_text("<!DOCTYPE html><html>Too many requests</html>")
    (folder / "noise.ckpt").write_bytes(bytes(range(256)) * 16)
    (folder / "absurd.safetensors").write_bytes(struct.pack("<Q", 2**50) + b"{")
    good = write_model(folder / "good.safetensors", SD1)
    (folder / "truncated.safetensors").write_bytes(good.read_bytes()[:-100])

    entries = {entry.name: entry for entry in scan([ModelFolder(folder)])}

    assert entries["good"].supported
    expected_reasons = {"empty": "empty (0 bytes)", "page": "is a web page, not a model",
                        "noise": "not a model file Easel knows", "absurd": "header claims to be",
                        "truncated": "is truncated"}
    for name, reason in expected_reasons.items():
        assert (entries[name].kind, entries[name].supported, entries[name].unsafe) == ("unknown", False, False)
        assert reason in entries[name].reason


def test_extension_case_and_missing_extensions_are_decided_by_content(tmp_path: Path) -> None:
    folder = tmp_path / "models"
    write_model(folder / "LOUD.SAFETENSORS", SD1)
    write_model(folder / "no_extension", LORA)
    (folder / "README").write_text("These are my models.")
    (folder / ".hidden.safetensors").write_bytes(b"")
    write_model(folder / ".cache/inside_hidden.safetensors", SD1)
    (folder / "LOUD.preview.png").write_bytes(b"\x89PNG")
    (folder / "LOUD.yaml").write_text("model: {}")
    (folder / "LOUD.civitai.info").write_text("{}")

    entries = scan([ModelFolder(folder)])

    assert {entry.path.name: entry.kind for entry in entries} == {"LOUD.SAFETENSORS": "checkpoint",
                                                                "no_extension": "lora"}
    assert {entry.name for entry in entries} == {"LOUD", "no_extension"}


def test_diffusers_pipeline_folders_are_not_taken_apart(tmp_path: Path) -> None:
    folder = tmp_path / "models"
    write_model(folder / "pipeline/unet/diffusion_pytorch_model.safetensors", {"conv_in.weight": (4, 4)})
    (folder / "pipeline/model_index.json").write_text("{}")
    write_model(folder / "single.safetensors", SD1)
    assert [entry.name for entry in scan([ModelFolder(folder)])] == ["single"]


def test_the_same_file_in_two_folders_is_listed_once(tmp_path: Path) -> None:
    write_model(tmp_path / "models/sub/one.safetensors", SD1)
    entries = scan([ModelFolder(tmp_path / "models"), ModelFolder(tmp_path / "models/sub")])
    assert len(entries) == 1


def test_missing_folders_are_skipped(tmp_path: Path) -> None:
    assert scan([ModelFolder(tmp_path / "nowhere")]) == []


def test_hash_is_reported_only_when_already_cached(tmp_path: Path) -> None:
    path = write_model(tmp_path / "models/model.safetensors", SD1)
    cache = HashCache(tmp_path / "hashes.json")
    assert scan([ModelFolder(path.parent)], hash_cache=cache)[0].hash is None
    expected = cache.compute(path).autov2
    (entry,) = scan([ModelFolder(path.parent)], hash_cache=cache)
    assert entry.hash == expected
    assert entry.to_json() == {"path": str(path), "name": "model", "kind": "checkpoint", "architecture": "sd1",
                               "inpaint": False, "prediction": "epsilon", "size": path.stat().st_size,
                               "hash": expected, "supported": True, "reason": "", "unsafe": False}


# ---------------------------------------------------------------- find_model

@pytest.fixture
def library(tmp_path: Path):
    folder = tmp_path / "models"
    write_model(folder / "DreamShaper_8.safetensors", SD1)
    write_model(folder / "XL/juggernaut.safetensors", SDXL)
    write_model(folder / "detail.safetensors", LORA)
    (folder / "broken.safetensors").write_bytes(b"")
    cache = HashCache(tmp_path / "hashes.json")
    cache.compute(folder / "XL/juggernaut.safetensors")
    return folder, scan([ModelFolder(folder)], hash_cache=cache)


@pytest.mark.parametrize("query", ["dreamshaper_8", "DreamShaper_8.safetensors", "DREAMSHAPER_8",
                                   "DreamShaper_8.safetensors [879db523c3]"])
def test_find_model_by_name_in_any_case(library, query: str) -> None:
    _, entries = library
    assert find_model(entries, query).name == "DreamShaper_8"


def test_find_model_by_relative_path_path_and_hash(library) -> None:
    folder, entries = library
    juggernaut = folder / "XL/juggernaut.safetensors"
    assert find_model(entries, "XL/juggernaut").path == juggernaut
    assert find_model(entries, "xl\\juggernaut.safetensors").path == juggernaut
    assert find_model(entries, str(juggernaut)).path == juggernaut
    assert find_model(entries, f"other [{find_model(entries, 'juggernaut').hash}]").path == juggernaut


def test_find_model_for_other_kinds(library) -> None:
    _, entries = library
    assert find_model(entries, "detail", kind="lora").kind == "lora"


def test_find_model_explains_wrong_kind_unusable_and_missing(library) -> None:
    _, entries = library
    with pytest.raises(ModelFileError, match="detail.safetensors is a lora, not a checkpoint"):
        find_model(entries, "detail")
    with pytest.raises(ModelFileError, match=r"broken.safetensors cannot be used.*empty"):
        find_model(entries, "broken")
    with pytest.raises(ModelFileError) as caught:
        find_model(entries, "dreamshaper8")
    assert "No checkpoint named 'dreamshaper8'" in caught.value.message
    assert "DreamShaper_8" in caught.value.hint

"""Recognising file formats, checking safetensors headers, opening and converting model files."""

from __future__ import annotations

import json
import struct
import sys
import types
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from core.errors import ModelFileError
from core.models.filetype import FileFormat, sniff
from core.models.safe_load import convert_to_safetensors, load_state_dict
from core.models.safetensors_header import read_header


def write_safetensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict | None = None) -> Path:
    save_file(tensors, path, metadata=metadata)
    return path


def write_raw_safetensors(path: Path, header: dict, data: bytes) -> Path:
    encoded = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + data)
    return path


@pytest.fixture
def small_model(tmp_path: Path) -> Path:
    return write_safetensors(tmp_path / "small.safetensors",
                             {"a.weight": torch.ones(4, 3), "b.bias": torch.arange(5, dtype=torch.float16)},
                             {"modelspec.title": "small"})


# ---------------------------------------------------------------- sniffing

@pytest.mark.parametrize("name", ["model.ckpt", "model.bin", "model", "model.SAFETENSORS"])
def test_sniff_ignores_the_file_name(tmp_path: Path, small_model: Path, name: str) -> None:
    renamed = tmp_path / name
    renamed.write_bytes(small_model.read_bytes())
    assert sniff(renamed) is FileFormat.SAFETENSORS


def test_sniff_recognises_torch_formats(tmp_path: Path) -> None:
    zip_file, legacy_file = tmp_path / "zip.safetensors", tmp_path / "legacy.safetensors"
    torch.save({"w": torch.zeros(2)}, zip_file)
    torch.save({"w": torch.zeros(2)}, legacy_file, _use_new_zipfile_serialization=False)
    assert sniff(zip_file) is FileFormat.TORCH_ZIP
    assert sniff(legacy_file) is FileFormat.LEGACY_PICKLE


@pytest.mark.parametrize("content, expected", [
    (b"", FileFormat.EMPTY),
    (b"\xef\xbb\xbf  \n<!DOCTYPE html><html><body>Rate limited</body></html>", FileFormat.HTML),
    (b"<html><head><title>404</title>", FileFormat.HTML),
    (b'{"error": "unauthorized"}', FileFormat.JSON),
    (b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\n", FileFormat.TEXT),
    (bytes(range(256)) * 4, FileFormat.UNKNOWN),
])
def test_sniff_recognises_things_that_are_not_models(tmp_path: Path, content: bytes, expected: FileFormat) -> None:
    path = tmp_path / "model.safetensors"
    path.write_bytes(content)
    assert sniff(path) is expected


# ---------------------------------------------------------------- safetensors header checks

def test_read_header_gives_names_shapes_dtypes_and_metadata(small_model: Path) -> None:
    header = read_header(small_model)
    assert header.shapes == {"a.weight": (4, 3), "b.bias": (5,)}
    assert header.tensors["b.bias"].dtype == "F16"
    assert header.metadata == {"modelspec.title": "small"}


def test_missing_file_says_it_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="does not exist"):
        read_header(tmp_path / "gone.safetensors")


def test_empty_file_says_the_download_failed(tmp_path: Path) -> None:
    path = tmp_path / "empty.safetensors"
    path.write_bytes(b"")
    with pytest.raises(ModelFileError, match=r"empty \(0 bytes\).*Download it again"):
        read_header(path)


def test_truncated_download_names_expected_and_actual_sizes(tmp_path: Path) -> None:
    path = write_safetensors(tmp_path / "cut.safetensors", {"w": torch.zeros(1000, 1000)})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError) as caught:
        read_header(path)
    assert "is truncated: the header says 4.0 MB of tensors but the file has 2.0 MB" in caught.value.message
    assert caught.value.hint == "Download it again."


def test_file_cut_inside_the_header_is_truncated(tmp_path: Path) -> None:
    path = write_safetensors(tmp_path / "cut.safetensors", {f"w{i}": torch.zeros(1) for i in range(50)})
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ModelFileError, match="truncated"):
        read_header(path)


def test_absurd_header_size_is_rejected_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "absurd.safetensors"
    path.write_bytes(struct.pack("<Q", 2**40) + b"{" + bytes(100))
    with pytest.raises(ModelFileError, match="its header claims to be 1099.5 GB, which no model has"):
        read_header(path)


def test_header_that_is_not_json_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "bad.safetensors"
    path.write_bytes(struct.pack("<Q", 10) + b"{not json!" + bytes(10))
    with pytest.raises(ModelFileError, match="not valid JSON"):
        read_header(path)


def test_tensor_size_inconsistent_with_dtype_and_shape_is_reported(tmp_path: Path) -> None:
    header = {"w": {"dtype": "F32", "shape": [4, 4], "data_offsets": [0, 32]}}
    path = write_raw_safetensors(tmp_path / "odd.safetensors", header, bytes(64))
    with pytest.raises(ModelFileError, match=r"'w' is F32 \[4, 4\] but its data takes 32 bytes"):
        read_header(path)


# ---------------------------------------------------------------- opening

def test_load_state_dict_reads_safetensors(small_model: Path) -> None:
    tensors = load_state_dict(small_model)
    assert torch.equal(tensors["a.weight"], torch.ones(4, 3))


def test_load_state_dict_unwraps_lightning_and_basicsr_nesting(tmp_path: Path) -> None:
    lightning, basicsr = tmp_path / "a.ckpt", tmp_path / "b.pth"
    torch.save({"state_dict": {"model.w": torch.ones(2)}, "global_step": 10}, lightning)
    torch.save({"params_ema": {"conv_first.weight": torch.ones(3)}, "params": {"conv_first.weight": torch.zeros(3)}},
               basicsr)
    assert list(load_state_dict(lightning)) == ["model.w"]
    assert torch.equal(load_state_dict(basicsr)["conv_first.weight"], torch.ones(3))


@pytest.mark.parametrize("content, message", [
    (b"", r"empty \(0 bytes\)"),
    (b"<!DOCTYPE html><html>Sign in to download</html>", "is a web page, not a model"),
    (b"version https://git-lfs.github.com/spec/v1\n", "Git LFS pointer"),
    (bytes(range(256)) * 8, "not a model file Easel knows"),
])
def test_load_state_dict_explains_files_that_are_not_models(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "model.ckpt"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match=message):
        load_state_dict(path)


def test_early_sd_checkpoint_with_a_lightning_callback_opens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    names = ["pytorch_lightning", "pytorch_lightning.callbacks", "pytorch_lightning.callbacks.model_checkpoint"]
    for name in names:
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    model_checkpoint = type("ModelCheckpoint", (), {"__module__": names[-1]})
    sys.modules[names[-1]].ModelCheckpoint = model_checkpoint  # type: ignore[attr-defined]
    callback = model_checkpoint()
    callback.best_model_path = "epoch=5.ckpt"
    path = tmp_path / "sd-v1-4.ckpt"
    torch.save({"state_dict": {"model.w": torch.ones(2)}, "callbacks": {model_checkpoint: {"best": 1}},
                "checkpoint_callback": callback}, path)
    for name in names:
        monkeypatch.delitem(sys.modules, name)

    assert torch.equal(load_state_dict(path)["model.w"], torch.ones(2))


def test_truncated_torch_checkpoint_is_reported_as_damaged(tmp_path: Path) -> None:
    path = tmp_path / "cut.ckpt"
    torch.save({"w": torch.zeros(10000)}, path)
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(ModelFileError, match="damaged or incomplete"):
        load_state_dict(path)


# ---------------------------------------------------------------- converting

def test_convert_to_safetensors_round_trip_leaves_the_original_untouched(tmp_path: Path) -> None:
    original = tmp_path / "old.ckpt"
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    tensors = {"w": base, "w_tied": base, "column": base[:, 1], "half": torch.ones(2, dtype=torch.float16)}
    torch.save({"state_dict": tensors, "global_step": 3}, original)
    before = original.read_bytes()

    converted = convert_to_safetensors(original)

    assert converted == tmp_path / "old.safetensors"
    assert original.read_bytes() == before
    loaded = load_file(converted)
    assert set(loaded) == set(tensors)
    for name, tensor in tensors.items():
        assert torch.equal(loaded[name], tensor) and loaded[name].dtype == tensor.dtype
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp file left


def test_convert_refuses_to_overwrite_an_existing_file(tmp_path: Path, small_model: Path) -> None:
    original = tmp_path / "small.ckpt"
    torch.save({"w": torch.zeros(1)}, original)
    before = small_model.read_bytes()
    with pytest.raises(ModelFileError, match="already exists"):
        convert_to_safetensors(original)
    assert small_model.read_bytes() == before


def test_text_with_a_brace_after_eight_characters_is_not_safetensors(tmp_path: Path) -> None:
    path = tmp_path / "notes.safetensors"
    path.write_text("settings{" + "é" * 400)
    assert sniff(path) is FileFormat.TEXT

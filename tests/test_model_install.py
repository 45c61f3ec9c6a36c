"""Adding a dropped or chosen model file: it lands in the folder of its kind, never clobbering another."""

from __future__ import annotations

import pytest

from core.errors import ModelFileError
from core.models.install import install_model_file
from core.paths import AppPaths


def test_a_checkpoint_goes_into_checkpoints_and_an_existing_copy_is_reused(easel_home, tiny_models):
    models_dir = AppPaths(easel_home).ensure().models_dir
    source = tiny_models["sd1"].checkpoint
    target = install_model_file(source, models_dir)
    assert target == models_dir / "checkpoints" / source.name
    assert target.read_bytes() == source.read_bytes()
    assert install_model_file(source, models_dir) == target


def test_a_copy_across_disks_is_complete_and_reports_progress(easel_home, tiny_models, monkeypatch):
    models_dir = AppPaths(easel_home).ensure().models_dir
    source = tiny_models["sdxl"].checkpoint

    def no_links(*args: object) -> None:
        raise OSError("Invalid cross-device link")

    monkeypatch.setattr("core.models.install.os.link", no_links)
    progress: list[tuple[int, int]] = []
    target = install_model_file(source, models_dir, lambda done, total: progress.append((done, total)))
    assert target.read_bytes() == source.read_bytes()
    assert progress[-1] == (source.stat().st_size, source.stat().st_size)
    assert not list(target.parent.glob(".*.partial"))


def test_a_different_file_with_the_same_name_is_never_overwritten(easel_home, tiny_models, tmp_path):
    models_dir = AppPaths(easel_home).ensure().models_dir
    install_model_file(tiny_models["sd1"].checkpoint, models_dir)
    impostor = tmp_path / tiny_models["sd1"].checkpoint.name
    impostor.write_bytes(tiny_models["sd2"].checkpoint.read_bytes())
    with pytest.raises(ModelFileError, match="already exists"):
        install_model_file(impostor, models_dir)


def test_a_file_that_is_not_a_model_is_refused_with_the_reason(easel_home, tmp_path):
    page = tmp_path / "model.safetensors"
    page.write_text("<!DOCTYPE html><html><body>Sign in to download</body></html>")
    with pytest.raises(ModelFileError, match="cannot be added"):
        install_model_file(page, AppPaths(easel_home).ensure().models_dir)
    assert not (AppPaths(easel_home).models_dir / "checkpoints" / page.name).exists()

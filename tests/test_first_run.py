"""First run: the A1111 and ComfyUI models a person already has are found; the recommendation fits the machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import core.first_run as first_run
from core.downloads import SD15, SDXL, recommend_model
from core.first_run import find_model_installs
from core.system_memory import gpu_memory_bytes, system_memory_bytes

GB = 1024**3


def checkpoints(folder: Path, *names: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"weights")


def a1111(root: Path, *names: str) -> Path:
    (root / "models" / "Lora").mkdir(parents=True)
    (root / "webui.py").write_text("# A1111")
    checkpoints(root / "models" / "Stable-diffusion", *names)
    return root


def comfyui(root: Path, *names: str) -> Path:
    (root / "custom_nodes").mkdir(parents=True)
    checkpoints(root / "models" / "checkpoints", *names)
    return root


def test_a1111_and_comfyui_installs_in_the_usual_places_are_found_best_first(tmp_path):
    webui = a1111(tmp_path / "stable-diffusion-webui", "dreamshaper_8.safetensors", "v1-5.ckpt")
    checkpoints(webui / "models" / "Stable-diffusion" / "SDXL", "juggernaut.safetensors")
    for not_a_model in ("dreamshaper_8.yaml", "dreamshaper_8.preview.png", "big.safetensors.abc.incomplete"):
        (webui / "models" / "Stable-diffusion" / not_a_model).write_text("")
    portable = comfyui(tmp_path / "Downloads" / "ComfyUI_windows_portable" / "ComfyUI", "sd_xl_base_1.0.safetensors")
    desktop = comfyui(tmp_path / "Documents" / "ComfyUI")
    forge = a1111(tmp_path / "webui_forge_cu121_torch231" / "webui", "flux.safetensors")

    found = find_model_installs(home=tmp_path)

    assert [(f.path, f.kind, f.checkpoints) for f in found] == [
        (webui, "a1111", 3), (forge, "a1111", 1), (portable, "comfyui", 1), (desktop, "comfyui", 0)]
    assert found[0].checkpoint_folder == webui / "models" / "Stable-diffusion"


def test_a_project_that_merely_has_a_models_checkpoints_folder_is_not_taken_for_comfyui(tmp_path):
    checkpoints(tmp_path / "my-gan" / "models" / "checkpoints", "epoch_10.pt")
    assert find_model_installs(home=tmp_path) == []


def test_an_install_reached_twice_is_listed_once(tmp_path):
    webui = a1111(tmp_path / "stable-diffusion-webui", "a.safetensors")
    (tmp_path / "AI").mkdir()
    (tmp_path / "AI" / "sd").symlink_to(webui, target_is_directory=True)
    found = find_model_installs(home=tmp_path, extra=[webui])
    assert len(found) == 1 and found[0].path.resolve() == webui.resolve()


def test_stability_matrix_shared_models_are_found_once(tmp_path):
    library = tmp_path / "AppData" / "Roaming" / "StabilityMatrix"
    checkpoints(library / "Models" / "StableDiffusion", "a.safetensors", "b.safetensors")
    package = library / "Packages" / "stable-diffusion-webui"
    package.mkdir(parents=True)
    (package / "webui.py").write_text("")
    (package / "models").mkdir()
    (package / "models" / "Stable-diffusion").symlink_to(library / "Models" / "StableDiffusion")

    found = find_model_installs(home=tmp_path)

    assert len(found) == 1  # the package's model folder is the shared one
    assert found[0].checkpoints == 2
    assert found[0].checkpoint_folder.resolve() == (library / "Models" / "StableDiffusion").resolve()


def test_a_folder_chosen_by_hand_is_recognised(tmp_path):
    elsewhere = comfyui(tmp_path / "external" / "sd" / "comfy-install", "x.safetensors")
    found = find_model_installs(home=tmp_path / "empty-home", extra=[elsewhere])
    assert [(f.path, f.kind, f.checkpoints) for f in found] == [(elsewhere, "comfyui", 1)]


def test_folders_that_cannot_be_read_are_skipped_without_an_error(tmp_path, monkeypatch):
    webui = a1111(tmp_path / "stable-diffusion-webui", "a.safetensors")
    locked = a1111(tmp_path / "Desktop" / "locked-webui", "b.safetensors")
    (tmp_path / "Documents").mkdir()
    real_scandir, real_layout = os.scandir, first_run.install_layout

    def scandir(path):  # type: ignore[no-untyped-def]
        if Path(path) == tmp_path / "Documents":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    def install_layout(root: Path):  # type: ignore[no-untyped-def]
        if locked in (root, *root.parents):
            raise PermissionError(13, "Permission denied", str(root))
        return real_layout(root)

    monkeypatch.setattr(first_run.os, "scandir", scandir)
    monkeypatch.setattr(first_run, "install_layout", install_layout)
    assert [f.path for f in find_model_installs(home=tmp_path)] == [webui]


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="permissions do not bind root")
def test_a_folder_without_read_permission_is_skipped(tmp_path):
    webui = a1111(tmp_path / "stable-diffusion-webui", "a.safetensors")
    a1111(tmp_path / "Documents" / "stable-diffusion-webui", "b.safetensors")
    os.chmod(tmp_path / "Documents", 0)
    try:
        assert [f.path for f in find_model_installs(home=tmp_path)] == [webui]
    finally:
        os.chmod(tmp_path / "Documents", 0o755)


def test_no_installs_means_an_empty_list(tmp_path):
    assert find_model_installs(home=tmp_path / "does-not-exist") == []


@pytest.mark.parametrize("memory_gb, expected", [(8, SD15), (15.8, SDXL), (16, SDXL), (32, SDXL)])
def test_macs_get_sd15_below_16_gb_and_sdxl_from_there(memory_gb, expected):
    model = recommend_model(int(memory_gb * GB), "Darwin")
    assert (model.repo_id, model.filename, model.sha256, model.size) == (
        expected.repo_id, expected.filename, expected.sha256, expected.size)
    assert "memory" in model.why and f"{round(memory_gb)} GB" in model.why


def test_the_8_gb_mac_is_told_why_not_sdxl():
    why = recommend_model(8 * GB, "Darwin").why
    assert "SDXL" in why and "swap" in why


@pytest.mark.parametrize("system", ["Windows", "Linux"])
def test_pcs_are_judged_by_their_graphics_card(system):
    assert recommend_model(32 * GB, system, gpu_memory_bytes=24 * GB).architecture == "sdxl"
    small_card = recommend_model(32 * GB, system, gpu_memory_bytes=8 * GB)
    assert small_card.architecture == "sd1" and "8 GB" in small_card.why
    unknown_card = recommend_model(64 * GB, system)
    assert unknown_card.architecture == "sd1" and "memory" in unknown_card.why
    little_ram = recommend_model(8 * GB, system, gpu_memory_bytes=24 * GB)
    assert little_ram.architecture == "sd1" and "8 GB" in little_ram.why


@pytest.mark.skipif(not Path("/proc/meminfo").exists(), reason="Linux only")
def test_system_memory_matches_what_linux_reports():
    total_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                    if line.startswith("MemTotal:"))
    assert abs(system_memory_bytes() - total_kb * 1024) < 1024 * 1024


def test_gpu_memory_is_read_from_nvidia_smi_and_absent_without_it():
    def smi(args, **kwargs):  # type: ignore[no-untyped-def]
        return subprocess.CompletedProcess(args, 0, stdout="8192\n24564\n", stderr="")

    def missing(args, **kwargs):  # type: ignore[no-untyped-def]
        raise FileNotFoundError("nvidia-smi")

    assert gpu_memory_bytes(run=smi) == 24564 * 1024 * 1024
    assert gpu_memory_bytes(run=missing) is None

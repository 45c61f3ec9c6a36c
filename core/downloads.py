"""The one download Easel offers: a recommended checkpoint, chosen for this computer's memory.

Nothing here runs unless the person clicks Download. The file arrives as `<name>.<sha>.incomplete` beside
its final name, continues from there after a cancel, a dropped line or a restart, and takes its final
name only once its SHA-256 matches.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from core.download_errors import describe_download_error
from core.errors import EaselError, ModelFileError
from core.hub_transfer import DownloadCancelled, FileRequest, RemoteFile, fetch_missing_bytes, remote_file
from core.offline import hub_online

__all__ = ["DownloadCancelled", "RecommendedModel", "SD15", "SDXL", "download_model", "partial_path",
           "recommend_model"]

GIB = 1024**3
HUGGINGFACE = "https://huggingface.co"
MAC_SDXL_FROM_GB = 16  # unified memory: weights, activations, the system and other apps share it
PC_SDXL_GPU_FROM_GB = 12  # SDXL at 1024² in fp16 without offloading parts to the CPU
PC_SDXL_RAM_FROM_GB = 16  # loading a single-file SDXL checkpoint peaks well above its 7 GB
HASH_BLOCK = 8 * 1024 * 1024


@dataclass(frozen=True)
class RecommendedModel:
    repo_id: str
    filename: str
    revision: str
    sha256: str | None  # None: the hub's LFS SHA-256, read when the download starts
    size: int | None  # None: the hub's size, likewise
    architecture: str
    title: str
    why: str = ""


SD15 = RecommendedModel(
    repo_id="stable-diffusion-v1-5/stable-diffusion-v1-5", filename="v1-5-pruned-emaonly.safetensors",
    revision="main", sha256="6ce0161689b3853acaa03779ec93eafe75a02f4ced659bee03f50797806fa2fa",
    size=4_265_146_304, architecture="sd1", title="Stable Diffusion 1.5")
SDXL = RecommendedModel(
    repo_id="stabilityai/stable-diffusion-xl-base-1.0", filename="sd_xl_base_1.0.safetensors",
    revision="main", sha256="31e35c80fc4829d14f90153f4c74cd59c90b779f6afe05a74cd6120b893f7e5b",
    size=6_938_078_334, architecture="sdxl", title="Stable Diffusion XL 1.0 (base)")


def recommend_model(total_memory_bytes: int, system: str, gpu_memory_bytes: int | None = None) -> RecommendedModel:
    """SD 1.5 or SDXL for this computer, with `why` in words.

    `system` is platform.system(). On a Mac `total_memory_bytes` is the unified memory the GPU shares.
    Elsewhere the GPU's own memory decides (`gpu_memory_bytes`, e.g. from first_run.gpu_memory_bytes());
    when it is unknown, SD 1.5 is the choice that runs everywhere.
    """
    ram = _nominal_gb(total_memory_bytes)
    if system == "Darwin":
        return _for_mac(ram)
    return _for_pc(ram, None if gpu_memory_bytes is None else _nominal_gb(gpu_memory_bytes))


def _for_mac(ram: int) -> RecommendedModel:
    if ram >= MAC_SDXL_FROM_GB:
        return _with_why(SDXL, f"This Mac has {ram} GB of memory, enough for SDXL: about 7 GB of weights in "
                               "half precision plus room to work at 1024×1024. It makes sharper, better "
                               "composed images than SD 1.5.")
    return _with_why(SD15, f"This Mac has {ram} GB of memory, shared by macOS, your apps and the GPU. SDXL needs "
                           "about 7 GB for its weights alone plus working room at 1024×1024, so it would swap and "
                           f"crawl; SD 1.5 runs comfortably at 512×512. SDXL suits Macs with "
                           f"{MAC_SDXL_FROM_GB} GB or more.")


def _for_pc(ram: int, gpu: int | None) -> RecommendedModel:
    if gpu is None:
        return _with_why(SD15, "Easel could not tell how much memory this computer's graphics card has. SD 1.5 "
                               "runs on cards with 4 GB and even on the processor; SDXL needs a card with about "
                               f"{PC_SDXL_GPU_FROM_GB} GB of memory.")
    if gpu < PC_SDXL_GPU_FROM_GB:
        return _with_why(SD15, f"This graphics card has {gpu} GB of memory. SDXL needs about "
                               f"{PC_SDXL_GPU_FROM_GB} GB to run without slow offloading; SD 1.5 fits comfortably.")
    if ram < PC_SDXL_RAM_FROM_GB:
        return _with_why(SD15, f"The graphics card has {gpu} GB of memory, but the computer has {ram} GB: loading "
                               f"SDXL needs about {PC_SDXL_RAM_FROM_GB} GB, so SD 1.5 is the safer choice.")
    return _with_why(SDXL, f"This graphics card has {gpu} GB of memory and the computer {ram} GB: enough for "
                           "SDXL, which makes sharper, better composed 1024×1024 images than SD 1.5.")


def _nominal_gb(memory_bytes: int) -> int:
    # A "16 GB" machine reports a little less (firmware, integrated graphics); round to what the box says.
    return round(memory_bytes / GIB)


def _with_why(model: RecommendedModel, why: str) -> RecommendedModel:
    return dataclasses.replace(model, why=why)


def partial_path(model: RecommendedModel, dest_dir: Path) -> Path:
    """Where the bytes of an unfinished download of `model` wait for the next try."""
    if model.sha256 is None:  # not known before asking the hub: no partial file can be named yet
        return Path(dest_dir) / f"{model.filename}.incomplete"
    return Path(dest_dir) / f"{model.filename}.{model.sha256[:10]}.incomplete"


def download_model(model: RecommendedModel, dest_dir: Path, endpoint: str | None,
                   on_progress: Callable[[int, int], None], cancel: Callable[[], bool]) -> Path:
    """Download `model` into `dest_dir` (the checkpoints folder) from `endpoint` (None or "": huggingface.co).

    Continues an earlier partial download; checks the SHA-256; raises DownloadCancelled when `cancel()`
    turns true (the partial file stays), ModelFileError for a damaged or different file, EaselError for
    anything else, each with what to do.
    """
    dest_dir = Path(dest_dir)
    final = dest_dir / model.filename
    endpoint = (endpoint or _default_endpoint()).strip().rstrip("/")
    what = f"{model.repo_id}/{model.filename}"
    try:
        model = _pinned(model, endpoint)
        assert model.sha256 is not None and model.size is not None
        partial = partial_path(model, dest_dir)
        request = FileRequest(model.repo_id, model.filename, model.revision, endpoint, model.size)
        if final.exists():
            return _already_there(final, model, on_progress, cancel)
        dest_dir.mkdir(parents=True, exist_ok=True)
        _check_free_space(dest_dir, model.size - _size_or_zero(partial))
        with hub_online():
            fetch_missing_bytes(request, partial, _expect(model, endpoint), on_progress, cancel)
        _verify(partial, model, cancel)
        _flush_to_disk(partial)
        os.replace(partial, final)
    except EaselError:
        raise
    except Exception as error:
        raise describe_download_error(error, endpoint, dest_dir, what) from error
    return final


def _pinned(model: RecommendedModel, endpoint: str) -> RecommendedModel:
    """`model` with its SHA-256 and size; the unknown ones taken from the hub's LFS metadata (one HEAD)."""
    if model.sha256 is not None and model.size is not None:
        return model
    with hub_online():
        remote = remote_file(FileRequest(model.repo_id, model.filename, model.revision, endpoint, 0))
    if remote.sha256 is None or remote.size is None:
        raise ModelFileError(f"{endpoint} does not say the SHA-256 of {model.filename}, so Easel cannot check "
                             "the download.", _OTHER_SOURCE_HINT)
    return dataclasses.replace(model, sha256=model.sha256 or remote.sha256, size=model.size or remote.size)


def _default_endpoint() -> str:
    """huggingface.co, or the HF_ENDPOINT a person set for all Hugging Face tools (often a mirror)."""
    from huggingface_hub import constants

    return constants.ENDPOINT or HUGGINGFACE


def _already_there(final: Path, model: RecommendedModel, on_progress: Callable[[int, int], None],
                   cancel: Callable[[], bool]) -> Path:
    if final.stat().st_size == model.size and _sha256(final, cancel) == model.sha256:
        on_progress(model.size, model.size)
        return final
    raise ModelFileError(f"{final.parent} already holds a different file named {final.name}.",
                         "Rename or move that file, then Download again.", details=str(final))


def _expect(model: RecommendedModel, endpoint: str) -> Callable[[RemoteFile], None]:
    """Refuse a different file before downloading gigabytes of it."""
    def check(remote: RemoteFile) -> None:
        if remote.size is not None and remote.size != model.size:
            raise ModelFileError(f"{endpoint} offers a {model.filename} of {remote.size:,} bytes; Easel expects "
                                 f"{model.size:,}.", _OTHER_SOURCE_HINT)
        if remote.sha256 is not None and remote.sha256 != model.sha256:
            raise ModelFileError(f"{endpoint} offers a different {model.filename} (SHA-256 {remote.sha256[:12]}…, "
                                 f"expected {model.sha256[:12]}…).", _OTHER_SOURCE_HINT)
    return check


_OTHER_SOURCE_HINT = ("The mirror may hold another version: change or clear Settings → Hub endpoint, "
                      "then Download again.")


def _check_free_space(folder: Path, needed: int) -> None:
    import shutil

    free = shutil.disk_usage(folder).free
    if free < needed:
        raise EaselError(f"Not enough space in {folder}: the download needs {needed / 1e9:.1f} GB, "
                         f"{free / 1e9:.1f} GB are free.",
                         "Free some space or choose another model folder in Settings, then Download again.")


def _verify(partial: Path, model: RecommendedModel, cancel: Callable[[], bool]) -> None:
    actual = _sha256(partial, cancel)
    if actual != model.sha256:
        partial.unlink(missing_ok=True)
        raise ModelFileError(
            f"The downloaded {model.filename} is damaged: its SHA-256 is {actual[:12]}…, not {model.sha256[:12]}….",
            "It was deleted. Download again; if it happens again, the mirror in Settings → Hub endpoint may serve "
            "a broken copy — clear it to use huggingface.co or try another mirror.", details=str(partial))


def _sha256(path: Path, cancel: Callable[[], bool]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while block := file.read(HASH_BLOCK):
            digest.update(block)
            if cancel():
                raise DownloadCancelled("Checking the download was stopped.", "Download again checks it again.")
    return digest.hexdigest()


def _flush_to_disk(path: Path) -> None:
    """So that a power cut after the rename cannot leave a checked name over unwritten data."""
    with open(path, "rb+") as file:
        os.fsync(file.fileno())


def _size_or_zero(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0

"""The weights files ControlNet's annotators (preprocessors and pose detectors) need, and where to find them.

Easel keeps the files it downloads in `<models>/annotators/`. A person coming from A1111 already has them
where the sd-webui-controlnet extension put them, `extensions/sd-webui-controlnet/annotator/downloads/<name>/`
beside the A1111 `models` folder, and Easel reads them from there too.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from core.downloads import RecommendedModel
from core.errors import ModelFileError

ANNOTATORS_REPO = "lllyasviel/Annotators"
EXTENSION_DOWNLOADS = Path("extensions/sd-webui-controlnet/annotator/downloads")


@dataclass(frozen=True)
class AnnotatorFile:
    filename: str  # e.g. "ControlNetHED.pth", "hand_pose_model.pth"
    network: str  # in words, for messages: "the HED edge network"
    repo_id: str = ANNOTATORS_REPO
    sha256: str | None = None  # known published SHA-256; None = verified against the hub's LFS SHA-256
    size: int | None = None
    extension_subfolder: str = ""  # A1111 sd-webui-controlnet keeps it in annotator/downloads/<this>/
    subfolder: str = ""  # Easel keeps it in <models>/annotators/<this>/ (for generic hub names: model.safetensors)


BODY_POSE = AnnotatorFile(
    "body_pose_model.pth", "the OpenPose body network",
    sha256="25a948c16078b0f08e236bda51a385d855ef4c153598947c28c0d47ed94bb746", size=209_267_595,
    extension_subfolder="openpose")
HAND_POSE = AnnotatorFile("hand_pose_model.pth", "the OpenPose hand network", extension_subfolder="openpose")
FACE_POSE = AnnotatorFile("facenet.pth", "the OpenPose face network", extension_subfolder="openpose")
HED = AnnotatorFile("ControlNetHED.pth", "the HED soft-edge network", extension_subfolder="hed")
LINEART_REALISTIC = AnnotatorFile("sk_model.pth", "the realistic line art network", extension_subfolder="lineart")
LINEART_COARSE = AnnotatorFile("sk_model2.pth", "the coarse line art network", extension_subfolder="lineart")
NORMAL_BAE = AnnotatorFile("scannet.pt", "the NormalBae surface normal network", extension_subfolder="normal_bae")
DEPTH_ANYTHING_V2_SMALL = AnnotatorFile(
    "model.safetensors", "Depth Anything V2 Small", repo_id="depth-anything/Depth-Anything-V2-Small-hf",
    subfolder="depth-anything-v2-small")


def annotators_folder(models_dir: Path) -> Path:
    """<models>/annotators, where Easel downloads annotator weights to."""
    return Path(models_dir) / "annotators"


def download_folder(file: AnnotatorFile, models_dir: Path) -> Path:
    """The folder Easel downloads (or copies) `file` into."""
    folder = annotators_folder(models_dir)
    return folder / file.subfolder if file.subfolder else folder


def find_annotator(file: AnnotatorFile, models_dir: Path) -> Path | None:
    """`file` in <models>/annotators, or where A1111's ControlNet extension keeps it; None if nowhere.

    `models_dir` may be Easel's models folder, an A1111 install's `models` folder (whose extensions folder
    sits beside it) or the A1111 install root.
    """
    models_dir = Path(models_dir)
    candidates = [download_folder(file, models_dir) / file.filename]
    if not file.subfolder:
        candidates.append(annotators_folder(models_dir) / file.filename)
    for base in (models_dir, models_dir.parent):
        extension = base / EXTENSION_DOWNLOADS
        if file.extension_subfolder:
            candidates.append(extension / file.extension_subfolder / file.filename)
        if not file.subfolder:
            candidates.append(extension / file.filename)
    return next((path for path in candidates if path.is_file()), None)


def annotator_download(file: AnnotatorFile) -> RecommendedModel:
    """`file` as the downloader (core.downloads.download_model, desktop DownloadTask) takes it.

    A None SHA-256 or size is taken from the hub's LFS metadata when the download starts and checked then.
    """
    return RecommendedModel(repo_id=file.repo_id, filename=file.filename, revision="main", sha256=file.sha256,
                            size=file.size, architecture="annotator", title=_capitalised(file.network))


def missing_weights_error(file: AnnotatorFile, models_dir: Path) -> ModelFileError:
    """The message for a missing weights file: which file, from where, where to put it, and the download."""
    folder = download_folder(file, models_dir)
    return ModelFileError(
        f"{_capitalised(file.network)} needs its weights, {file.filename}, and Easel did not find it.",
        f"Download it in the ControlNet unit (Download…), or get {file.filename} from "
        f"https://huggingface.co/{file.repo_id} and put it in {folder}.",
        details=f"Looked in {folder} and in {EXTENSION_DOWNLOADS}/{file.extension_subfolder or ''} beside "
                f"{models_dir}.")


def install_annotator(source: Path, file: AnnotatorFile, models_dir: Path) -> Path:
    """A file the person chose, linked (same disk) or copied into where Easel keeps `file`, under its name.

    What it holds is checked when a preprocessor loads it; a different file already there is never replaced.
    """
    source = Path(source)
    if not source.is_file():
        raise ModelFileError(f"{source} is not a file.", f"Choose {file.filename}.")
    target = download_folder(file, models_dir) / file.filename
    if target.exists():
        if target.samefile(source) or target.stat().st_size == source.stat().st_size:
            return target
        raise ModelFileError(f"{target.parent} already holds a different {file.filename}.",
                             "Move that file away first if the one you chose should replace it.", details=str(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        partial = target.with_name(f".{target.name}.partial")
        try:
            shutil.copyfile(source, partial)
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
    return target


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]

"""Find model files in Easel's, A1111's and ComfyUI's folders, and say what each one is.

Scanning only reads headers: it never copies, converts or fully loads a file, and a bad file
becomes an entry with the reason instead of an error.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from core.errors import EaselError, ModelFileError, UnsafeFileError
from core.models.detect import ModelInfo, describe, detect_model
from core.models.filetype import sniff
from core.models.hashing import HashCache
from core.paths import AppPaths

MODEL_EXTENSIONS = frozenset({".safetensors", ".sft", ".ckpt", ".pt", ".pth", ".bin"})

EASEL_SUBFOLDERS = {"checkpoints": "checkpoint", "loras": "lora", "vae": "vae", "controlnet": "controlnet",
                    "upscalers": "upscaler", "embeddings": "embedding"}
A1111_SUBFOLDERS = {"models/Stable-diffusion": "checkpoint", "models/Lora": "lora", "models/LyCORIS": "lora",
                    "models/VAE": "vae", "models/ControlNet": "controlnet", "models/ESRGAN": "upscaler",
                    "models/RealESRGAN": "upscaler", "models/SwinIR": "upscaler", "embeddings": "embedding",
                    "extensions/sd-webui-controlnet/models": "controlnet"}
COMFYUI_SUBFOLDERS = {"models/checkpoints": "checkpoint", "models/loras": "lora", "models/vae": "vae",
                      "models/controlnet": "controlnet", "models/upscale_models": "upscaler",
                      "models/embeddings": "embedding"}


@dataclass(frozen=True)
class ModelFolder:
    path: Path
    kind_hint: str | None = None  # what the folder is meant to hold; each file is still detected


@dataclass(frozen=True)
class ModelFolders:
    folders: tuple[ModelFolder, ...] = ()

    @classmethod
    def easel(cls, paths: AppPaths) -> "ModelFolders":
        """Easel's own `models/` folder and its per-kind subfolders."""
        root = paths.models_dir
        return cls(tuple(ModelFolder(root / name, kind) for name, kind in EASEL_SUBFOLDERS.items()))

    @classmethod
    def from_install_root(cls, root: Path) -> "ModelFolders":
        """The model folders of an A1111 (or Forge) or a ComfyUI install, whichever `root` is."""
        root = Path(root).expanduser()
        layout = install_layout(root)
        if layout is None:
            raise EaselError(f"{root} does not look like an AUTOMATIC1111 or ComfyUI folder.",
                             "Choose the folder that contains the `models` folder (and webui.py or main.py).")
        subfolders = A1111_SUBFOLDERS if layout == "a1111" else COMFYUI_SUBFOLDERS
        return cls(tuple(ModelFolder(root / sub, kind) for sub, kind in subfolders.items()))

    def with_folder(self, path: Path, kind_hint: str | None = None) -> "ModelFolders":
        """These folders plus a user-chosen one."""
        return ModelFolders((*self.folders, ModelFolder(Path(path).expanduser(), kind_hint)))

    def __add__(self, other: "ModelFolders") -> "ModelFolders":
        return ModelFolders((*self.folders, *other.folders))

    def __iter__(self) -> Iterator[ModelFolder]:
        return iter(self.folders)


def install_layout(root: Path) -> str | None:
    """"a1111", "comfyui" or None, from the folders an install has."""
    if (root / "models" / "Stable-diffusion").is_dir() or (root / "webui.py").is_file():
        return "a1111"
    if (root / "models" / "checkpoints").is_dir() or (root / "comfy").is_dir():
        return "comfyui"
    return None


@dataclass(frozen=True)
class ModelEntry:
    path: Path
    name: str  # the file's stem: how prompts (<lora:name:1>) and infotext refer to it
    kind: str
    architecture: str | None
    inpaint: bool
    prediction: str | None
    size: int
    hash: str | None  # AutoV2, when the hash cache already knows it
    supported: bool
    reason: str
    unsafe: bool = False
    relative_path: str = ""  # inside the scanned folder, with "/" separators

    @property
    def description(self) -> str:
        info = ModelInfo(self.kind, self.architecture, self.inpaint, self.prediction, self.supported, self.reason,
                         frozenset({"unet", "text_encoder"}))
        return describe(info)

    def to_json(self) -> dict[str, Any]:
        return {"path": str(self.path), "name": self.name, "kind": self.kind, "architecture": self.architecture,
                "inpaint": self.inpaint, "prediction": self.prediction, "size": self.size, "hash": self.hash,
                "supported": self.supported, "reason": self.reason, "unsafe": self.unsafe}


def scan(folders: Iterable[ModelFolder], hash_cache: HashCache | None = None) -> list[ModelEntry]:
    """Every model file under `folders` (recursively), each file once, in a stable order."""
    entries: list[ModelEntry] = []
    seen: set[Path] = set()
    for folder in folders:
        for path in _model_files(Path(folder.path)):
            real = path.resolve()
            if real in seen:
                continue
            seen.add(real)
            entries.append(entry_for_file(path, folder.path, folder.kind_hint, hash_cache))
    return entries


def entry_for_file(path: Path, folder: Path | None = None, kind_hint: str | None = None,
                   hash_cache: HashCache | None = None) -> ModelEntry:
    """Detect one file. Never raises for a bad file: the entry carries the reason."""
    path = Path(path)
    unsafe = False
    try:
        info = detect_model(path, kind_hint)
    except UnsafeFileError as error:
        info, unsafe = ModelInfo("unknown", supported=False, reason=str(error)), True
    except ModelFileError as error:
        info = ModelInfo("unknown", supported=False, reason=str(error))
    except Exception as error:  # a scan must survive any file; the reason tells the person what happened
        info = ModelInfo("unknown", supported=False,
                         reason=f"Easel could not read {path.name}: {type(error).__name__}: {error}")
    return ModelEntry(
        path=path, name=path.stem if path.suffix.lower() in MODEL_EXTENSIONS else path.name,
        kind=info.kind, architecture=info.architecture, inpaint=info.inpaint, prediction=info.prediction,
        size=_size(path), hash=_cached_autov2(path, hash_cache), supported=info.supported, reason=info.reason,
        unsafe=unsafe, relative_path=_relative(path, folder),
    )


def _model_files(folder: Path) -> Iterator[Path]:
    if not folder.is_dir():
        return
    for directory, subdirectories, files in os.walk(folder):
        # A diffusers pipeline folder is one model in many files; it is not a set of single-file models.
        if "model_index.json" in files:
            subdirectories[:] = []
            continue
        subdirectories[:] = sorted(d for d in subdirectories if not d.startswith("."))
        for name in sorted(files):
            path = Path(directory) / name
            if _looks_like_model_file(path):
                yield path


def _looks_like_model_file(path: Path) -> bool:
    if path.name.startswith("."):
        return False
    suffix = path.suffix.lower()
    if suffix in MODEL_EXTENSIONS:
        return True
    if suffix:
        return False  # previews, .yaml configs, .civitai.info, .txt notes, partial downloads
    try:
        return sniff(path).is_model  # no extension: only if the content is a model (or a disguised pickle)
    except ModelFileError:
        return False


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _cached_autov2(path: Path, hash_cache: HashCache | None) -> str | None:
    if hash_cache is None:
        return None
    try:
        hashes = hash_cache.get(path)
    except ModelFileError:
        return None
    return hashes.autov2 if hashes else None


def _relative(path: Path, folder: Path | None) -> str:
    if folder is None:
        return path.name
    try:
        return path.relative_to(folder).as_posix()
    except ValueError:
        return path.name


# ---------------------------------------------------------------- finding a model by name

_A1111_TITLE = re.compile(r"^(?P<name>.*?)\s*\[(?P<hash>[0-9a-fA-F]{8,10})\]$")


def find_model(entries: Sequence[ModelEntry], name_or_path: str | Path,
               kind: str | None = "checkpoint") -> ModelEntry:
    """The entry a name refers to: a path, a relative path, a file name, a stem (any case), an A1111
    title "name.safetensors [hash]" or a hash. Raises ModelFileError saying why none fits."""
    text = str(name_or_path).strip()
    as_path = Path(text).expanduser()
    if as_path.is_absolute() or (os.sep in text and as_path.is_file()):
        return _find_by_path(entries, as_path, kind)
    title = _A1111_TITLE.match(text)
    wanted_hash = title["hash"].lower() if title else None
    if title:
        text = title["name"]
    matches = [entry for entry in entries if _name_matches(entry, text)]
    if not matches and wanted_hash:
        matches = [entry for entry in entries if entry.hash and entry.hash.startswith(wanted_hash)]
    if not matches and re.fullmatch(r"[0-9a-fA-F]{10}", text):
        matches = [entry for entry in entries if entry.hash == text.lower()]
    return _choose(matches, text, kind, entries)


def _find_by_path(entries: Sequence[ModelEntry], path: Path, kind: str | None) -> ModelEntry:
    if not path.is_file():
        raise ModelFileError(f"{path} does not exist.", "Check the path.")
    real = path.resolve()
    known = [entry for entry in entries if entry.path.resolve() == real]
    entry = known[0] if known else entry_for_file(path)
    _check_usable(entry, kind)
    return entry


def _name_matches(entry: ModelEntry, text: str) -> bool:
    wanted = text.replace("\\", "/").lower()
    relative = entry.relative_path.lower()
    relative_stem = relative[: -len(entry.path.suffix)] if entry.path.suffix else relative
    return wanted in (relative, relative_stem, entry.path.name.lower(), entry.name.lower())


def _choose(matches: list[ModelEntry], text: str, kind: str | None, entries: Sequence[ModelEntry]) -> ModelEntry:
    preferred = [entry for entry in matches if kind is None or entry.kind == kind]
    usable = [entry for entry in preferred if entry.supported]
    if usable:
        return usable[0]  # scan order: Easel's own folders first
    if matches:
        _check_usable((preferred or matches)[0], kind)
    noun = kind or "model"
    names = sorted({entry.name for entry in entries if kind is None or entry.kind == kind})
    close = difflib.get_close_matches(text, names, n=3, cutoff=0.5)
    hint = f"Did you mean {', '.join(close)}?" if close else "Put the file in a model folder and rescan."
    raise ModelFileError(f"No {noun} named '{text}' was found in your model folders.", hint)


def _check_usable(entry: ModelEntry, kind: str | None) -> None:
    if not entry.supported:
        raise ModelFileError(f"{entry.path.name} cannot be used. {entry.reason}".strip(), details=str(entry.path))
    if kind is not None and entry.kind != kind:
        raise ModelFileError(f"{entry.path.name} is {_article(entry.kind)} {entry.kind}, not {_article(kind)} {kind}.",
                             f"Choose {_article(kind)} {kind} file instead.", details=str(entry.path))


def _article(noun: str) -> str:
    return "an" if noun[:1] in "aeiou" else "a"

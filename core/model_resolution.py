"""From the model a request names to the files, config folder and hash the loader needs."""

from __future__ import annotations

import json
from concurrent.futures import Future, TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from core.errors import ModelFileError
from core.models.detect import detect_model
from core.models.filetype import FileFormat, sniff
from core.models.hashing import BackgroundHasher, HashCache, legacy_model_hash
from core.models.scan import ModelEntry, ModelFolders, find_model, install_layout, scan
from core.paths import AppPaths, resources_dir
from core.pipelines.controlnet import ControlNetSource
from core.pipelines.families import shipped_config_name
from core.pipelines.loader import ModelSource, diffusers_folder_architecture
from core.pipelines.lora import lora_family, wrong_architecture_error
from core.request import GenerationRequest

HASH_WAIT_SECONDS = 120.0
AUTOV2_DIGITS = 10
LORA_HASH_DIGITS = 12


PICKLE_NOTICE = ("{name} is a pickle checkpoint; `easel convert {path}` writes a .safetensors copy beside it, "
                 "which loads faster and can never carry code.")


def sha256_prefix_when_ready(future: Future | None, digits: int, timeout: float = HASH_WAIT_SECONDS) -> str | None:
    """A hash for the infotext, from hashing started in the background when the file was chosen."""
    if future is None:
        return None
    try:
        return future.result(timeout=timeout).sha256[:digits]
    except (FutureTimeout, OSError):
        return None


def autov2_when_ready(future: Future | None) -> str | None:
    """Models and VAEs: civitai's AutoV2, the first 10 hex digits of the SHA-256."""
    return sha256_prefix_when_ready(future, AUTOV2_DIGITS)


def lora_hash_when_ready(future: Future | None) -> str | None:
    """A1111's `Lora hashes` carry the first 12 hex digits of the SHA-256."""
    return sha256_prefix_when_ready(future, LORA_HASH_DIGITS)


@dataclass
class ResolvedModel:
    name: str
    source: ModelSource
    hasher: BackgroundHasher | None = None
    notice: str | None = None
    _hash_future: Future | None = None

    def start_hashing(self) -> None:
        """Begin hashing in the background; the engine calls this once loading no longer needs the CPU."""
        if self.hasher is not None and self._hash_future is None and self.source.path.is_file():
            self._hash_future = self.hasher.request(self.source.path)

    def model_hash(self) -> str | None:
        self.start_hashing()
        return autov2_when_ready(self._hash_future)


def _family(architecture: str) -> str:
    return "sd2" if architecture.startswith("sd2") else architecture  # sd2-v is sd2; the SDXL refiner has none


def _controlnet_folder_architecture(folder: Path) -> str | None:
    """From the weights' header when they are safetensors (as for a file), else from config.json's widths."""
    weights = sorted(folder.glob("diffusion_pytorch_model*.safetensors"))
    if weights:
        return detect_model(weights[0]).architecture
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ModelFileError(f"The ControlNet folder {folder} has an unreadable config.json: {error}.") from error
    return {768: "sd1", 1024: "sd2", 2048: "sdxl"}.get(config.get("cross_attention_dim"))


class ModelResolver:
    """Finds checkpoints by name or path in the configured folders and describes how to load them."""

    def __init__(self, folders: ModelFolders, hasher: BackgroundHasher,
                 model_configs: dict[str, str] | None = None, configs_root: Path | None = None) -> None:
        self._folders = folders
        self._hasher = hasher
        self._model_configs = model_configs or {}
        self._configs_root = configs_root or resources_dir() / "configs"

    @classmethod
    def from_settings(cls, paths: AppPaths, settings, extra_folders: Iterable[Path] = ()) -> "ModelResolver":  # type: ignore[no-untyped-def]
        folders = ModelFolders.easel(paths)
        for folder in map(Path, [*settings.model_folders, *settings.install_roots, *extra_folders]):
            if install_layout(folder) is not None:
                folders = folders + ModelFolders.from_install_root(folder)
            else:
                folders = folders.with_folder(folder)
        hasher = BackgroundHasher(HashCache(paths.cache_dir / "hashes.json"))
        return cls(folders, hasher, settings.model_configs)

    @property
    def folders(self) -> ModelFolders:
        return self._folders

    def entries(self) -> list[ModelEntry]:
        return scan(self._folders, hash_cache=self._hasher.cache)

    def hash_all(self, entries: Iterable[ModelEntry]) -> None:
        """Hash every readable model file now (cached, so each file is read once)."""
        futures = [self._hasher.request(e.path) for e in entries if e.path.is_file() and e.supported]
        for future in futures:
            future.result()

    def checkpoints(self) -> list[ModelEntry]:
        return [e for e in self.entries() if e.kind == "checkpoint" and e.supported]

    def embeddings(self) -> dict[str, Path]:
        """Textual-inversion embeddings by name (file stem) in the embeddings folders; the first of a name wins.

        A pickle there that would run code is listed too, so using its name is refused, not ignored."""
        folders = [folder for folder in self._folders if folder.kind_hint == "embedding"]
        found: dict[str, Path] = {}
        for entry in scan(folders):
            if (entry.kind == "embedding" and entry.supported) or entry.unsafe:
                found.setdefault(entry.name, entry.path)
        return found

    def hash_embedding(self, path: Path) -> Future:
        """The file's hashes, computed in the background (A1111's `TI hashes` use 12 hex digits)."""
        return self._hasher.request(path)

    def resolve(self, request: GenerationRequest) -> ResolvedModel:
        path = self._locate(request.model)
        explicit_config = request.model_config or self._configured(path)
        if path.is_dir():
            architecture, inpaint = diffusers_folder_architecture(path)
            return ResolvedModel(path.name, ModelSource(path, architecture, inpaint, None))
        info = detect_model(path)
        if info.kind != "checkpoint":
            raise ModelFileError(
                f"{path.name} is a {info.kind}, not a checkpoint.",
                hint="Choose a checkpoint as the model; LoRAs, VAEs and embeddings are used alongside one.",
            )
        if not info.supported:
            raise ModelFileError(f"{path.name} cannot be used: {info.reason}", hint="Choose an SD 1.x, 2.x or SDXL checkpoint.")
        config_dir = explicit_config or self._shipped_config(info.architecture, info.inpaint)
        source = ModelSource(path, info.architecture, info.inpaint, Path(config_dir),
                             v_prediction=info.architecture == "sd2-v")
        notice = None if sniff(path) is FileFormat.SAFETENSORS else PICKLE_NOTICE.format(name=path.name, path=path)
        return ResolvedModel(path.stem, source, self._hasher, notice)

    def resolve_vae(self, vae: str) -> tuple[Path, Future]:
        """The VAE file a request names (path or name in the VAE folders) and its hash, being computed."""
        path = self._locate(vae, kind="vae")
        info = detect_model(path)
        if info.kind != "vae":
            raise ModelFileError(f"{path.name} is a {info.kind}, not a VAE.", hint="Choose a VAE file, or none.")
        return path, self._hasher.request(path)

    def resolve_lora(self, name: str, model_architecture: str | None = None) -> tuple[Path, Future]:
        """The LoRA file a prompt tag names (file name or stem in the LoRA folders, or a path) and its hash,
        being computed. Given the model's architecture, a LoRA detected as made for another is refused;
        one whose architecture cannot be told is checked when it is applied."""
        path = self._locate(name, kind="lora")
        info = detect_model(path)
        if info.kind != "lora":
            raise ModelFileError(f"{path.name} is a {info.kind}, not a LoRA.",
                                 hint=f"Remove the tag <lora:{name}:...> or give it the name of a LoRA file.")
        if not info.supported:
            raise ModelFileError(f"{path.name} cannot be used: {info.reason}", hint="Remove the tag.")
        if model_architecture and info.architecture \
                and lora_family(info.architecture) != lora_family(model_architecture):
            raise wrong_architecture_error(name, info.architecture, model_architecture)
        return path, self._hasher.request(path)

    def resolve_controlnet(self, name: str, model_architecture: str | None = None) -> ControlNetSource:
        """The ControlNet a unit names: a file (name, A1111 title "name [hash]" or path) in the ControlNet
        folders, or a diffusers ControlNet folder; one made for another family than the model is refused."""
        path = self._controlnet_folder(name) or self._locate(name, kind="controlnet")
        if path.is_dir():
            architecture = _controlnet_folder_architecture(path)
            title = path.name
        else:
            info = detect_model(path)
            if info.kind != "controlnet":
                raise ModelFileError(f"{path.name} is a {info.kind}, not a ControlNet.",
                                     hint="Choose a ControlNet model for the unit.")
            if not info.supported:
                raise ModelFileError(f"{path.name} cannot be used: {info.reason}", hint="Choose another ControlNet.")
            architecture = info.architecture
            title = f"{path.stem} [{legacy_model_hash(path)}]"  # the extension's model title: the old 8-digit hash
        if model_architecture and architecture and _family(architecture) != _family(model_architecture):
            raise ModelFileError(
                f"The ControlNet {path.name} was made for {architecture.upper()} models, "
                f"but the checkpoint is {model_architecture.upper()}.",
                hint="Choose a ControlNet made for the checkpoint's family, or a checkpoint of the ControlNet's.")
        return ControlNetSource(path, architecture, title)

    def _controlnet_folder(self, name: str) -> Path | None:
        """A diffusers ControlNet folder (config.json beside its weights), by path or by name in the folders."""
        candidate = Path(name).expanduser()
        if candidate.is_dir():
            if (candidate / "config.json").is_file():
                return candidate
            raise ModelFileError(f"{candidate} is a folder without a ControlNet config.json.",
                                 hint="Give the ControlNet file, or a diffusers ControlNet folder.")
        for folder in (f.path for f in self._folders if f.kind_hint == "controlnet"):
            found = Path(folder) / name
            if len(Path(name).parts) == 1 and (found / "config.json").is_file():
                return found
        return None

    def _locate(self, model: str, kind: str = "checkpoint") -> Path:
        candidate = Path(model).expanduser()
        if candidate.exists():
            return candidate
        if candidate.is_absolute() or len(candidate.parts) > 1:
            raise ModelFileError(f"The model file {candidate} does not exist.", hint="Check the path.")
        return find_model(self.entries(), model, kind=kind).path

    def _configured(self, path: Path) -> Path | None:
        value = self._model_configs.get(str(path.resolve()))
        return Path(value) if value else None

    def _shipped_config(self, architecture: str, inpaint: bool) -> Path:
        folder = self._configs_root / shipped_config_name(architecture, inpaint)
        if not (folder / "model_index.json").is_file():
            raise ModelFileError(
                f"Easel has no built-in configuration for {architecture}{' inpainting' if inpaint else ''} models.",
                hint="Give the model a diffusers config folder (--model-config DIR).",
            )
        return folder

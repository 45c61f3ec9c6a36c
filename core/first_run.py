"""What a first run needs to know: where this person's A1111, Forge, SD.Next, ComfyUI or Stability Matrix
models already are, and how much memory this computer has.

Looking is cheap (folder listings and file names, never file contents) and never fails: a folder that
cannot be read is simply not a find.
"""

from __future__ import annotations

import os
import platform
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from core.models.scan import MODEL_EXTENSIONS, install_layout

A1111, COMFYUI, STABILITY_MATRIX = "a1111", "comfyui", "stability-matrix"
CHECKPOINT_FOLDERS = {A1111: "models/Stable-diffusion", COMFYUI: "models/checkpoints",
                      STABILITY_MATRIX: "StableDiffusion"}
_KIND_ORDER = {A1111: 0, COMFYUI: 1, STABILITY_MATRIX: 2}

# Folders people keep installs in, relative to their home (macOS, Windows and Linux alike).
HOME_PLACES = ("", "Documents", "Desktop", "Downloads", "Applications", "AI", "ai", "Projects", "projects",
               "src", "code", "git", "GitHub", "Documents/GitHub", "Documents/AI", "OneDrive/Documents",
               "OneDrive/Desktop", "pinokio/api")
# Where an install sits inside a folder found in one of those places: the folder itself, the A1111 and
# Forge one-click packages (`sd.webui/webui`), ComfyUI portable (`ComfyUI_windows_portable/ComfyUI`),
# Pinokio (`<app>.git/app`), Stability Matrix portable (`StabilityMatrix/Data`).
INSIDE = ("", "webui", "ComfyUI", "app", "Data")
# Stability Matrix's library (Models/ and Packages/) when it is not portable.
STABILITY_MATRIX_HOMES = ("AppData/Roaming/StabilityMatrix", "Library/Application Support/StabilityMatrix",
                          ".config/StabilityMatrix", ".local/share/StabilityMatrix")


@dataclass(frozen=True)
class FoundInstall:
    path: Path
    kind: str  # "a1111" | "comfyui": an install root (Settings.install_roots); "stability-matrix": the
    #            library's shared Models folder, a plain model folder (Settings.model_folders)
    checkpoints: int

    @property
    def checkpoint_folder(self) -> Path:
        return self.path / CHECKPOINT_FOLDERS[self.kind]


def find_model_installs(home: Path | None = None, extra: Iterable[Path] = ()) -> list[FoundInstall]:
    """Installs in the usual places, most checkpoints first, each folder once.

    With `home` given only places under it (and `extra`) are searched; without it, also drive roots
    on Windows (C:\\stable-diffusion-webui), %APPDATA% and /opt.
    """
    search_system = home is None
    home = Path.home() if home is None else Path(home)
    found = [*_explicit(extra), *_under_home(home)]
    if search_system:
        found += _system_wide()
    return _best_first_once(found)


def _explicit(folders: Iterable[Path]) -> Iterator[FoundInstall]:
    for folder in folders:
        yield from _probe(Path(folder).expanduser(), strict=False)


def _under_home(home: Path) -> Iterator[FoundInstall]:
    for place in HOME_PLACES:
        yield from _probe_children(home / place if place else home)
    for library in STABILITY_MATRIX_HOMES:
        yield from _stability_matrix(home / library)


def _system_wide() -> Iterator[FoundInstall]:
    if platform.system() == "Windows":
        for drive in _fixed_drives():
            yield from _probe_children(drive)
        if os.environ.get("APPDATA"):
            yield from _stability_matrix(Path(os.environ["APPDATA"]) / "StabilityMatrix")
    else:
        yield from _probe_children(Path("/opt"))


def _probe_children(base: Path) -> Iterator[FoundInstall]:
    for child in _subfolders(base):
        for inside in INSIDE:
            yield from _probe(child / inside if inside else child, strict=True)


def _probe(folder: Path, strict: bool) -> Iterator[FoundInstall]:
    """`folder` as an A1111/ComfyUI install or a Stability Matrix library. `strict` asks a ComfyUI folder
    for ComfyUI's own folders too, so that any project with `models/checkpoints` is not taken for one."""
    try:
        kind = install_layout(folder)
        if kind == COMFYUI and strict and not _has_comfyui_code(folder):
            kind = None
    except OSError:
        return
    if kind is not None:
        yield _found(folder, kind)
    else:
        yield from _stability_matrix(folder)


def _has_comfyui_code(folder: Path) -> bool:
    return (folder / "comfy").is_dir() or (folder / "custom_nodes").is_dir()


def _stability_matrix(library: Path) -> Iterator[FoundInstall]:
    try:
        if (library / "Models" / CHECKPOINT_FOLDERS[STABILITY_MATRIX]).is_dir():
            yield _found(library / "Models", STABILITY_MATRIX)
        packages = _subfolders(library / "Packages") if (library / "Packages").is_dir() else []
    except OSError:
        return
    for package in packages:
        yield from _probe(package, strict=False)


def _found(folder: Path, kind: str) -> FoundInstall:
    return FoundInstall(folder, kind, count_checkpoints(folder / CHECKPOINT_FOLDERS[kind]))


def count_checkpoints(folder: Path) -> int:
    """Model files by extension in `folder` and its subfolders, as a scan would list them."""
    count = 0
    for directory, subdirectories, files in os.walk(folder):  # unreadable folders are skipped
        if "model_index.json" in files:
            subdirectories[:] = []
            continue
        subdirectories[:] = [d for d in subdirectories if not d.startswith(".")]
        count += sum(1 for name in files
                     if not name.startswith(".") and os.path.splitext(name)[1].lower() in MODEL_EXTENSIONS)
    return count


def _subfolders(base: Path) -> list[Path]:
    try:
        with os.scandir(base) as entries:
            return sorted(Path(entry.path) for entry in entries
                          if not entry.name.startswith(".") and _is_folder(entry))
    except OSError:
        return []


def _is_folder(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _best_first_once(found: Iterable[FoundInstall]) -> list[FoundInstall]:
    """Most checkpoints first; one entry per folder and per checkpoint folder (Stability Matrix links
    its packages' model folders to its shared one)."""
    ordered = sorted(found, key=lambda f: (-f.checkpoints, _KIND_ORDER[f.kind], str(f.path)))
    seen: set[Path] = set()
    kept: list[FoundInstall] = []
    for install in ordered:
        keys = {_resolved(install.path), _resolved(install.checkpoint_folder)}
        if keys & seen:
            continue
        seen |= keys
        kept.append(install)
    return kept


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path.absolute()


def _fixed_drives() -> list[Path]:
    """Local disks only: probing network or removable drives can stall or ask for a disk."""
    import ctypes

    drive_fixed = 3
    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    drives = []
    for letter in string.ascii_uppercase[2:]:
        root = f"{letter}:\\"
        if kernel32.GetDriveTypeW(ctypes.c_wchar_p(root)) == drive_fixed:
            drives.append(Path(root))
    return drives

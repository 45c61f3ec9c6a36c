"""User settings: model folders, where and how images are saved, device, precision, previews, downloads.

`Settings.load` never fails: a value that cannot be used falls back to its default and is described
in `problems`, so a hand-edited settings.json costs that one setting, not all of them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from core.atomic_json import write_json_atomically
from core.file_names import DEFAULT_FILE_NAME_PATTERN, pattern_problem

PRECISIONS = ("auto", "fp16", "bf16", "fp32")
ATTENTION_SLICING = ("auto", "on", "off")
VAE_TILING = ("auto", "on", "off")
VAE_AUTOMATIC = "Automatic"  # A1111: a VAE named like the checkpoint beside it, else the checkpoint's own
VAE_NONE = "None"  # the checkpoint's own VAE
DEFAULT_PREVIEW_EVERY = 2
MAX_PREVIEW_EVERY = 1000


@dataclass
class Settings:
    model_folders: list[str] = field(default_factory=list)
    install_roots: list[str] = field(default_factory=list)  # A1111 or ComfyUI folders, used in place
    model_configs: dict[str, str] = field(default_factory=dict)  # checkpoint path -> diffusers config folder
    device: str | None = None
    outputs_dir: str | None = None  # None: AppPaths.outputs_dir
    file_name_pattern: str = DEFAULT_FILE_NAME_PATTERN  # A1111 tokens, see core.file_names
    precision: str = "auto"  # auto | fp16 | bf16 | fp32
    attention_slicing: str = "auto"  # auto | on | off
    preview_every: int = DEFAULT_PREVIEW_EVERY  # steps between previews; 0: none
    vae: str = VAE_AUTOMATIC  # Automatic | None | a VAE name or path
    model_vaes: dict[str, str] = field(default_factory=dict)  # checkpoint name -> VAE choice, over `vae`
    vae_tiling: str = "auto"  # auto | on | off: VAE decode/encode in tiles for large images
    hub_endpoint: str = ""  # "": huggingface.co; else a mirror's URL
    offline: bool = True
    problems: list[str] = field(default_factory=list, compare=False, repr=False)  # not saved

    @classmethod
    def load(cls, path: Path) -> "Settings":
        """Missing or unreadable settings fall back to defaults; a broken file is kept aside, not lost."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError):
            return cls._broken(path, "it is not readable JSON")
        if not isinstance(data, dict):
            return cls._broken(path, "it does not hold a JSON object")
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Settings":
        """Known keys, each checked; a bad value keeps the default and adds a line to `problems`."""
        settings = cls()
        for name, value in data.items():
            if name not in _VALIDATORS:
                continue  # a key from a newer or older version
            problem = _VALIDATORS[name](value)
            if problem:
                settings.problems.append(f"Setting {name!r} = {value!r} {problem}; using {getattr(settings, name)!r}.")
            else:
                setattr(settings, name, value)
        return settings

    @classmethod
    def _broken(cls, path: Path, why: str) -> "Settings":
        kept = path.with_suffix(".broken.json")
        try:
            path.replace(kept)
            where = f"it was kept as {kept.name}"
        except OSError:
            where = "it was left in place"
        return cls(problems=[f"{path} was not used because {why}; {where}. Defaults apply."])

    def outputs_folder(self, default: Path) -> Path:
        """Where images go: the configured folder, else `default` (AppPaths.outputs_dir)."""
        return Path(self.outputs_dir).expanduser() if self.outputs_dir else default

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        del data["problems"]
        return data

    def save(self, path: Path) -> None:
        write_json_atomically(path, self.to_dict())


def _list_of_strings(value: Any) -> str | None:
    ok = isinstance(value, list) and all(isinstance(item, str) for item in value)
    return None if ok else "is not a list of folder paths"


def _dict_of_strings(value: Any) -> str | None:
    ok = isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
    return None if ok else "is not a mapping of checkpoint paths to folders"


def _optional_string(value: Any) -> str | None:
    return None if value is None or (isinstance(value, str) and value.strip()) else "is not a name or path"


def _one_of(choices: tuple[str, ...]) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if value in choices else f"is not one of {', '.join(choices)}"

    return check


def _file_name_pattern(value: Any) -> str | None:
    return pattern_problem(value) if isinstance(value, str) else "is not a file-name pattern"


def _preview_every(value: Any) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_PREVIEW_EVERY
    return None if ok else f"is not a whole number of steps from 0 (no previews) to {MAX_PREVIEW_EVERY}"


def _hub_endpoint(value: Any) -> str | None:
    if isinstance(value, str) and (value == "" or value.startswith(("https://", "http://"))):
        return None
    return "is not an http(s) address (leave it empty for huggingface.co)"


def _vae_choice(value: Any) -> str | None:
    return None if isinstance(value, str) and value.strip() else "is not Automatic, None or a VAE name or path"


def _model_vaes(value: Any) -> str | None:
    ok = isinstance(value, dict) and all(isinstance(v, str) and v.strip() for v in value.values())
    return None if ok else "is not a mapping of checkpoint names to VAE choices"


def _boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else "is not true or false"


_VALIDATORS: dict[str, Callable[[Any], str | None]] = {
    "model_folders": _list_of_strings,
    "install_roots": _list_of_strings,
    "model_configs": _dict_of_strings,
    "device": _optional_string,
    "outputs_dir": _optional_string,
    "file_name_pattern": _file_name_pattern,
    "precision": _one_of(PRECISIONS),
    "attention_slicing": _one_of(ATTENTION_SLICING),
    "preview_every": _preview_every,
    "vae": _vae_choice,
    "model_vaes": _model_vaes,
    "vae_tiling": _one_of(VAE_TILING),
    "hub_endpoint": _hub_endpoint,
    "offline": _boolean,
}

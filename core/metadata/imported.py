"""What one image's generation metadata says, in GenerationRequest terms."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

# Source id -> what to tell a person; the id is what `--json` and code compare against.
SOURCE_NAMES: dict[str, str] = {
    "a1111": "A1111 / Forge infotext",
    "comfyui": "ComfyUI",
    "invokeai": "InvokeAI",
    "fooocus": "Fooocus",
    "novelai": "NovelAI",
}


@dataclass(frozen=True)
class ImportedMetadata:
    """Settings read from an image.

    `request_fields` use GenerationRequest field names and values Easel accepts; `unmapped`
    holds what the image records but a request cannot express (LoRAs, hires passes, styles...);
    `raw` is the text the settings were read from, unchanged.
    """

    source: str
    request_fields: dict[str, Any]
    unmapped: dict[str, Any] = field(default_factory=dict)
    raw: str = ""

    @property
    def tool_name(self) -> str:
        return SOURCE_NAMES.get(self.source, self.source)


def json_object(text: str | None) -> dict[str, Any] | None:
    """`text` as a JSON object, or None when it is absent or something else."""
    if not text:
        return None
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def convert_into(fields: dict[str, Any], name: str, value: Any, kind: Callable[[Any], Any]) -> bool:
    """Set `fields[name] = kind(value)` when that works; False (and no change) when it does not."""
    if value is None or isinstance(value, (list, dict)):
        return False
    try:
        fields[name] = kind(value)
    except (TypeError, ValueError):
        return False
    return True


def whole_number(value: Any) -> int:
    """An int from 20, 20.0 or "20"; refuses 20.5 rather than rounding a seed or a step count."""
    if isinstance(value, bool):
        raise ValueError("a flag is not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)  # through float, a 64-bit ComfyUI seed would lose its last digits
    number = float(value)
    if not number.is_integer():
        raise ValueError(f"{value!r} is not a whole number")
    return int(number)


def leftover(data: Mapping[str, Any], used: set[str]) -> dict[str, Any]:
    """The entries of `data` not in `used` and not empty: what an import could not map."""
    return {key: value for key, value in data.items() if key not in used and value not in (None, "", [], {})}

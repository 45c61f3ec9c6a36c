"""Fooocus 2.2 and later in its own scheme: a JSON object in the PNG `parameters` chunk or EXIF UserComment.

(In its A1111 scheme Fooocus writes ordinary infotext, which core.metadata.a1111 reads.)
"""

from __future__ import annotations

import re
from typing import Any

from core.metadata.imported import ImportedMetadata, convert_into, json_object, leftover, whole_number
from core.metadata.sampler_names import COMFY_SAMPLERS, COMFY_SCHEDULERS, map_sampler

# Keys only Fooocus writes; a JSON `parameters` object with none of them is someone else's.
_SIGNATURE = {"base_model", "guidance_scale", "full_prompt", "performance", "sharpness", "adm_guidance"}
_RESOLUTION = re.compile(r"\(?\s*(\d+)\s*[,x*×]\s*(\d+)\s*\)?")

_DIRECT = (
    ("prompt", "prompt", str),
    ("negative_prompt", "negative_prompt", str),
    ("steps", "steps", whole_number),
    ("guidance_scale", "cfg_scale", float),
    ("seed", "seed", whole_number),
)


def looks_like_fooocus(data: dict[str, Any]) -> bool:
    return bool(_SIGNATURE & data.keys())


def from_fooocus(text: str) -> ImportedMetadata | None:
    """Request fields from Fooocus JSON, or None when `text` is not a Fooocus object."""
    data = json_object(text)
    if data is None or not looks_like_fooocus(data):
        return None
    fields: dict[str, Any] = {}
    used = {"sampler", "scheduler", "resolution", "base_model"}
    for key, name, kind in _DIRECT:
        if convert_into(fields, name, data.get(key), kind):
            used.add(key)
    sampler_fields, unmapped = map_sampler(data.get("sampler"), data.get("scheduler"), COMFY_SAMPLERS,
                                           COMFY_SCHEDULERS)
    fields.update(sampler_fields)
    size = _RESOLUTION.fullmatch(str(data.get("resolution", "")).strip())
    if size:
        fields["width"], fields["height"] = int(size.group(1)), int(size.group(2))
    elif data.get("resolution"):
        unmapped["resolution"] = data["resolution"]
    if isinstance(data.get("base_model"), str) and data["base_model"]:
        fields["model"] = data["base_model"]
    unmapped.update(leftover(data, used))
    # Fooocus writes "None" for an unset refiner/VAE; that is not a setting worth showing.
    unmapped = {key: value for key, value in unmapped.items() if value != "None"}
    return ImportedMetadata("fooocus", fields, unmapped, text)

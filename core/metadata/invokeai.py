"""InvokeAI 3 and later: the `invokeai_metadata` JSON chunk."""

from __future__ import annotations

from typing import Any

from core.metadata.imported import ImportedMetadata, convert_into, json_object, leftover, whole_number
from core.metadata.sampler_names import map_invokeai_scheduler

_DIRECT = (
    ("positive_prompt", "prompt", str),
    ("negative_prompt", "negative_prompt", str),
    ("steps", "steps", whole_number),
    ("cfg_scale", "cfg_scale", float),
    ("seed", "seed", whole_number),
    ("width", "width", whole_number),
    ("height", "height", whole_number),
    ("strength", "denoising_strength", float),
)


def from_invokeai(text: str) -> ImportedMetadata | None:
    """Request fields from `invokeai_metadata`, or None when it is not a JSON object."""
    data = json_object(text)
    if data is None:
        return None
    fields: dict[str, Any] = {}
    used = {"scheduler", "model", "clip_skip"}
    for key, name, kind in _DIRECT:
        if convert_into(fields, name, data.get(key), kind):
            used.add(key)
    sampler_fields, unmapped = map_invokeai_scheduler(data.get("scheduler"))
    fields.update(sampler_fields)
    _read_model(data.get("model"), fields, unmapped)
    # InvokeAI counts layers skipped (0 = none); A1111's Clip skip counts from 1.
    if isinstance(data.get("clip_skip"), int) and data["clip_skip"] >= 0:
        fields["clip_skip"] = data["clip_skip"] + 1
    unmapped.update(leftover(data, used))
    return ImportedMetadata("invokeai", fields, unmapped, text)


def _read_model(model: Any, fields: dict[str, Any], unmapped: dict[str, Any]) -> None:
    """InvokeAI 4 writes {"name", "key", "hash"...}; InvokeAI 3 {"model_name", "base_model"...}."""
    if not isinstance(model, dict):
        if model:
            unmapped["model"] = model
        return
    name = model.get("name") or model.get("model_name")
    if isinstance(name, str) and name:
        fields["model"] = name
    details = {key: value for key, value in model.items() if key not in ("name", "model_name")}
    if details:
        unmapped["model"] = details  # the base and hash help find the right file by hand

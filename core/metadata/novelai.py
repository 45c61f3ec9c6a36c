"""NovelAI: `Software: NovelAI`, the prompt in `Description` and the settings as JSON in `Comment`.

NovelAI's models run only on NovelAI's service, so the model (the `Source` chunk) is never a
request field; it is listed in `unmapped`.
"""

from __future__ import annotations

from typing import Any, Mapping

from core.metadata.imported import ImportedMetadata, convert_into, json_object, leftover, whole_number
from core.metadata.sampler_names import NOVELAI_SAMPLERS, NOVELAI_SCHEDULES, map_sampler

_DIRECT = (
    ("prompt", "prompt", str),
    ("uc", "negative_prompt", str),
    ("steps", "steps", whole_number),
    ("scale", "cfg_scale", float),
    ("seed", "seed", whole_number),
    ("width", "width", whole_number),
    ("height", "height", whole_number),
    ("strength", "denoising_strength", float),
    ("n_samples", "batch_size", whole_number),
)


def is_novelai(chunks: Mapping[str, str]) -> bool:
    comment = json_object(chunks.get("Comment"))
    if chunks.get("Software", "").startswith("NovelAI"):
        return True
    return bool(comment and ("uc" in comment or "v4_prompt" in comment))


def from_novelai(chunks: Mapping[str, str]) -> ImportedMetadata | None:
    """Request fields from NovelAI's chunks, or None when `Comment` is not a JSON object."""
    raw = chunks.get("Comment", "")
    data = json_object(raw)
    if data is None:
        return None
    fields: dict[str, Any] = {}
    used = {"sampler", "noise_schedule", "v4_prompt", "v4_negative_prompt"}
    for key, name, kind in _DIRECT:
        if convert_into(fields, name, data.get(key), kind):
            used.add(key)
    _read_v4_captions(data, fields)
    if "prompt" not in fields and chunks.get("Description"):
        fields["prompt"] = chunks["Description"]
    sampler_fields, unmapped = map_sampler(data.get("sampler"), data.get("noise_schedule"), NOVELAI_SAMPLERS,
                                           NOVELAI_SCHEDULES)
    fields.update(sampler_fields)
    if chunks.get("Source"):
        unmapped["model"] = chunks["Source"]
    unmapped.update(leftover(data, used))
    return ImportedMetadata("novelai", fields, unmapped, raw)


def _read_v4_captions(data: dict[str, Any], fields: dict[str, Any]) -> None:
    """NovelAI 4 nests the prompts: {"v4_prompt": {"caption": {"base_caption": ...}}}."""
    for key, name in (("v4_prompt", "prompt"), ("v4_negative_prompt", "negative_prompt")):
        caption = (data.get(key) or {}).get("caption") if isinstance(data.get(key), dict) else None
        base = caption.get("base_caption") if isinstance(caption, dict) else None
        if name not in fields and isinstance(base, str):
            fields[name] = base

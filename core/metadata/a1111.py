"""A1111-style infotext (A1111, Forge, SD.Next, Easel itself, Fooocus in its A1111 scheme)."""

from __future__ import annotations

from core.infotext import parse_infotext, request_fields_from_infotext
from core.metadata.imported import ImportedMetadata

# Infotext key -> the request field it fills; the key counts as mapped only when that field was read.
_FIELD_OF_KEY = {
    "Steps": "steps",
    "Sampler": "sampler",
    "Schedule type": "sampler",
    "CFG scale": "cfg_scale",
    "Seed": "seed",
    "Size": "width",
    "Clip skip": "clip_skip",
    "Denoising strength": "denoising_strength",
    "Model": "model",
    "Mask mode": "mask_mode",
    "Mask blur": "mask_blur",
    "Inpaint area": "inpaint_area",
    "Masked area padding": "padding",
    "Masked content": "masked_content",
    "Hires upscale": "hires",
    "Hires resize": "hires",
    "Hires resize-1": "hires",
    "Hires resize-2": "hires",
    "Hires steps": "hires",
    "Hires upscaler": "hires",
    "Hires sampler": "hires",
    "Hires prompt": "hires",
    "Hires negative prompt": "hires",
}


def from_infotext(text: str) -> ImportedMetadata:
    """Request fields from A1111 infotext; `unmapped` keeps every other `Key: value` (Lora hashes, Hires...)."""
    parsed = parse_infotext(text)
    fields = request_fields_from_infotext(parsed)
    # `Size-1`/`Size-2` are parse_infotext's split of `Size: WxH`, not fields of the image.
    split_sizes = {f"{key}-{part}" for key in parsed.params for part in (1, 2) if f"{key}-1" in parsed.params}
    unmapped = {
        key: value
        for key, value in parsed.params.items()
        if key not in split_sizes and _FIELD_OF_KEY.get(key) not in fields
    }
    return ImportedMetadata("a1111", fields, unmapped, text)

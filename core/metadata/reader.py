"""Which tool wrote an image's settings, told from the metadata itself, not the file name."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from core.images import read_exif_comment, read_png_text
from core.metadata.a1111 import from_infotext
from core.metadata.comfyui import from_comfyui
from core.metadata.fooocus import from_fooocus
from core.metadata.imported import ImportedMetadata, json_object
from core.metadata.invokeai import from_invokeai
from core.metadata.novelai import from_novelai, is_novelai


def read_generation_metadata(path: Path) -> ImportedMetadata | None:
    """The generation settings stored in an image by A1111/Forge, ComfyUI, InvokeAI, Fooocus or NovelAI.

    None when the image carries none of these. An unreadable file raises EaselError.
    A1111 infotext wins over a ComfyUI graph in the same file: savers that write both make the
    infotext the faithful summary, while the graph is read only in its common shape.
    """
    path = Path(path)
    chunks = read_png_text(path)
    found = from_text_chunks(chunks)
    if found is not None:
        return found
    comment = read_exif_comment(path)
    return from_text(comment) if comment else None


def from_text_chunks(chunks: Mapping[str, str]) -> ImportedMetadata | None:
    """Settings from an image's text chunks (PNG tEXt/iTXt, or what Pillow reads as text elsewhere)."""
    if "invokeai_metadata" in chunks:
        found = from_invokeai(chunks["invokeai_metadata"])
        if found is not None:
            return found
    if is_novelai(chunks):
        found = from_novelai(chunks)
        if found is not None:
            return found
    if chunks.get("parameters"):
        found = from_text(chunks["parameters"])
        if found is not None:
            return found
    if "prompt" in chunks or "workflow" in chunks:
        return from_comfyui(chunks.get("prompt"), chunks.get("workflow"))
    return None


def from_text(text: str) -> ImportedMetadata | None:
    """Settings from one text that is either Fooocus JSON or A1111 infotext."""
    if json_object(text) is not None:
        return from_fooocus(text)
    return from_infotext(text)

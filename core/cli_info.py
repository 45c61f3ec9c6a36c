"""`easel info IMAGE`: the parameters stored in an image, by Easel, A1111 or another tool."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from core.errors import EaselError
from core.images import read_request_json
from core.infotext import parse_infotext
from core.metadata import ImportedMetadata, read_generation_metadata


def run_info(args: argparse.Namespace, out: TextIO) -> int:
    if not args.image.is_file():
        raise EaselError(f"{args.image} does not exist.", hint="Check the path.")
    imported = read_generation_metadata(args.image)
    if imported is None:
        raise EaselError(
            f"{args.image.name} carries no generation parameters.",
            hint="Easel reads images saved by Easel, A1111/Forge, ComfyUI, InvokeAI, Fooocus and NovelAI.",
        )
    if args.json:
        payload = _json_payload(imported, read_request_json(args.image))
        print(json.dumps(payload, indent=2, ensure_ascii=False), file=out)
    elif imported.source == "a1111":
        print(imported.raw, file=out)
    else:
        print(_describe(imported), file=out)
    return 0


def _json_payload(imported: ImportedMetadata, easel_request: dict[str, Any] | None) -> dict[str, Any]:
    infotext = imported.raw if imported.source == "a1111" else None
    parsed = parse_infotext(infotext) if infotext is not None else None
    return {
        "source": imported.source,
        "parameters": infotext,
        "prompt": parsed.prompt if parsed else imported.request_fields.get("prompt", ""),
        "negative_prompt": parsed.negative_prompt if parsed else imported.request_fields.get("negative_prompt", ""),
        "settings": parsed.params if parsed else {},
        "request_fields": imported.request_fields,
        "unmapped": imported.unmapped,
        "easel_request": easel_request,
    }


def _describe(imported: ImportedMetadata) -> str:
    """A person-readable listing: what Easel will use, then what it keeps only for reference."""
    fields = imported.request_fields
    heading = "Settings Easel can use:" if fields else "No settings Easel can use."
    lines = [f"Made with {imported.tool_name}. {heading}"]
    lines += [f"  {name}: {_one_line(value)}" for name, value in fields.items()]
    if imported.unmapped:
        lines.append("Recorded but not used by Easel:")
        lines += [f"  {name}: {_one_line(value)}" for name, value in imported.unmapped.items()]
    return "\n".join(lines)


def _one_line(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text.replace("\n", "\n    ")

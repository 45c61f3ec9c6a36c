"""`easel info IMAGE`: the parameters stored in an image."""

from __future__ import annotations

import argparse
import json
from typing import TextIO

from core.errors import EaselError
from core.images import read_png_text
from core.infotext import parse_infotext

EASEL_CHUNK = "easel"


def run_info(args: argparse.Namespace, out: TextIO) -> int:
    if not args.image.is_file():
        raise EaselError(f"{args.image} does not exist.", hint="Check the path.")
    try:
        chunks = read_png_text(args.image)
    except OSError as error:
        raise EaselError(f"{args.image} is not an image Easel can read: {error}.") from error
    text = chunks.get("parameters")
    if text is None:
        raise EaselError(
            f"{args.image.name} carries no generation parameters.",
            hint="Only images saved by Easel, A1111 WebUI or tools that write A1111 infotext have them.",
        )
    if not args.json:
        print(text, file=out)
        return 0
    parsed = parse_infotext(text)
    request = json.loads(chunks[EASEL_CHUNK]) if EASEL_CHUNK in chunks else None
    payload = {"parameters": text, "prompt": parsed.prompt, "negative_prompt": parsed.negative_prompt,
               "settings": parsed.params, "easel_request": request}
    print(json.dumps(payload, indent=2, ensure_ascii=False), file=out)
    return 0

"""`<lora:name:weight>` tags in A1111 prompts, read and removed from the text.

Accepted, as A1111's built-in Lora extension reads them:
`<lora:name>` (1.0), `<lora:name:w>`, `<lora:name:te:unet>` (note the order:
text encoder first, then UNet), and the named forms `te=`, `unet=`; `<lyco:...>`
is the same. A fourth positional value or `dyn=` (LyCORIS dynamic dimension)
must be a whole number and is otherwise ignored.

Only `lora` and `lyco` tags are removed. Other extra-network tags such as
`<hypernet:name:1>` stay in the text: Easel does not load them. (A1111 strips
every `<word:...>` tag from the prompt, known kind or not.)
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple

from core.errors import RequestError

_EXTRA_NETWORK = re.compile(r"<(\w+):([^>]+)>")
_LORA_KINDS = ("lora", "lyco")


class LoraTag(NamedTuple):
    """One LoRA the prompt asks for: UNet strength, and text-encoder strength when it differs."""

    name: str
    weight: float
    te_weight: float | None = None

    @property
    def text_encoder_weight(self) -> float:
        return self.weight if self.te_weight is None else self.te_weight


def extract_lora_tags(prompt: str) -> tuple[str, list[LoraTag]]:
    """The prompt without its lora/lyco tags, and the tags in the order written."""
    tags: list[LoraTag] = []

    def take(match: re.Match[str]) -> str:
        if match.group(1) not in _LORA_KINDS:
            return match.group(0)
        tags.append(_read_tag(match.group(0), match.group(2).split(":")))
        return ""

    return _EXTRA_NETWORK.sub(take, prompt), tags


def _read_tag(written: str, items: list[str]) -> LoraTag:
    positional = [item for item in items if item.count("=") != 1]
    named = dict(item.split("=") for item in items if item.count("=") == 1)
    name = positional[0].strip() if positional else ""
    if not name:
        raise RequestError(
            f"The LoRA tag {written} has no LoRA name.",
            hint="Write it as <lora:file name:0.8>, with the file name without its extension.",
        )
    te = _number(written, positional[1], "weight") if len(positional) > 1 else 1.0
    te = _number(written, named["te"], "te") if "te" in named else te
    unet = _number(written, positional[2], "UNet weight") if len(positional) > 2 else te
    unet = _number(written, named["unet"], "unet") if "unet" in named else unet
    _check_dimension(written, named.get("dyn", positional[3] if len(positional) > 3 else None))
    return LoraTag(name, unet, None if te == unet else te)


def _number(written: str, value: str, what: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise RequestError(
            f"The {what} '{value}' in {written} is not a number.",
            hint="Write a number such as <lora:name:0.8>, or <lora:name:0.8:0.5> for text encoder then UNet.",
        )
    return number


def _check_dimension(written: str, value: str | None) -> None:
    if value is None:
        return
    try:
        int(value)
    except ValueError:
        raise RequestError(
            f"The dimension '{value}' in {written} is not a whole number.",
            hint="Write a whole number such as <lora:name:1:1:8>, or leave the dimension out.",
        ) from None

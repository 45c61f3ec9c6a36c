"""`AND` in A1111 prompts: several prompts denoised together, each with its own weight.

`a cat AND a dog :1.2` is two prompts, `a cat` at 1.0 and ` a dog` at 1.2.
The split matches A1111's `get_multicond_prompt_list`: `AND` in capitals as
a whole word (`ANDROID` is text, `cat,AND,dog` splits), and a trailing
`:number` is the weight even without any `AND`. Whitespace before the weight
and at the end is dropped, whitespace at the start is kept.
"""

from __future__ import annotations

import re

_AND = re.compile(r"\bAND\b")
# Lazy text, then an optional ":number" and trailing whitespace; the number as A1111 reads it.
_WEIGHTED = re.compile(r"^((?:\s|.)*?)(?:\s*:\s*([-+]?(?:\d+\.?\d*|\.\d+)))?\s*$")


def split_and(prompt: str) -> list[tuple[str, float]]:
    """The sub-prompts joined by AND, each with its weight (1.0 unless it ends in `:number`)."""
    return [_weighted(part) for part in _AND.split(prompt)]


def _weighted(part: str) -> tuple[str, float]:
    match = _WEIGHTED.match(part)
    if match is None:  # cannot happen: the pattern accepts any text
        return part, 1.0
    text, weight = match.groups()
    return text, float(weight) if weight is not None else 1.0

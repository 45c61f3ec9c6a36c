"""Emphasis in A1111 prompts: `(word)`, `[word]`, `(word:1.3)`, escapes and `BREAK`.

`parse_attention` gives the same segments and weights as A1111's
`parse_prompt_attention`, including its quirks, so a prompt copied from A1111
weights the same tokens by the same amounts:

- brackets left open apply to the rest of the prompt, stray closers are text;
- `(text:weight)` takes the weight only when a `(` is open, otherwise the
  characters stay text; `(a:abc)` is `a:abc` at 1.1;
- a lone backslash is dropped (`a\\b` reads `ab`);
- each `BREAK` becomes `("BREAK", -1.0)`, and brackets around it scale that
  marker too (`(a BREAK b)` gives -1.1): callers test for a negative weight;
- neighbours with exactly equal weights are merged, empty segments kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from core.errors import RequestError

ROUND_MULTIPLIER = 1.1
# A1111 multiplies by 1/1.1 rather than dividing, which differs in the last bit.
SQUARE_MULTIPLIER = 1 / 1.1
BREAK = "BREAK"
BREAK_WEIGHT = -1.0

EMPHASIS_TOKEN = re.compile(
    r"""
      (?P<escape>\\[()\[\]\\]?)           # \( \) \[ \] \\ give the character; a lone \ gives nothing
    | (?P<open>[(\[])
    | :\s*(?P<weight>[+-]?[.\d]+)\s*\)    # closes a ( with an explicit weight
    | (?P<close>[)\]])
    | (?P<text>[^\\()\[\]:]+|:)
    """,
    re.VERBOSE,
)
_BREAK_WORD = re.compile(r"\s*\bBREAK\b\s*")


@dataclass
class _Segments:
    """The weighted pieces read so far and where each still-open bracket started."""

    pieces: list[list] = field(default_factory=list)
    open_round: list[int] = field(default_factory=list)
    open_square: list[int] = field(default_factory=list)

    def add_text(self, text: str) -> None:
        for index, part in enumerate(_BREAK_WORD.split(text)):
            if index:
                self.pieces.append([BREAK, BREAK_WEIGHT])
            self.pieces.append([part, 1.0])

    def scale_from(self, start: int, multiplier: float) -> None:
        for piece in self.pieces[start:]:
            piece[1] *= multiplier


def parse_attention(text: str) -> list[tuple[str, float]]:
    """Split a prompt into (text, weight) segments the way A1111 does; BREAK is ("BREAK", -1.0)."""
    segments = _Segments()
    for token in EMPHASIS_TOKEN.finditer(text):
        _read_token(token, segments, text)
    for start in segments.open_round:
        segments.scale_from(start, ROUND_MULTIPLIER)
    for start in segments.open_square:
        segments.scale_from(start, SQUARE_MULTIPLIER)
    return _merge_equal_neighbours(segments.pieces) or [("", 1.0)]


def _read_token(token: re.Match[str], segments: _Segments, prompt: str) -> None:
    kind = token.lastgroup
    value = token.group(0)
    if kind == "escape":
        segments.pieces.append([value[1:], 1.0])
    elif kind == "open":
        stack = segments.open_round if value == "(" else segments.open_square
        stack.append(len(segments.pieces))
    elif kind == "weight" and segments.open_round:
        weight = _read_weight(token.group("weight"), prompt)
        segments.scale_from(segments.open_round.pop(), weight)
    elif value == ")" and segments.open_round:
        segments.scale_from(segments.open_round.pop(), ROUND_MULTIPLIER)
    elif value == "]" and segments.open_square:
        segments.scale_from(segments.open_square.pop(), SQUARE_MULTIPLIER)
    else:
        segments.add_text(value)


def _read_weight(number: str, prompt: str) -> float:
    try:
        return float(number)
    except ValueError:
        # A1111 stops with a Python ValueError here; say what to fix instead.
        raise RequestError(
            f"The emphasis weight ':{number})' in the prompt is not a number.",
            hint="Write a number after the colon, such as (red hat:1.2), or escape the bracket as \\).",
            details=prompt,
        ) from None


def _merge_equal_neighbours(pieces: list[list]) -> list[tuple[str, float]]:
    merged: list[tuple[str, float]] = []
    for text, weight in pieces:
        if merged and merged[-1][1] == weight:
            merged[-1] = (merged[-1][0] + text, weight)
        else:
            merged.append((text, float(weight)))
    return merged

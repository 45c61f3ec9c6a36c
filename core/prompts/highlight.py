"""Where the A1111 syntax in a prompt is, for an editor to colour it; read as the engine reads it.

The engine's order is followed, so what is coloured is what takes effect: `<lora:...>` tags come out
first, then the text is split at `AND`, each part's prompt editing (`[a:b:when]`, `[a|b]`) is read with
the schedule grammar, and emphasis is read by the same tokenizer as `parse_attention` on the part with
the editing syntax taken out (every branch kept, so brackets around an edit pair as in each variant).

Kinds: "emphasis" `(...)` and "deemphasis" `[...]` (brackets included; one left open runs to the end
of its AND part, as it applies there), "weight" (`:1.2` of `(x:1.2)`, or an AND part's trailing
`:0.8`), "lora", "break", "and", "schedule" (the whole `[a:b:when]` or `[a|b]`), "escape" (`\\(`),
"unbalanced" (a bracket that never closes or never opened, or a weight that is not a number).
Spans may nest or overlap; they come sorted by start, outer before inner, so an editor applying
them in order shows the innermost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.prompts.attention import EMPHASIS_TOKEN  # the emphasis tokenizer itself, so both always agree
from core.prompts.edit_syntax import Alternation, Edit, EditReader, UnreadableEdit

# As core.prompts.lora_tags, core.prompts.composition and core.prompts.attention read them.
_EXTRA_NETWORK = re.compile(r"<(\w+):([^>]+)>")
_LORA_KINDS = ("lora", "lyco")
_AND = re.compile(r"\bAND\b")
_AND_WEIGHT = re.compile(r"\s*(:\s*[-+]?(?:\d+\.?\d*|\.\d+))\s*$")
_BREAK = re.compile(r"\bBREAK\b")
_SEPARATOR = "\x00"


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    kind: str


@dataclass(frozen=True)
class _Mapped:
    """Text cut out of the prompt, with the prompt index of each of its characters."""

    text: str
    index: tuple[int, ...]

    def span(self, start: int, end: int, kind: str) -> Span:
        return Span(self.index[start], self.index[end - 1] + 1, kind)

    def slice(self, start: int, end: int) -> "_Mapped":
        return _Mapped(self.text[start:end], self.index[start:end])

    def without(self, positions: set[int], separator: str = "") -> "_Mapped":
        """The text with the characters at `positions` taken out; each run of them becomes `separator`."""
        text, index = [], []
        for at, char in enumerate(self.text):
            if at not in positions:
                text.append(char)
                index.append(self.index[at])
            elif separator and at - 1 not in positions:
                text.append(separator)
                index.append(self.index[at])
        return _Mapped("".join(text), tuple(index))


def prompt_spans(text: str) -> list[Span]:
    """The syntax in a prompt, with `text` indices; plain words are in no span."""
    spans: list[Span] = []
    visible = _without_lora_tags(_Mapped(text, tuple(range(len(text)))), spans)
    for part in _and_parts(visible, spans):
        _read_part(part, spans)
    return sorted(set(spans), key=lambda span: (span.start, -span.end, span.kind))


def _without_lora_tags(prompt: _Mapped, spans: list[Span]) -> _Mapped:
    removed: set[int] = set()
    for match in _EXTRA_NETWORK.finditer(prompt.text):
        if match.group(1) in _LORA_KINDS:
            spans.append(prompt.span(match.start(), match.end(), "lora"))
            removed.update(range(match.start(), match.end()))
    return prompt.without(removed)


def _and_parts(prompt: _Mapped, spans: list[Span]) -> list[_Mapped]:
    """The AND parts; with more than one, each part's trailing `:weight` is its weight, not text."""
    separators = list(_AND.finditer(prompt.text))
    if not separators:
        return [prompt]
    bounds = [0, *[at for match in separators for at in (match.start(), match.end())], len(prompt.text)]
    parts = []
    for match in separators:
        spans.append(prompt.span(match.start(), match.end(), "and"))
    for start, end in zip(bounds[0::2], bounds[1::2]):
        weight = _AND_WEIGHT.search(prompt.text, start, end)
        if weight is not None:
            spans.append(prompt.span(weight.start(1), weight.end(1), "weight"))
            end = weight.start()
        parts.append(prompt.slice(start, end))
    return parts


def _read_part(part: _Mapped, spans: list[Span]) -> None:
    reader = _SpanReader(part.text)
    try:
        reader.top_level()
    except UnreadableEdit:  # the engine uses such a part as written: no prompt editing in it
        reader.edits, reader.syntax = [], set()
    spans.extend(part.span(start, end, "schedule") for start, end in reader.edits)
    # A separator keeps words on either side of the editing syntax apart (`[a BREAK:b:5]` has a BREAK);
    # it is text to the emphasis tokenizer, and no span starts or ends on it.
    _read_emphasis(part.without(reader.syntax, _SEPARATOR), spans)


class _SpanReader(EditReader):
    """The schedule grammar's reader, noting where each edit is and which characters are its syntax."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.edits: list[tuple[int, int]] = []
        self.syntax: set[int] = set()
        self._levels: list[list[int]] = []  # per open bracket: positions of its own `: | ]` and step number

    def bracketed(self) -> list | None:
        start, edits, syntax = self.pos, len(self.edits), set(self.syntax)
        self._levels.append([])
        result = super().bracketed()
        own = self._levels.pop()
        if result is None:  # not a bracket after all: what was noted inside is read again as text
            del self.edits[edits:]
            self.syntax = syntax
        elif len(result) == 1 and isinstance(result[0], (Edit, Alternation)):
            self.edits.append((start, self.pos))
            self.syntax.update([start, *own])
        return result

    def take(self, char: str) -> bool:
        at = self.pos
        taken = super().take(char)
        if taken and self._levels:
            self._levels[-1].append(at)
        return taken

    def when(self) -> str | None:
        start = self.pos
        number = super().when()
        if number is not None:
            self._levels[-1].extend(range(start, self.pos))
        return number


def _read_emphasis(part: _Mapped, spans: list[Span]) -> None:
    """Brackets, weights, escapes and BREAK as `parse_attention` reads them."""
    text, round_open, square_open = part.text, [], []
    for token in EMPHASIS_TOKEN.finditer(text):
        kind, value, start, end = token.lastgroup, token.group(0), token.start(), token.end()
        if kind == "escape":
            spans.append(part.span(start, end, "escape"))
        elif kind == "open":
            (round_open if value == "(" else square_open).append(start)
        elif kind == "weight" and round_open:
            spans.append(part.span(round_open.pop(), end, "emphasis"))
            spans.append(part.span(start, token.end("weight"), _weight_kind(token["weight"])))
        elif value == ")" and round_open:
            spans.append(part.span(round_open.pop(), end, "emphasis"))
        elif value == "]" and square_open:
            spans.append(part.span(square_open.pop(), end, "deemphasis"))
        elif kind in ("close", "weight"):  # a closer with nothing open is text
            spans.append(part.span(end - 1, end, "unbalanced"))
        else:
            spans.extend(part.span(start + at.start(), start + at.end(), "break") for at in _BREAK.finditer(value))
    for opened, kind in [(at, "emphasis") for at in round_open] + [(at, "deemphasis") for at in square_open]:
        spans.append(part.span(opened, len(text), kind))  # an open bracket applies to the rest
        spans.append(part.span(opened, opened + 1, "unbalanced"))


def _weight_kind(number: str) -> str:
    try:
        float(number)
    except ValueError:
        return "unbalanced"  # `parse_attention` refuses it
    return "weight"

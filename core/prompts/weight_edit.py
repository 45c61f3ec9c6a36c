"""Ctrl+Up/Down weight editing as A1111's `edit-attention.js` does it, on plain text and a selection.

`word` -> `(word:1.1)` -> `(word:1.2)`; back down to 1.0 removes the parentheses again.
Old-style `((word))` and `[word]` become `(word:1.2)` / `(word:0.9)` first; `<lora:x:0.8>` moves
in steps of 0.05 and keeps its brackets at any weight.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ATTENTION_STEP = 0.1
EXTRA_NETWORK_STEP = 0.05
# A1111's default `keyedit_delimiters` plus its default whitespace delimiters (tab, CR, LF).
WORD_DELIMITERS = ".,\\/!?%^*;:{}=`~() \t\r\n"

_WEIGHTED_CONTENT = re.compile(r".*:-?[\d.]+", re.DOTALL)
_LEADING_NUMBER = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)")


@dataclass(frozen=True)
class WeightEdit:
    """The edited text and the selection to show afterwards (the words whose weight changed)."""

    text: str
    start: int
    end: int


def change_weight(text: str, start: int, end: int, up: bool) -> WeightEdit | None:
    """Raise (`up`) or lower the weight of the selection, or of the bracket group or word at the cursor.

    None when there is nothing to weight (an empty word, a tag without a weight).
    """
    start, end = min(start, end), max(start, end)
    if start == end:
        start, end = _select_around_cursor(text, start)
    before = text[start - 1] if start > 0 else ""
    after = text[end] if end < len(text) else ""
    close, step = ")", ATTENTION_STEP
    if before == "<":
        close, step = ">", EXTRA_NETWORK_STEP
    elif (before, after) in (("(", ")"), ("[", "]")):
        text, start, end = _old_style_to_explicit(text, start, end, before, after)
    elif before != "(":
        while end > start and text[end - 1] == " ":
            end -= 1
        if start == end:
            return None
        text = f"{text[:start]}({text[start:end]}:1.0){text[end:]}"
        start, end = start + 1, end + 1
    return _step_weight(text, start, end, close, step if up else -step)


def _select_around_cursor(text: str, cursor: int) -> tuple[int, int]:
    for open_mark, close_mark in (("<", ">"), ("(", ")"), ("[", "]")):
        block = _bracket_content_at(text, cursor, open_mark, close_mark)
        if block is not None:
            return block
    return _word_at(text, cursor)


def _bracket_content_at(text: str, cursor: int, open_mark: str, close_mark: str) -> tuple[int, int] | None:
    """The text inside the innermost `open_mark`..`close_mark` around the cursor, without its `:weight`."""
    before, after = text[:cursor], text[cursor:]
    opening = before.rfind(open_mark)
    if opening == -1 or before.rfind(close_mark) > opening:
        return None
    closing = after.find(close_mark)
    if closing == -1 or -1 < after.find(open_mark) < closing:
        return None
    start = opening + 1
    content = text[start:cursor + closing]
    if _WEIGHTED_CONTENT.match(content):
        return start, start + content.rfind(":")
    return start, start + len(content)


def _word_at(text: str, cursor: int) -> tuple[int, int]:
    start = end = cursor
    while start > 0 and text[start - 1] not in WORD_DELIMITERS:
        start -= 1
    while end < len(text) and text[end] not in WORD_DELIMITERS:
        end += 1
    while start < end and text[start] == " ":
        start += 1
    while end > start and text[end - 1] == " ":
        end -= 1
    return start, end


def _old_style_to_explicit(text: str, start: int, end: int, open_mark: str, close_mark: str) -> tuple[str, int, int]:
    """`((word))` -> `(word:1.2)`, `[word]` -> `(word:0.9)`: one explicit weight, rounded to the step."""
    depth = 0
    while start - depth - 1 >= 0 and end + depth < len(text) \
            and text[start - depth - 1] == open_mark and text[end + depth] == close_mark:
        depth += 1
    weight = (1.1 if open_mark == "(" else 1 / 1.1) ** depth
    weight = round(weight / ATTENTION_STEP) * ATTENTION_STEP
    text = f"{text[:start - depth]}({text[start:end]}:{_format_weight(weight)}){text[end + depth:]}"
    shift = depth - 1
    return text, start - shift, end - shift


def _step_weight(text: str, start: int, end: int, close: str, delta: float) -> WeightEdit | None:
    if end >= len(text) or text[end] != ":":
        return None
    length = text.find(close, end + 1) - (end + 1)
    if length < 0:
        return None
    number = _LEADING_NUMBER.match(text[end + 1:end + 1 + length])
    if number is None:
        return None
    weight = round(float(number.group(0)) + delta, 10)
    if close == ")" and weight == 1.0:
        text = text[:start - 1] + text[start:end] + text[end + 1 + length + 1:]
        return WeightEdit(text, start - 1, end - 1)
    text = text[:end + 1] + _format_weight(weight) + text[end + 1 + length:]
    return WeightEdit(text, start, end)


def _format_weight(weight: float) -> str:
    """`1.2`, `0.85`, `2.0` -- the shortest form, always with a decimal point, as A1111 writes it."""
    return str(round(weight, 10))

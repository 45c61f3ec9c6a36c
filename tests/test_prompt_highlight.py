"""Prompt highlighting marks the syntax the engine will act on, and nothing it will read as words."""

from __future__ import annotations

import random

import pytest

from core.errors import RequestError
from core.prompts import parse_attention, schedule
from core.prompts.attention import ROUND_MULTIPLIER, SQUARE_MULTIPLIER
from core.prompts.highlight import Span, prompt_spans


def marked(text: str) -> list[tuple[str, str]]:
    """(kind, the text it covers) in the order an editor applies them."""
    return [(span.kind, text[span.start:span.end]) for span in prompt_spans(text)]


def test_plain_words_are_not_marked():
    assert prompt_spans("a red fox in the snow, at dusk: 12:00") == []
    assert prompt_spans("") == []


def test_emphasis_with_a_weight_and_nesting():
    assert marked("a ((red:1.2) fox) [[snow]]") == [
        ("emphasis", "((red:1.2) fox)"),
        ("emphasis", "(red:1.2)"),
        ("weight", ":1.2"),
        ("deemphasis", "[[snow]]"),
        ("deemphasis", "[snow]"),
    ]
    assert marked("(a: 1.5 )") == [("emphasis", "(a: 1.5 )"), ("weight", ": 1.5")]
    assert marked("(x:abc)") == [("emphasis", "(x:abc)")]  # not a number: ":abc" is text, as A1111 reads it


def test_escapes_are_marked_and_are_not_brackets():
    assert marked(r"\(literal\] (real)") == [("escape", r"\("), ("escape", r"\]"), ("emphasis", "(real)")]
    assert marked(r"\\(a)") == [("escape", "\\\\"), ("emphasis", "(a)")]


def test_unbalanced_brackets_are_marked_where_they_are():
    text = "(unclosed [and stray) closers]]"
    # ")" closes the "(" even across the open "[" (as A1111 reads it); the last "]" has nothing to close.
    assert marked(text) == [
        ("emphasis", "(unclosed [and stray)"),
        ("deemphasis", "[and stray) closers]"),
        ("unbalanced", "]"),
    ]
    # Left open, a bracket applies to the rest of the prompt: shown as such, its bracket flagged.
    assert marked("a (fox in the snow") == [("emphasis", "(fox in the snow"), ("unbalanced", "(")]
    assert marked("a fox) in") == [("unbalanced", ")")]


def test_a_weight_that_is_not_a_number_is_flagged():
    assert marked("(x:1.2.3)") == [("emphasis", "(x:1.2.3)"), ("unbalanced", ":1.2.3")]


def test_prompt_editing_and_alternation():
    assert marked("a [fox:hare:0.5] and [cat|dog|(owl:1.2)]") == [
        ("schedule", "[fox:hare:0.5]"),
        ("schedule", "[cat|dog|(owl:1.2)]"),
        ("emphasis", "(owl:1.2)"),
        ("weight", ":1.2"),
    ]
    assert marked("[fox:5] [fox::0.25]") == [("schedule", "[fox:5]"), ("schedule", "[fox::0.25]")]
    # Not an edit: a plain de-emphasis of "a:b" (the engine reads it so too).
    assert marked("[a:b]") == [("deemphasis", "[a:b]")]
    # Emphasis around an edit pairs its brackets as every scheduled text does.
    assert marked("(a [b:c:3]:1.2)") == [("emphasis", "(a [b:c:3]:1.2)"), ("schedule", "[b:c:3]"), ("weight", ":1.2")]


def test_a_prompt_the_schedule_grammar_cannot_read_has_no_edits():
    # A "|" outside brackets makes A1111 use the whole prompt as written: "[b|c]" is a de-emphasis.
    assert marked("a | [b|c]") == [("deemphasis", "[b|c]")]


def test_lora_tags():
    assert marked("a fox <lora:film grain:0.7>, <lyco:x:1:0.5> <hypernet:y:1>") == [
        ("lora", "<lora:film grain:0.7>"),
        ("lora", "<lyco:x:1:0.5>"),
    ]


def test_break_and_and_are_capital_whole_words_only():
    assert marked("a fox BREAK snow AND hare") == [("break", "BREAK"), ("and", "AND")]
    assert marked("breakfast and BREAKfast, ANDROID, break, and, a BREAK_b") == []
    assert marked("(castle BREAK moat)") == [("emphasis", "(castle BREAK moat)"), ("break", "BREAK")]
    assert marked("cat,AND,dog") == [("and", "AND")]


def test_and_parts_are_read_apart_and_their_weights_marked():
    assert marked("a castle :1.2 AND a dragon :0.8") == [("weight", ":1.2"), ("and", "AND"), ("weight", ":0.8")]
    # Brackets do not reach across AND (the engine reads each part alone).
    assert marked("(a AND b)") == [("emphasis", "(a "), ("unbalanced", "("), ("and", "AND"), ("unbalanced", ")")]
    # Without AND a trailing ":number" is text (the engine keeps such a prompt as written).
    assert marked("time: 12:00") == []


def test_a_lora_tag_is_taken_out_before_and_is_looked_for():
    # As the engine reads it: "aAND b" once the tag is gone, so no AND.
    assert marked("a<lora:x:1>AND b") == [("lora", "<lora:x:1>")]


def test_break_inside_an_edit():
    assert marked("[a BREAK:b:5]") == [("schedule", "[a BREAK:b:5]"), ("break", "BREAK")]


def test_offsets_index_the_text_as_given():
    text = "中文 😀 (猫:1.2) BREAK"
    spans = prompt_spans(text)
    assert spans[0] == Span(5, 12, "emphasis") and text[5:12] == "(猫:1.2)"
    assert text[spans[-1].start:spans[-1].end] == "BREAK"


# --- agreement with the emphasis parser -----------------------------------------------------


def weights_from_spans(text: str) -> list[tuple[str, float]]:
    """The (text, weight) segments the spans imply, for a prompt without editing, AND, LoRA or BREAK."""
    spans = prompt_spans(text)
    unbalanced = {span.start for span in spans if span.kind == "unbalanced"}
    escapes = {span.start: text[span.start + 1:span.end] for span in spans if span.kind == "escape"}
    syntax: set[int] = set()
    scopes: list[tuple[Span, float]] = []
    for span in (s for s in spans if s.kind in ("emphasis", "deemphasis")):
        syntax.add(span.start)
        weight = None if span.start in unbalanced else _closing_weight(text, spans, span)
        if weight is not None:
            syntax.update(range(weight.start, span.end))
            scopes.append((span, float(text[weight.start + 1:weight.end])))
        else:
            if span.start not in unbalanced:
                syntax.add(span.end - 1)
            scopes.append((span, ROUND_MULTIPLIER if span.kind == "emphasis" else SQUARE_MULTIPLIER))
    pieces: list[list] = []
    position = 0
    while position < len(text):
        at = position
        if at in escapes:
            content, position = escapes[at], at + 1 + len(escapes[at])
        else:
            content, position = ("" if at in syntax else text[at]), at + 1
        if at in syntax:
            continue
        weight = 1.0
        for scope, multiplier in scopes:
            weight *= multiplier if scope.start <= at < scope.end else 1.0
        if pieces and pieces[-1][1] == pytest.approx(weight, rel=1e-12):
            pieces[-1][0] += content
        else:
            pieces.append([content, weight])
    return [(content, weight) for content, weight in pieces]


def _closing_weight(text: str, spans: list[Span], scope: Span) -> Span | None:
    """The `:1.2` that closes this bracket, if one does."""
    for span in spans:
        if span.kind == "weight" and scope.start < span.start and span.end <= scope.end \
                and text[scope.end - 1] == ")" and text[span.end:scope.end - 1].strip() == "":
            return span
    return None


def random_prompt(rng: random.Random) -> str:
    pieces = ["a", "fox", " ", "(", ")", "[", "]", ":", "1.2", ":0.5)", "\\(", "\\]", "\\\\", ", "]
    return "".join(rng.choice(pieces) for _ in range(rng.randint(0, 14)))


def test_highlighted_emphasis_weights_the_same_text_as_the_parser():
    rng = random.Random(4)
    compared = 0
    while compared < 400:
        text = random_prompt(rng)
        if schedule(text, 10) != [(10, text)]:
            continue  # prompt editing takes part: see the tests above
        try:
            expected = [(content, weight) for content, weight in parse_attention(text) if content]
        except RequestError:  # a weight such as ":1.21.2)"
            assert "unbalanced" in [kind for kind, _ in marked(text)], text
            continue
        got = [(content, weight) for content, weight in weights_from_spans(text) if content]
        assert [content for content, _ in got] == [content for content, _ in _merged(expected)], text
        assert [weight for _, weight in got] == pytest.approx([weight for _, weight in _merged(expected)]), text
        compared += 1


def _merged(pieces: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """Neighbours of (nearly) equal weight as one; emptied pieces dropped, as in `weights_from_spans`."""
    merged: list[tuple[str, float]] = []
    for content, weight in pieces:
        if merged and merged[-1][1] == pytest.approx(weight, rel=1e-12):
            merged[-1] = (merged[-1][0] + content, merged[-1][1])
        else:
            merged.append((content, weight))
    return merged

"""A1111 prompt syntax: a prompt copied from A1111 must weight, schedule, compose and load LoRAs the same.

Expected values are A1111's (`modules/prompt_parser.py` docstrings, and its
functions run on the other inputs), including its quirks.
"""

from __future__ import annotations

import pytest

from core.errors import RequestError
from core.prompts import BREAK, LoraTag, extract_lora_tags, parse_attention, schedule, split_and

# --- emphasis -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        # A1111's docstring examples.
        ("normal text", [("normal text", 1.0)]),
        ("an (important) word", [("an ", 1.0), ("important", 1.1), (" word", 1.0)]),
        ("(unbalanced", [("unbalanced", 1.1)]),
        ("\\(literal\\]", [("(literal]", 1.0)]),
        ("(unnecessary)(parens)", [("unnecessaryparens", 1.1)]),
        (
            "a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).",
            [
                ("a ", 1.0),
                ("house", 1.5730000000000004),
                (" ", 1.1),
                ("on", 1.0),
                (" a ", 1.1),
                ("hill", 0.55),
                (", sun, ", 1.1),
                ("sky", 1.4641000000000006),
                (".", 1.1),
            ],
        ),
    ],
)
def test_emphasis_matches_a1111_docstring(prompt, expected):
    assert parse_attention(prompt) == expected


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("", [("", 1.0)]),
        ("中文 (猫:1.2) 😀", [("中文 ", 1.0), ("猫", 1.2), (" 😀", 1.0)]),
        ("(x:-1)", [("x", -1.0)]),
        ("(x:+0.5)", [("x", 0.5)]),
        ("(a: 1.5 )", [("a", 1.5)]),
        ("time: 12:00", [("time: 12:00", 1.0)]),
        ("(x:abc)", [("x:abc", 1.1)]),
        ("((a) [b])", [("a", 1.2100000000000002), (" ", 1.1), ("b", 1.0)]),
        ("[[a]]", [("a", 0.8264462809917354)]),
        ("(a)(b:1.1)", [("ab", 1.1)]),
    ],
)
def test_emphasis_weights(prompt, expected):
    assert parse_attention(prompt) == expected


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("\\\\(a)", [("\\", 1.0), ("a", 1.1)]),  # escaped backslash, then a real bracket
        ("\\\\\\(a\\)", [("\\(a)", 1.0)]),
        ("a\\b", [("ab", 1.0)]),  # a lone backslash is dropped
        ("(a)\\", [("a", 1.1), ("", 1.0)]),
    ],
)
def test_backslash_escapes(prompt, expected):
    assert parse_attention(prompt) == expected


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("a ) b ] c", [("a ) b ] c", 1.0)]),  # closers with nothing open are text
        ("(a [b", [("a ", 1.1), ("b", 1.0)]),  # unclosed: ( then [ apply to the rest
        ("[a:1.5)", [("a:1.5)", 0.9090909090909091)]),  # a weight needs an open (
        ("a:1.5)", [("a:1.5)", 1.0)]),
    ],
)
def test_unbalanced_brackets_still_apply(prompt, expected):
    assert parse_attention(prompt) == expected


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("a BREAK b BREAK c", [("a", 1.0), (BREAK, -1.0), ("b", 1.0), (BREAK, -1.0), ("c", 1.0)]),
        ("BREAK", [("", 1.0), (BREAK, -1.0), ("", 1.0)]),
        ("a BREAK, b", [("a", 1.0), (BREAK, -1.0), (", b", 1.0)]),
        ("aBREAK b", [("aBREAK b", 1.0)]),  # only the whole word
        ("a break b", [("a break b", 1.0)]),  # only in capitals
        ("(a BREAK b)", [("a", 1.1), (BREAK, -1.1), ("b", 1.1)]),  # brackets scale the marker too
    ],
)
def test_break_splits_chunks(prompt, expected):
    assert parse_attention(prompt) == expected


@pytest.mark.parametrize("prompt", ["(a:.)", "(red hat:1.2.3)"])
def test_unreadable_emphasis_weight_is_a_request_error(prompt):
    with pytest.raises(RequestError) as raised:
        parse_attention(prompt)
    assert "not a number" in raised.value.message
    assert "(red hat:1.2)" in raised.value.hint


# --- prompt editing -------------------------------------------------------------------------


def steps10(prompt: str) -> list[tuple[int, str]]:
    return schedule(prompt, 10)


ALTERNATING = [(step, "a" if step % 2 else "(b:1.1)") for step in range(1, 11)]


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        # A1111's docstring examples.
        ("test", [(10, "test")]),
        ("a [b:3]", [(3, "a "), (10, "a b")]),
        ("a [b: 3]", [(3, "a "), (10, "a b")]),
        ("a [[[b]]:2]", [(2, "a "), (10, "a [[b]]")]),
        ("[(a:2):3]", [(3, ""), (10, "(a:2)")]),
        ("a [b : c : 1] d", [(1, "a b  d"), (10, "a  c  d")]),
        ("a[b:[c:d:2]:1]e", [(1, "abe"), (2, "ace"), (10, "ade")]),
        ("a [unbalanced", [(10, "a [unbalanced")]),
        ("a [b:.5] c", [(5, "a  c"), (10, "a b c")]),
        # The docstring says [(5, "a  c"), (10, "a {b|d{ c")] ("not handling this right now"); A1111's
        # code has returned the prompt unchanged since `|` became alternation.
        ("a [{b|d{:.5] c", [(10, "a [{b|d{:.5] c")]),
        ("((a][:b:c [d:3]", [(3, "((a][:b:c "), (10, "((a][:b:c d")]),
        ("[a|(b:1.1)]", ALTERNATING),
        ("[fe|]male", [(step, "female" if step % 2 else "male") for step in range(1, 11)]),
        ("[fe|||]male", [(step, "female" if step % 4 == 1 else "male") for step in range(1, 11)]),
    ],
)
def test_schedule_matches_a1111_docstring(prompt, expected):
    assert steps10(prompt) == expected


def test_schedule_of_a1111_example_comment():
    prompt = (
        "fantasy landscape with a [mountain:lake:0.25] and [an oak:a christmas tree:0.75]"
        "[ in foreground::0.6][: in background:0.25] [shoddy:masterful:0.5]"
    )
    assert schedule(prompt, 100) == [
        (25, "fantasy landscape with a mountain and an oak in foreground shoddy"),
        (50, "fantasy landscape with a lake and an oak in foreground in background shoddy"),
        (60, "fantasy landscape with a lake and an oak in foreground in background masterful"),
        (75, "fantasy landscape with a lake and an oak in background masterful"),
        (100, "fantasy landscape with a lake and a christmas tree in background masterful"),
    ]


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("[a:b:0.25]", [(2, "a"), (10, "b")]),  # a fraction is truncated, not rounded
        ("[a:b:0.57]", [(5, "a"), (10, "b")]),  # 0.57 * 10 is 5.6999...
        ("a [b:c:12]", [(10, "a b")]),  # past the last step: never switches
        ("[a:b:1.0]", [(10, "a")]),  # a decimal point makes it a fraction: 1.0 = all steps
        ("[a:b:1.5]", [(10, "a")]),
        ("[a:b:1e1]", [(10, "a")]),  # no decimal point: step 10
        ("a [b:c:0]", [(10, "a c")]),
        ("a [b:c:0.0]", [(10, "a c")]),
        ("[a:b:-1]", [(10, "b")]),
        ("[a:b: 3 ]", [(3, "a"), (10, "b")]),
        ("[a:b:1e999]", [(10, "a")]),  # A1111 overflows here
    ],
)
def test_when_of_an_edit(prompt, expected):
    assert steps10(prompt) == expected


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("[a|b|c]", [(step, "abc"[(step - 1) % 3]) for step in range(1, 11)]),
        ("[a||b]", [(step, ["a", "", "b"][(step - 1) % 3]) for step in range(1, 11)]),
        ("[a|[b|c]]", [(step, "a" if step % 2 else "c") for step in range(1, 11)]),
        ("[[a|b]:5]", [(step, "" if step <= 5 else "ab"[(step - 1) % 2]) for step in range(1, 11)]),
        ("[a: [b|c] :2]", [(1, "a"), (2, "a")] + [(s, " b " if s % 2 else " c ") for s in range(3, 11)]),
    ],
)
def test_alternation_changes_every_step(prompt, expected):
    assert steps10(prompt) == expected


def test_editing_inside_emphasis_keeps_the_brackets():
    assert steps10("([a:b:5])") == [(5, "(a)"), (10, "(b)")]


@pytest.mark.parametrize(
    "prompt",
    [
        "[x]",  # de-emphasis, not an edit
        "(a|b)",
        "\\[a:b:3]",  # escaped
        "[a:b:3",  # unclosed
        "[a:b:c]",  # not a number
        "[a|b:3]",  # alternation and edit cannot mix
        "[(a:b:c):3]",
        "a | b",  # | outside brackets: A1111 cannot read the prompt and uses it as written
        "a [b:3] \\",  # nor with a trailing backslash, which also stops [b:3]
        "中文 😀 (猫:1.2)",
    ],
)
def test_prompts_left_alone_by_the_scheduler(prompt):
    assert steps10(prompt) == [(10, prompt)]


def test_stray_closing_bracket_after_an_edit_is_text():
    # A1111's Earley parse picks either reading at random here; the edit is the useful one.
    assert steps10("[a:3]]") == [(3, "]"), (10, "a]")]


@pytest.mark.parametrize(
    ("prompt", "hires", "old", "expected"),
    [
        ("[a:b:15]", 10, False, [(5, "a"), (10, "b")]),  # whole numbers count on from the base steps
        ("[a:b:1.5]", 10, False, [(5, "a"), (10, "b")]),  # fractions span 1.0-2.0 in the hires pass
        ("[a:b:0.5]", 10, False, [(10, "b")]),
        ("[a:b:5]", 10, False, [(10, "b")]),
        ("[a:b:1.5]", None, True, [(1, "a"), (10, "b")]),  # old rule: 1 or more is a step number
        ("[a:b:0.5]", None, True, [(5, "a"), (10, "b")]),
        ("[a:b:15]", 10, True, [(10, "a")]),  # old rule ignores the hires pass
    ],
)
def test_hires_and_old_scheduling(prompt, hires, old, expected):
    assert schedule(prompt, 10, hires_steps=hires, old_scheduling=old) == expected


def test_a1111_hires_docstring_examples():
    assert schedule("a [b:.5] c", 10, hires_steps=10) == [(10, "a b c")]
    assert schedule("a [b:1.5] c", 10, hires_steps=10) == [(5, "a  c"), (10, "a b c")]


# --- AND ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("a cat AND a dog :1.2", [("a cat", 1.0), (" a dog", 1.2)]),
        ("a AND b:0.5 AND c", [("a", 1.0), (" b", 0.5), (" c", 1.0)]),
        ("a : -.5  ", [("a", -0.5)]),
        ("a:1.", [("a", 1.0)]),
        ("a:1.5:2", [("a:1.5", 2.0)]),
        ("ANDROID", [("ANDROID", 1.0)]),
        ("and AND And", [("and", 1.0), (" And", 1.0)]),
        ("cat,AND,dog", [("cat,", 1.0), (",dog", 1.0)]),
        (" a AND", [(" a", 1.0), ("", 1.0)]),
        ("[a:b:5] AND (c:1.2)", [("[a:b:5]", 1.0), (" (c:1.2)", 1.0)]),
        # A1111 reads a trailing ":number" as the weight even in plain text.
        ("time: 12:00", [("time: 12", 0.0)]),
    ],
)
def test_split_and(prompt, expected):
    assert split_and(prompt) == expected


# --- LoRA tags ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "text", "tags"),
    [
        ("a cat <lora:cats:0.8>", "a cat ", [LoraTag("cats", 0.8)]),
        ("<lora:cats>", "", [LoraTag("cats", 1.0)]),
        ("<lora:my cat v1.5-final:0.6>, x", ", x", [LoraTag("my cat v1.5-final", 0.6)]),
        ("<lyco:style:-0.5>", "", [LoraTag("style", -0.5)]),
        # A1111 order: text encoder first, then UNet.
        ("<lora:detail:0.5:1.2>", "", [LoraTag("detail", 1.2, te_weight=0.5)]),
        ("<lora:detail:te=0.3:unet=0.9>", "", [LoraTag("detail", 0.9, te_weight=0.3)]),
        ("<lora:detail:0.7:0.7>", "", [LoraTag("detail", 0.7)]),
        ("<lora:locon:1:1:8>", "", [LoraTag("locon", 1.0)]),  # LyCORIS dimension: accepted, unused
        ("<lora:a:1><lora:b:0.5> c", " c", [LoraTag("a", 1.0), LoraTag("b", 0.5)]),
    ],
)
def test_lora_tags_are_read_and_removed(prompt, text, tags):
    assert extract_lora_tags(prompt) == (text, tags)


def test_text_encoder_weight_defaults_to_the_weight():
    assert LoraTag("a", 0.8).text_encoder_weight == 0.8
    assert LoraTag("a", 0.8, te_weight=0.2).text_encoder_weight == 0.2


@pytest.mark.parametrize(
    "prompt",
    ["<hypernet:anime:1> a", "<LORA:x:1>", "<lora:>", "a <b> c", "(a:1.2) [b:c:3]"],
)
def test_other_tags_stay_in_the_text(prompt):
    assert extract_lora_tags(prompt) == (prompt, [])


@pytest.mark.parametrize(
    ("prompt", "wrong"),
    [
        ("<lora:cats:strong>", "'strong'"),
        ("<lora:cats:>", "''"),
        ("<lora:cats:0,8>", "'0,8'"),
        ("<lora:cats:inf>", "'inf'"),
        ("<lora:cats:1:te=x>", "'x'"),
        ("<lora::1>", "no LoRA name"),
        ("<lora:cats:1:1:big>", "'big'"),
    ],
)
def test_malformed_lora_tag_says_what_to_write(prompt, wrong):
    with pytest.raises(RequestError) as raised:
        extract_lora_tags(prompt)
    assert wrong in raised.value.message
    assert prompt in raised.value.message
    assert "<lora:" in raised.value.hint

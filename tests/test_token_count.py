"""The live token count shows the chunks the encoder will make, and needs no torch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.prompts.encoding import tokenize_chunks
from core.prompts.token_count import chunk_token_counts
from core.tokenizer import load_clip_tokenizer

ROOT = Path(__file__).resolve().parent.parent


def words(word: str, count: int) -> str:
    return " ".join([word] * count)


@pytest.fixture(scope="module")
def tokenizer():  # type: ignore[no-untyped-def]
    return load_clip_tokenizer()


def encoder_counts(tokenizer, text: str) -> list[int]:  # type: ignore[no-untyped-def]
    """Tokens per chunk as the encoder fills them: the first end-of-text follows the last real token."""
    return [chunk.tokens.index(tokenizer.eos_token_id) - 1 for chunk in tokenize_chunks(tokenizer, text)]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "a red fox in the snow",
        words("fox", 75),
        words("fox", 76),
        words("fox", 150),
        words("a", 70) + ", " + words("b", 10),  # the comma is among the last 20: the chunk is cut after it
        words("a", 40) + ", " + words("b", 44),  # too far back: no cut
        words("a", 60) + ", " + words("b", 10) + ", " + words("c", 30),
        "a red fox BREAK in the snow",
        "BREAK a fox",
        "a fox BREAK BREAK snow",
        words("fox", 80) + " BREAK " + words("hare", 3),
        "a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).",
        "masterpiece, best quality, 1girl, (detailed eyes:1.2), \\(cosplay\\), 中文 😀, " * 6,
        "(unbalanced [brackets and stray) closers]]",
    ],
)
def test_counts_are_the_encoders_chunks(tokenizer, text):
    assert chunk_token_counts(tokenizer, text) == encoder_counts(tokenizer, text)


def test_a_long_prompt_shows_how_full_each_chunk_is(tokenizer):
    assert chunk_token_counts(tokenizer, "") == [0]
    assert chunk_token_counts(tokenizer, words("fox", 98)) == [75, 23]
    # The comma rule closes the first chunk early: the words after the comma move to the second.
    assert chunk_token_counts(tokenizer, words("a", 70) + ", " + words("b", 10)) == [71, 10]


def test_lora_tags_are_not_counted(tokenizer):
    assert chunk_token_counts(tokenizer, "a fox <lora:film grain:0.7> <lyco:x:1:0.5>") == \
        chunk_token_counts(tokenizer, "a fox")
    assert chunk_token_counts(tokenizer, "a fox <lora::0.7>") == encoder_counts(tokenizer, "a fox <lora::0.7>")


def test_prompt_editing_counts_its_longest_text(tokenizer):
    long = "a very long and detailed description"
    assert chunk_token_counts(tokenizer, f"a [fox:{long}:0.5]") == encoder_counts(tokenizer, f"a {long}")
    assert chunk_token_counts(tokenizer, f"a [{long}|cat]") == encoder_counts(tokenizer, f"a {long}")
    # An edit at a step past the last never shows its second text.
    assert chunk_token_counts(tokenizer, f"a [fox:{long}:30]", steps=20) == [2]
    assert chunk_token_counts(tokenizer, f"a [fox:{long}:30]", steps=40) == encoder_counts(tokenizer, f"a {long}")


def test_and_parts_are_counted_one_by_one(tokenizer):
    assert chunk_token_counts(tokenizer, f"a fox AND {words('hare', 80)} :0.8") == [75, 5]
    assert chunk_token_counts(tokenizer, "a fox and a hare") == [5]  # lower-case "and" is a word


def test_a_prompt_the_encoder_refuses_is_still_counted(tokenizer):
    assert chunk_token_counts(tokenizer, "a (fox:1.2.3)") == encoder_counts(tokenizer, "a \\(fox:1.2.3\\)")


def test_counting_imports_no_torch():
    script = (
        "import sys\n"
        "from core.prompts.token_count import load_token_counter\n"
        "count = load_token_counter()\n"
        "print(count('a (red:1.2) fox, [a:b:3] BREAK snow AND hare <lora:film:0.5>'))\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[5, 1]"  # "a red fox, a" BREAK "snow"; " hare" is shorter


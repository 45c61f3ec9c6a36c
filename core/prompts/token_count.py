"""Tokens per 75-token chunk of a prompt, as the encoder will chunk it, for a live count while typing.

Torch-free: it needs only the tokenizer, so the window can count before the engine is loaded.

The text is read as the engine reads it: `<lora:...>` tags removed, `AND` parts encoded one by one
(the count is that of the longest part), prompt editing (`[a:b:when]`, `[a|b]`) expanded over the
sampling steps (the count is that of the longest text). Textual-inversion names are counted as
the words they are written with; the engine gives each the number of vectors its file holds.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable

from core.errors import EaselError
from core.prompts.chunks import chunk_bodies
from core.prompts.composition import split_and
from core.prompts.lora_tags import extract_lora_tags
from core.prompts.scheduling import schedule

_BRACKET = re.compile(r"([()\[\]\\])")
DEFAULT_STEPS = 20  # A1111's default; only matters for edits at a step number beyond it


def chunk_token_counts(tokenizer: Any, text: str, steps: int = DEFAULT_STEPS) -> list[int]:
    """Tokens in each chunk of the prompt's longest variant; `[0]` for an empty prompt.

    A chunk holds at most 75; one closed early by `BREAK` or the comma rule holds fewer."""
    candidates = [_chunk_sizes(tokenizer, variant) for variant in _variants(text, steps)]
    return max(candidates, key=lambda counts: (len(counts), sum(counts)))


def _chunk_sizes(tokenizer: Any, text: str) -> list[int]:
    try:
        bodies = chunk_bodies(tokenizer, text)
    except EaselError:  # a weight that is not a number: the engine refuses it; count what is written meanwhile
        bodies = chunk_bodies(tokenizer, _BRACKET.sub(r"\\\1", text))
    return [len(tokens) for tokens, _, _ in bodies]


def _variants(text: str, steps: int) -> list[str]:
    """Each text the encoder will see for this prompt."""
    try:
        prompt, _ = extract_lora_tags(text)
    except EaselError:
        prompt = text  # a malformed tag: the engine will refuse it; count it as written meanwhile
    parts = split_and(prompt)
    sub_prompts = [part for part, _ in parts] if len(parts) > 1 else [prompt]
    return list(dict.fromkeys(variant for part in sub_prompts for _, variant in schedule(part, max(1, steps))))


def load_token_counter(tokenizer_dir: Path | None = None) -> Callable[..., list[int]]:
    """A counter over the shipped CLIP tokenizer (SD1, SD2 and SDXL all share its vocabulary).

    Loading takes a few seconds the first time (transformers is imported); call it off the UI thread."""
    from core.tokenizer import load_clip_tokenizer

    tokenizer = load_clip_tokenizer(folder=tokenizer_dir)

    def count(text: str, steps: int = DEFAULT_STEPS) -> list[int]:
        return chunk_token_counts(tokenizer, text, steps)

    return count

"""Image file names from an A1111-style pattern such as `[number]-[seed]`, safe on every file system.

Tokens (any case): [number] [seed] [model_name] [width] [height] [sampler] [steps] [cfg] [date]
[prompt_words]. As in A1111, an unknown `[word]` stays as written. Values are cleaned the way A1111's
`sanitize_filename_part` cleans them (no `/ \\ : * ? " < > | #` or control characters), the name never
starts with a dot or a space nor ends with a dot or a space, never is a Windows device name (CON, NUL,
COM1...), and is cut to MAX_STEM_CHARS characters by shortening the text tokens, so [number] stays in.
"""

from __future__ import annotations

import datetime
import re
import string
from dataclasses import dataclass

DEFAULT_FILE_NAME_PATTERN = "[number]-[seed]"  # A1111's names: 00012-618633303.png
MAX_STEM_CHARS = 120
MAX_STEM_BYTES = 200  # UTF-8; file systems allow 255 bytes, and the temporary name adds a few
PROMPT_WORDS = 8  # A1111's "directories_max_prompt_words" default
TOKENS = ("number", "seed", "model_name", "width", "height", "sampler", "steps", "cfg", "date", "prompt_words")
_TEXT_TOKENS = ("model_name", "sampler", "prompt_words")  # the ones shortened when a name is too long

_TOKEN = re.compile(r"\[(\w+)\]")
_INVALID = re.compile(r'[\\/:*?"<>|#\x00-\x1f\x7f]')
_NON_LETTERS = re.compile(r"[\s" + re.escape(string.punctuation) + r"]+")
_EXTRA_NETWORK_TAG = re.compile(r"<\w+:[^>]+>")
_WINDOWS_DEVICES = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}


@dataclass(frozen=True)
class NameFields:
    """What a generated image's name can be made of."""

    seed: int
    model_name: str = ""
    width: int = 0
    height: int = 0
    sampler: str = ""
    steps: int = 0
    cfg: float = 0.0
    prompt: str = ""
    date: datetime.date | None = None  # None: today


def pattern_problem(pattern: str) -> str | None:
    """Why a pattern cannot be used, or None when it can."""
    if not pattern.strip():
        return "is empty"
    unknown = [name for name in _TOKEN.findall(pattern) if name.lower() not in TOKENS]
    if unknown:
        return f"has unknown tokens {', '.join(f'[{name}]' for name in unknown)} (known: " \
               f"{' '.join(f'[{name}]' for name in TOKENS)})"
    literal_length = len(_TOKEN.sub("", pattern))
    if literal_length > MAX_STEM_CHARS // 2:
        return f"has {literal_length} characters of fixed text; at most {MAX_STEM_CHARS // 2} fit in a file name"
    return None


def has_number(pattern: str) -> bool:
    return any(name.lower() == "number" for name in _TOKEN.findall(pattern))


def render_stem(pattern: str, number: int, fields: NameFields) -> str:
    """The file name without `.png` that `pattern` gives for image `number` (written as 00012)."""
    pieces = _pieces(pattern, number, fields)
    _shorten(pieces)
    return _safe_stem("".join(text for text, _ in pieces))


def _values(number: int, fields: NameFields) -> dict[str, str]:
    return {
        "number": f"{number:05}",
        "seed": str(fields.seed),
        "model_name": fields.model_name,
        "width": str(fields.width),
        "height": str(fields.height),
        "sampler": fields.sampler,
        "steps": str(fields.steps),
        "cfg": str(fields.cfg),
        "date": (fields.date or datetime.date.today()).isoformat(),
        "prompt_words": prompt_words(fields.prompt),
    }


def prompt_words(prompt: str) -> str:
    """The prompt's first words without punctuation or LoRA tags, as A1111's [prompt_words]."""
    words = [word for word in _NON_LETTERS.split(_EXTRA_NETWORK_TAG.sub(" ", prompt)) if word]
    return " ".join(words[:PROMPT_WORDS]) or "empty"


def _pieces(pattern: str, number: int, fields: NameFields) -> list[tuple[str, bool]]:
    """(text, may be shortened) in order: fixed text and values, each already cleaned."""
    values = _values(number, fields)
    pieces: list[tuple[str, bool]] = []
    position = 0
    for match in _TOKEN.finditer(pattern):
        pieces.append((_clean(pattern[position:match.start()]), False))
        name = match.group(1).lower()
        value = values.get(name)
        pieces.append((_clean(value), name in _TEXT_TOKENS) if value is not None else (_clean(match.group(0)), False))
        position = match.end()
    pieces.append((_clean(pattern[position:]), False))
    return pieces


def _clean(text: str) -> str:
    return _INVALID.sub("", text)


def _too_long(text: str) -> bool:
    return len(text) > MAX_STEM_CHARS or len(text.encode("utf-8")) > MAX_STEM_BYTES


def _shorten(pieces: list[tuple[str, bool]]) -> None:
    """Cut text tokens, the last first, until the whole name fits."""
    for index in reversed(range(len(pieces))):
        text, shortenable = pieces[index]
        if shortenable:
            rest = "".join(other for at, (other, _) in enumerate(pieces) if at != index)
            pieces[index] = (_fitting_prefix(text, rest), True)


def _fitting_prefix(text: str, rest: str) -> str:
    text = text[:max(0, MAX_STEM_CHARS - len(rest))]
    while text and _too_long(rest + text):
        text = text[:-1]
    return text


def _safe_stem(stem: str) -> str:
    while _too_long(stem):  # only fixed text and numbers left: cut from the end
        stem = stem[:-1]
    stem = stem.lstrip(" .").rstrip(" .")
    if not stem:
        return "image"
    if stem.split(".")[0].strip().lower() in _WINDOWS_DEVICES:
        stem = f"_{stem}"
    return stem

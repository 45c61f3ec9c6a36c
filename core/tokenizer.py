"""The CLIP tokenizer every Stable Diffusion text encoder expects, loaded offline from resources/.

transformers' CLIPTokenizer (only the Rust-backed one exists in transformers 5)
skips the text clean-up that OpenAI's CLIP tokenizer applies before BPE, so
full-width text, curly quotes, HTML entities and mis-decoded text produce
other token ids than the models were trained on. `load_clip_tokenizer`
returns a subclass that cleans every prompt first, exactly as CLIP does.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import ftfy
from transformers import CLIPTokenizer

from core.errors import ModelFileError
from core.paths import resources_dir

END_OF_TEXT = "<|endoftext|>"
# SD2.x and SDXL's second (OpenCLIP) tokenizer pad with "!" (id 0) instead of end-of-text.
BANG_PAD = "!"
TOKENIZER_FILES = ("vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json")


def clean_prompt_text(text: str) -> str:
    """Clean text as CLIP's tokenizer does: ftfy, HTML unescape twice, collapse whitespace, lower-case."""
    text = ftfy.fix_text(text)
    text = html.unescape(html.unescape(text))
    return " ".join(text.split()).lower()


class CleaningCLIPTokenizer(CLIPTokenizer):
    """A CLIPTokenizer that applies `clean_prompt_text` before encoding, on every entry point."""

    def _encode_plus(self, text: Any, text_pair: Any = None, *args: Any, **kwargs: Any):  # type: ignore[override]
        # __call__, encode and tokenize all end here in transformers 5.
        if not kwargs.get("is_split_into_words", False):
            text = _clean_inputs(text)
            text_pair = _clean_inputs(text_pair)
        return super()._encode_plus(text, text_pair, *args, **kwargs)


def _clean_inputs(value: Any) -> Any:
    if isinstance(value, str):
        return clean_prompt_text(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_clean_inputs(item) for item in value)
    return value


def clip_tokenizer_dir() -> Path:
    return resources_dir() / "tokenizers" / "clip"


def load_clip_tokenizer(pad_token: str = END_OF_TEXT, folder: Path | None = None) -> CleaningCLIPTokenizer:
    """The shipped CLIP tokenizer; pass `pad_token="!"` for SD2.x and SDXL's `tokenizer_2`."""
    folder = folder or clip_tokenizer_dir()
    missing = [name for name in TOKENIZER_FILES if not (folder / name).is_file()]
    if missing:
        raise ModelFileError(
            f"The CLIP tokenizer files are missing from {folder}: {', '.join(missing)}.",
            hint="Reinstall Easel, or run packaging/make_tokenizer_files.py in a source checkout.",
        )
    # split_special_tokens: "!" typed in a prompt stays the BPE token "!" (256), not the pad token (0),
    # and a typed "<|endoftext|>" is plain text, as in OpenAI's tokenizer. BOS/EOS/padding are unaffected.
    return CleaningCLIPTokenizer.from_pretrained(
        str(folder), pad_token=pad_token, split_special_tokens=True, local_files_only=True
    )


class TokenizerCache:
    """Tokenizers by padding token, built once per engine.

    Building one takes ~0.1 s inside the Rust `tokenizers` library with the GIL held, which stalls
    every other Python thread (the window's event loop among them); tokenizers are never changed
    after loading, so models loaded later share them.
    """

    def __init__(self, folder: Path | None = None) -> None:
        self._folder = folder
        self._loaded: dict[str, CleaningCLIPTokenizer] = {}

    def get(self, pad_token: str = END_OF_TEXT) -> CleaningCLIPTokenizer:
        if pad_token not in self._loaded:
            self._loaded[pad_token] = load_clip_tokenizer(pad_token, self._folder)
        return self._loaded[pad_token]

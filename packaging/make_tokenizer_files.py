#!/usr/bin/env python3
"""Re-create resources/tokenizers/clip/ from the BPE vocabulary inside the open_clip wheel.

    python packaging/make_tokenizer_files.py [--check]

The files equal those of openai/clip-vit-large-patch14 (the tokenizer of every
Stable Diffusion checkpoint), derived without the Hugging Face hub:
`bpe_simple_vocab_16e6.txt.gz` ships in `open_clip_torch`, and the vocabulary
is built from it exactly as OpenAI's `SimpleTokenizer` builds it. With --check,
nothing is written; the exit status says whether the shipped files are current.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path

OUTPUT_DIR = Path(__file__).resolve().parent.parent / "resources" / "tokenizers" / "clip"
BOS, EOS = "<|startoftext|>", "<|endoftext|>"
# 49408 tokens = 256 bytes + 256 end-of-word bytes + 48894 merges + 2 specials
MERGE_COUNT = 49152 - 256 - 2


def bytes_to_unicode() -> dict[int, str]:
    """OpenAI's reversible byte -> printable-character map (the byte-level alphabet)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(code) for code in codes)))


def read_merges(bpe_gz: Path) -> list[str]:
    lines = gzip.open(bpe_gz).read().decode("utf-8").split("\n")
    return lines[1 : MERGE_COUNT + 1]  # line 0 is a version header


def build_vocab(merges: list[str]) -> dict[str, int]:
    alphabet = list(bytes_to_unicode().values())
    tokens = alphabet + [char + "</w>" for char in alphabet]
    tokens += ["".join(merge.split()) for merge in merges]
    tokens += [BOS, EOS]
    return {token: index for index, token in enumerate(tokens)}


def special_token(content: str) -> dict[str, object]:
    return {"content": content, "lstrip": False, "normalized": True, "rstrip": False, "single_word": False}


def tokenizer_config() -> dict[str, object]:
    return {
        "add_prefix_space": False,
        "bos_token": special_token(BOS),
        "clean_up_tokenization_spaces": True,
        "do_lower_case": True,
        "eos_token": special_token(EOS),
        "errors": "replace",
        "model_max_length": 77,
        "pad_token": EOS,
        "tokenizer_class": "CLIPTokenizer",
        "unk_token": special_token(EOS),
    }


def special_tokens_map() -> dict[str, object]:
    return {"bos_token": special_token(BOS), "eos_token": special_token(EOS), "pad_token": EOS, "unk_token": special_token(EOS)}


def render_files(bpe_gz: Path) -> dict[str, str]:
    merges = read_merges(bpe_gz)
    vocab = build_vocab(merges)
    if len(vocab) != 49408:
        raise SystemExit(f"expected 49408 tokens from {bpe_gz}, got {len(vocab)}")
    as_json = lambda value: json.dumps(value, indent=2, ensure_ascii=False) + "\n"  # noqa: E731
    return {
        "vocab.json": json.dumps(vocab, ensure_ascii=False, separators=(",", ":")) + "\n",
        "merges.txt": "#version: 0.2\n" + "\n".join(merges) + "\n",
        "tokenizer_config.json": as_json(tokenizer_config()),
        "special_tokens_map.json": as_json(special_tokens_map()),
    }


def open_clip_bpe_path() -> Path:
    import open_clip.tokenizer

    return Path(open_clip.tokenizer.default_bpe())


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare with the shipped files, write nothing")
    parser.add_argument("--bpe", type=Path, default=None, help="bpe_simple_vocab_16e6.txt.gz (default: open_clip's)")
    args = parser.parse_args(argv)
    files = render_files(args.bpe or open_clip_bpe_path())
    if args.check:
        stale = [name for name, text in files.items() if _read(OUTPUT_DIR / name) != text]
        for name in stale:
            print(f"out of date: {OUTPUT_DIR / name}")
        return 1 if stale else 0
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (OUTPUT_DIR / name).write_text(text, encoding="utf-8", newline="\n")
        print(f"wrote {OUTPUT_DIR / name}")
    return 0


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.exists() else None


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

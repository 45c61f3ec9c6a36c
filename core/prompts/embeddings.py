"""Textual-inversion embeddings, as A1111 uses them: read from their files, fitted to a model's text
encoders, and found in tokenized prompts by the token ids of their names.

An embedding is used by writing its name (the file stem) anywhere in a prompt; the name's tokens are
replaced by the embedding's vectors (see `core.prompts.encoding`). Files hold one of:
- `emb_params` (safetensors), `string_to_param.*` (A1111 .pt) or one tensor (diffusers `learned_embeds.bin`):
  (N, width) vectors for a model with one text encoder;
- `clip_l` and `clip_g`: SDXL, one set of vectors for each text encoder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import torch

from core.errors import ModelFileError
from core.models.safe_load import load_state_dict

# Per text encoder (the pipeline attribute: "text_encoder", "text_encoder_2"): (N, width) vectors.
EncoderVectors = Mapping[str, torch.Tensor]
SINGLE = "vectors"  # the key `read_embedding` gives the vectors of a one-encoder embedding
_SDXL_KEYS = {"text_encoder": "clip_l", "text_encoder_2": "clip_g"}
TEXT_ENCODERS = tuple(_SDXL_KEYS)


def read_embedding(path: Path) -> dict[str, torch.Tensor]:
    """The vectors in an embedding file: {"clip_l", "clip_g"} for SDXL, else {SINGLE: (N, width)}.

    Opened only through `load_state_dict`, so a pickle that would run code raises UnsafeFileError."""
    path = Path(path)
    tensors = load_state_dict(path)
    if "clip_l" in tensors and "clip_g" in tensors:
        return {key: _as_rows(tensors[key]) for key in ("clip_l", "clip_g")}
    params = [tensor for name, tensor in tensors.items() if name.startswith("string_to_param.")]
    if "emb_params" in tensors:
        params = [tensors["emb_params"]]
    elif not params and len(tensors) == 1:
        params = list(tensors.values())  # diffusers: {"<token>": vectors}
    if len(params) != 1:
        raise ModelFileError(f"{path.name} is not a textual-inversion embedding Easel can read.",
                             "Remove it from the embeddings folder, or get the embedding again.", details=str(path))
    return {SINGLE: _as_rows(params[0])}


def _as_rows(tensor: torch.Tensor) -> torch.Tensor:
    tensor = tensor.detach().to(torch.float32)
    return tensor.unsqueeze(0) if tensor.dim() == 1 else tensor


def encoder_widths(pipe: Any) -> dict[str, int]:
    """The token-embedding width of each text encoder the pipeline has (the SDXL refiner: only the second)."""
    return {name: getattr(pipe, name).get_input_embeddings().embedding_dim
            for name in TEXT_ENCODERS if getattr(pipe, name, None) is not None}


def fit_to_encoders(vectors: Mapping[str, torch.Tensor], widths: Mapping[str, int]) -> dict[str, torch.Tensor] | None:
    """The embedding's vectors for each of a model's text encoders, or None when it was made for
    another model (A1111 skips those): wrong width, or SD1/SD2 vectors on SDXL and the reverse."""
    if SINGLE in vectors:
        fitted = {"text_encoder": vectors[SINGLE]} if set(widths) == {"text_encoder"} else {}
    else:
        fitted = {name: vectors[_SDXL_KEYS[name]] for name in widths if name in _SDXL_KEYS}
    fits = fitted.keys() == widths.keys() and all(
        tensor.shape[-1] == widths[name] for name, tensor in fitted.items())
    return fitted if fits else None


def describe_widths(vectors: Mapping[str, torch.Tensor]) -> str:
    """"width 768" or "widths 768 and 1280", for a message about an embedding that does not fit."""
    widths = [str(tensor.shape[-1]) for tensor in vectors.values()]
    return f"width {widths[0]}" if len(widths) == 1 else f"widths {' and '.join(widths)}"


@dataclass(frozen=True)
class EmbeddingMatch:
    name: str
    vectors: int  # positions the embedding takes in a chunk
    length: int  # prompt tokens its name takes


class EmbeddingLookup:
    """Finds embedding names in token ids as A1111 does: by the name's first token, longest name first."""

    def __init__(self, tokenizer: Any, vector_counts: Mapping[str, int]) -> None:
        self._by_first: dict[int, list[tuple[list[int], str]]] = {}
        self._counts = dict(vector_counts)
        names = list(vector_counts)
        for name, ids in zip(names, _name_ids(tokenizer, names)):
            if ids:
                self._by_first.setdefault(ids[0], []).append((ids, name))
        for candidates in self._by_first.values():
            candidates.sort(key=lambda candidate: len(candidate[0]), reverse=True)

    def __bool__(self) -> bool:
        return bool(self._by_first)

    def match_at(self, tokens: list[int], position: int) -> EmbeddingMatch | None:
        for ids, name in self._by_first.get(tokens[position], ()):
            if tokens[position:position + len(ids)] == ids:
                return EmbeddingMatch(name, self._counts[name], len(ids))
        return None


def _name_ids(tokenizer: Any, names: list[str]) -> list[list[int]]:
    if not names:
        return []
    return tokenizer(names, truncation=False, add_special_tokens=False)["input_ids"]


def names_in_texts(tokenizer: Any, texts: Iterable[str], names: Iterable[str]) -> list[str]:
    """The names whose tokens occur in any of the texts: the embeddings a request may use, to load."""
    texts, names = [text for text in texts if text], list(names)
    if not texts or not names:
        return []
    text_ids = tokenizer(texts, truncation=False, add_special_tokens=False)["input_ids"]
    found = []
    for name, ids in zip(names, _name_ids(tokenizer, names)):
        if ids and any(_contains(tokens, ids) for tokens in text_ids):
            found.append(name)
    return found


def _contains(tokens: list[int], ids: list[int]) -> bool:
    return any(tokens[start:start + len(ids)] == ids for start in range(len(tokens) - len(ids) + 1))


class EmbeddingCache:
    """Embedding files read once, kept while the file's path, size and modification time stay the same."""

    def __init__(self) -> None:
        self._vectors: dict[tuple[str, int, int], dict[str, torch.Tensor]] = {}

    def read(self, path: Path) -> dict[str, torch.Tensor]:
        stat = Path(path).stat()
        key = (str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)
        if key not in self._vectors:
            self._vectors[key] = read_embedding(path)
        return self._vectors[key]

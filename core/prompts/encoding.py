"""Prompt text to text-encoder embeddings, computed the way A1111 does.

Follows A1111's `FrozenCLIPEmbedderWithCustomWordsBase` with its default
settings ("Original" emphasis, comma backtrack 20, padding cond and uncond to
the same length with the empty prompt):

- the prompt is split into 75-token chunks, each encoded as BOS + 75 + EOS
  (77 positions) and the results concatenated, so nothing is cut off;
- `BREAK` starts a new chunk; a full chunk is cut after its last comma when
  that comma is among its last 20 tokens;
- each token's embedding is multiplied by its emphasis weight, then the whole
  batch is rescaled so its mean equals the unweighted mean;
- SD1 uses the hidden state `clip_skip` layers from the end through the
  final layer norm; SD2 ignores clip skip, as A1111's OpenCLIP path does; SDXL uses the penultimate layer of both encoders without
  the norm (A1111 ignores clip skip there by default) and the pooled output
  of the second encoder for the first chunk.

Textual-inversion embeddings (`embeddings`: name -> vectors per text encoder) are
found by the token ids of their names and take one position per vector, as in
A1111's `tokenize_line`; their vectors replace the token-embedding output there,
so position embeddings and the transformer see them as A1111 feeds them.

Callers remove `<lora:...>` tags first (`core.prompts.extract_lora_tags`) and
expand prompt editing with `encode_schedules`. `AND` is not applied here: it
is encoded as the word "and".
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, Mapping

import torch

from core.errors import RequestError
from core.prompts.chunks import CHUNK_POSITIONS, Chunk, tokenize_chunks
from core.prompts.embeddings import EmbeddingLookup, EncoderVectors, encoder_widths
from core.prompts.scheduling import schedule


@dataclass(frozen=True)
class Conditioning:
    """One text's embeddings: (1, 77 * chunks, width), and for SDXL the pooled (1, width_2)."""

    embeds: torch.Tensor
    pooled: torch.Tensor | None

    @property
    def chunks(self) -> int:
        return self.embeds.shape[1] // CHUNK_POSITIONS


@dataclass(frozen=True)
class PromptEmbeddings:
    """The pipeline's prompt arguments; prompt and negative have the same number of chunks."""

    prompt_embeds: torch.Tensor
    negative_prompt_embeds: torch.Tensor
    pooled: torch.Tensor | None  # SDXL only
    negative_pooled: torch.Tensor | None


@dataclass(frozen=True)
class _Encoder:
    tokenizer: Any
    model: Any
    select: Callable[[Any], torch.Tensor]  # encoder output -> per-token embeddings
    gives_pooled: bool
    name: str = "text_encoder"  # the pipeline attribute: which of an embedding's vectors this encoder takes


def _final_layer_norm(model: Any) -> Any:
    # transformers >= 5.6 has no `text_model` wrapper; older versions do.
    return getattr(model, "text_model", model).final_layer_norm


def _skipping_layers(model: Any, clip_skip: int, output: Any) -> torch.Tensor:
    if clip_skip <= 1:
        return output.last_hidden_state
    layers = len(output.hidden_states) - 1
    if clip_skip > layers:
        raise RequestError(
            f"Clip skip {clip_skip} is more than the {layers} layers of this model's text encoder.",
            hint="Use clip skip 1 or 2; 2 is what most anime-style SD1.5 models expect.",
        )
    return _final_layer_norm(model)(output.hidden_states[-clip_skip])


def _penultimate(output: Any) -> torch.Tensor:
    return output.hidden_states[-2]


def _encoders(pipe: Any, family: str, clip_skip: int) -> list[_Encoder]:
    if not family.startswith("sdxl"):
        skip = clip_skip if family == "sd1" else 1  # A1111 never applies clip skip to SD2's OpenCLIP
        select = partial(_skipping_layers, pipe.text_encoder, skip)
        return [_Encoder(pipe.tokenizer, pipe.text_encoder, select, gives_pooled=False)]
    # The SDXL refiner has only the second encoder.
    pairs = [(pipe.tokenizer, pipe.text_encoder, False, "text_encoder"),
             (pipe.tokenizer_2, pipe.text_encoder_2, True, "text_encoder_2")]
    return [_Encoder(tokenizer, model, _penultimate, pooled, name)
            for tokenizer, model, pooled, name in pairs if model is not None]


def _emphasized(z: torch.Tensor, multipliers: torch.Tensor) -> torch.Tensor:
    original_mean = z.mean()
    z = z * multipliers.unsqueeze(-1)
    return z * (original_mean / z.mean())


Embeddings = Mapping[str, EncoderVectors]  # embedding name -> its vectors for each text encoder


def _fixing_hook(chunks: list[Chunk], vectors: Mapping[str, torch.Tensor]) -> Callable[..., torch.Tensor]:
    """A forward hook for the token-embedding layer that puts embedding vectors at the chunks' fixes."""

    def hook(_module: Any, _inputs: Any, output: torch.Tensor) -> torch.Tensor:
        output = output.clone()
        for row, chunk in enumerate(chunks):
            for at, name in chunk.fixes:
                vector = vectors[name].to(output)
                count = min(len(vector), output.shape[1] - at - 1)  # never over the final end-of-text
                output[row, at:at + count] = vector[:count]
        return output

    return hook


def _encode_chunk_batch(
    encoder: _Encoder, chunks: list[Chunk], vectors: Mapping[str, torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor | None]:
    model = encoder.model
    ids = torch.tensor([chunk.tokens for chunk in chunks], device=model.device)
    handle = None
    if any(chunk.fixes for chunk in chunks):
        handle = model.get_input_embeddings().register_forward_hook(_fixing_hook(chunks, vectors))
    try:
        output = model(ids, output_hidden_states=True)
    finally:
        if handle is not None:
            handle.remove()
    z = encoder.select(output)
    multipliers = torch.tensor([chunk.multipliers for chunk in chunks], dtype=z.dtype, device=z.device)
    return _emphasized(z, multipliers), output.text_embeds if encoder.gives_pooled else None


def usable_embeddings(pipe: Any, embeddings: Embeddings | None) -> Embeddings:
    """The embeddings with vectors of the right width for every text encoder of the pipeline; others are
    ignored (the engine tells the user), so both SDXL encoders always see the same positions."""
    widths = encoder_widths(pipe)
    return {name: vectors for name, vectors in (embeddings or {}).items()
            if all(key in vectors and vectors[key].shape[-1] == width for key, width in widths.items())}


def _lookup(encoder: _Encoder, embeddings: Embeddings) -> EmbeddingLookup | None:
    if not embeddings:
        return None
    counts = {name: len(vectors[encoder.name]) for name, vectors in embeddings.items()}
    return EmbeddingLookup(encoder.tokenizer, counts)


def _encode_with(
    encoder: _Encoder, texts: list[str], embeddings: Embeddings
) -> tuple[torch.Tensor, torch.Tensor | None]:
    lookup = _lookup(encoder, embeddings)
    vectors = {name: per_encoder[encoder.name] for name, per_encoder in embeddings.items()}
    per_text = [tokenize_chunks(encoder.tokenizer, text, lookup) for text in texts]
    empty = tokenize_chunks(encoder.tokenizer, "")[0]
    parts, pooled = [], None
    for index in range(max(len(chunks) for chunks in per_text)):
        # Shorter texts are filled with empty chunks, which take part in the emphasis mean as in A1111.
        batch = [chunks[index] if index < len(chunks) else empty for chunks in per_text]
        z, chunk_pooled = _encode_chunk_batch(encoder, batch, vectors)
        parts.append(z)
        pooled = chunk_pooled if index == 0 else pooled
    return torch.cat(parts, dim=1), pooled


@torch.no_grad()
def encode_texts(
    pipe: Any, family: str, texts: list[str], clip_skip: int = 1, embeddings: Embeddings | None = None
) -> list[Conditioning]:
    """Encode texts as one A1111 batch (the texts of one prompt schedule): same length, shared emphasis mean."""
    usable = usable_embeddings(pipe, embeddings)
    results = [_encode_with(encoder, texts, usable) for encoder in _encoders(pipe, family, clip_skip)]
    embeds = torch.cat([z for z, _ in results], dim=-1)
    pooled = next((p for _, p in results if p is not None), None)
    return [
        Conditioning(embeds[i:i + 1], None if pooled is None else pooled[i:i + 1]) for i in range(len(texts))
    ]


def _encode_negative(
    pipe: Any, family: str, texts: list[str], clip_skip: int, embeddings: Embeddings | None = None
) -> list[Conditioning]:
    conditionings = encode_texts(pipe, family, texts, clip_skip, embeddings)
    if family.startswith("sdxl") and all(text == "" for text in texts):
        # A1111 (and diffusers) give SDXL zeros, not the encoded empty string, for an empty negative prompt.
        return [Conditioning(torch.zeros_like(c.embeds), torch.zeros_like(c.pooled)) for c in conditionings]
    return conditionings


def _padded(conditioning: Conditioning, chunks: int, empty: Conditioning) -> torch.Tensor:
    missing = chunks - conditioning.chunks
    if missing <= 0:
        return conditioning.embeds
    return torch.cat([conditioning.embeds, empty.embeds.repeat(1, missing, 1)], dim=1)


def paired(positive: Conditioning, negative: Conditioning, empty: Conditioning) -> PromptEmbeddings:
    """Both sides padded with the empty prompt's embedding to the same number of chunks."""
    chunks = max(positive.chunks, negative.chunks)
    return PromptEmbeddings(
        _padded(positive, chunks, empty), _padded(negative, chunks, empty), positive.pooled, negative.pooled
    )


def encode_prompts(
    pipe: Any, family: str, prompt: str, negative_prompt: str, clip_skip: int = 1, embeddings: Embeddings | None = None
) -> PromptEmbeddings:
    """A prompt and negative prompt (without LoRA tags or prompt editing) as the pipeline's embeddings."""
    positive = encode_texts(pipe, family, [prompt], clip_skip, embeddings)[0]
    negative = _encode_negative(pipe, family, [negative_prompt], clip_skip, embeddings)[0]
    return paired(positive, negative, encode_texts(pipe, family, [""], clip_skip)[0])


def _entry_at(ends: list[int], step: int) -> int:
    # A1111 falls back to the first entry past the last end (samplers with two model calls per step get there).
    return next((index for index, end in enumerate(ends) if step <= end), 0)


@dataclass(frozen=True)
class ConditioningSchedule:
    """Embeddings per sampling step for a prompt and negative prompt that use prompt editing."""

    positive_ends: list[int]
    positive: list[Conditioning]
    negative_ends: list[int]
    negative: list[Conditioning]
    empty: Conditioning

    def entries_at(self, step: int) -> tuple[int, int]:
        """Which positive and negative entry the 0-based model call `step` uses, counted as A1111 counts."""
        return _entry_at(self.positive_ends, step), _entry_at(self.negative_ends, step)

    def at(self, step: int) -> PromptEmbeddings:
        positive, negative = self.entries_at(step)
        return paired(self.positive[positive], self.negative[negative], self.empty)

    def changes_at(self, step: int) -> bool:
        return step > 0 and self.entries_at(step) != self.entries_at(step - 1)


def encode_schedules(
    pipe: Any, family: str, prompt: str, negative_prompt: str, steps: int, clip_skip: int = 1,
    embeddings: Embeddings | None = None,
) -> ConditioningSchedule:
    """Expand `[a:b:when]` and `[a|b]` in both prompts and encode every scheduled text."""
    positive = schedule(prompt, steps)
    negative = schedule(negative_prompt, steps)
    return ConditioningSchedule(
        [end for end, _ in positive],
        encode_texts(pipe, family, [text for _, text in positive], clip_skip, embeddings),
        [end for end, _ in negative],
        _encode_negative(pipe, family, [text for _, text in negative], clip_skip, embeddings),
        encode_texts(pipe, family, [""], clip_skip)[0],
    )


def embeddings_used(
    pipe: Any, family: str, prompt: str, negative_prompt: str, steps: int, embeddings: Embeddings | None
) -> list[str]:
    """The embeddings the encoding of these prompts puts in, in order of first use (for `TI hashes`)."""
    usable = usable_embeddings(pipe, embeddings)
    encoder = _encoders(pipe, family, 1)[0]
    lookup = _lookup(encoder, usable)
    if lookup is None:
        return []
    texts = [text for _, text in [*schedule(prompt, steps), *schedule(negative_prompt, steps)]]
    names = [name for text in texts for chunk in tokenize_chunks(encoder.tokenizer, text, lookup)
             for _, name in chunk.fixes]
    return list(dict.fromkeys(names))

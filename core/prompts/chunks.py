"""Prompt text to A1111's 75-token chunks of token ids and emphasis multipliers, without torch.

The chunking of A1111's `FrozenCLIPEmbedderWithCustomWordsBase.tokenize_line` with its defaults:
chunks of 75 tokens (BOS + 75 + EOS = 77 positions when encoded), `BREAK` starts a new chunk, and a
full chunk is cut after its last comma when that comma is among its last 20 tokens. The encoder
(`core.prompts.encoding`) and the token counter (`core.prompts.token_count`) both chunk here, so the
count a person sees is the chunking the model gets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.prompts.attention import BREAK, parse_attention

if TYPE_CHECKING:  # embeddings.py needs torch; the lookup object is only passed through here
    from core.prompts.embeddings import EmbeddingLookup

CHUNK_LENGTH = 75
CHUNK_POSITIONS = CHUNK_LENGTH + 2
COMMA_BACKTRACK = 20
COMMA = ",</w>"


@dataclass(frozen=True)
class Chunk:
    """77 token ids as they enter the text encoder, and one emphasis multiplier per id.

    `fixes`: (position among the 77, embedding name) where an embedding's vectors go."""

    tokens: tuple[int, ...]
    multipliers: tuple[float, ...]
    fixes: tuple[tuple[int, str], ...] = ()


ChunkBody = tuple[list[int], list[float], list[tuple[int, str]]]  # tokens, multipliers, fixes (offsets in the body)
EMBEDDING_PLACEHOLDER = 0  # the id A1111 puts where an embedding's vectors go; the vectors replace its embedding


class _ChunkBuilder:
    """Fills 75-token chunks one token (or embedding) at a time, with A1111's comma rule."""

    def __init__(self, comma: int | None) -> None:
        self.comma = comma
        self.done: list[ChunkBody] = []
        self.tokens: list[int] = []
        self.multipliers: list[float] = []
        self.fixes: list[tuple[int, str]] = []
        self.last_comma = -1

    def add(self, token: int, weight: float) -> None:
        self._make_room(token)
        self.tokens.append(token)
        self.multipliers.append(weight)

    def add_embedding(self, first_token: int, name: str, vectors: int, weight: float) -> None:
        """An embedding whose name starts with `first_token`; it is never split across chunks."""
        self._make_room(first_token)
        if len(self.tokens) + vectors > CHUNK_LENGTH:
            self.close()
        self.fixes.append((len(self.tokens), name))
        self.tokens += [EMBEDDING_PLACEHOLDER] * vectors
        self.multipliers += [weight] * vectors

    def close(self) -> None:
        self.done.append((self.tokens, self.multipliers, self.fixes))
        self.tokens, self.multipliers, self.fixes, self.last_comma = [], [], [], -1

    def finish(self) -> list[ChunkBody]:
        if self.tokens or not self.done:
            self.close()
        return self.done

    def _make_room(self, token: int) -> None:
        if token == self.comma:
            self.last_comma = len(self.tokens)
        elif self._full() and self.last_comma != -1 and len(self.tokens) - self.last_comma <= COMMA_BACKTRACK:
            self._move_text_after_last_comma()
        if self._full():
            self.close()

    def _full(self) -> bool:
        return len(self.tokens) == CHUNK_LENGTH

    def _move_text_after_last_comma(self) -> None:
        cut = self.last_comma + 1
        # Embeddings after the comma move with their positions (A1111 leaves their fixes behind, which
        # writes their vectors over the old chunk's padding: a bug not worth copying).
        moved = self.tokens[cut:], self.multipliers[cut:], [(at - cut, name) for at, name in self.fixes if at >= cut]
        self.fixes = [(at, name) for at, name in self.fixes if at < cut]
        self.tokens, self.multipliers = self.tokens[:cut], self.multipliers[:cut]
        self.close()
        self.tokens, self.multipliers, self.fixes = moved


def _comma_id(tokenizer: Any) -> int | None:
    # One token lookup: get_vocab() would copy the whole 49408-entry vocabulary on every prompt.
    comma = tokenizer.convert_tokens_to_ids(COMMA)
    return None if comma == tokenizer.unk_token_id else comma


def chunk_bodies(tokenizer: Any, text: str, embeddings: EmbeddingLookup | None = None) -> list[ChunkBody]:
    """The prompt's chunks before BOS, EOS and padding: (tokens, multipliers, fixes), at least one."""
    segments = parse_attention(text)
    ids = tokenizer([segment for segment, _ in segments], truncation=False, add_special_tokens=False)["input_ids"]
    builder = _ChunkBuilder(_comma_id(tokenizer))
    for tokens, (segment, weight) in zip(ids, segments):
        if segment == BREAK and weight < 0:
            builder.close()
            continue
        _add_segment(builder, tokens, weight, embeddings)
    return builder.finish()


def tokenize_chunks(tokenizer: Any, text: str, embeddings: EmbeddingLookup | None = None) -> list[Chunk]:
    """The prompt's chunks with emphasis multipliers; an empty prompt is one chunk of BOS, EOS and padding.

    With `embeddings`, a name found in a segment's tokens takes one position per vector instead."""
    return [_wrapped(tokenizer, *body) for body in chunk_bodies(tokenizer, text, embeddings)]


def _add_segment(builder: _ChunkBuilder, tokens: list[int], weight: float, embeddings: EmbeddingLookup | None) -> None:
    position = 0
    while position < len(tokens):
        match = embeddings.match_at(tokens, position) if embeddings else None
        if match is None:
            builder.add(tokens[position], weight)
            position += 1
        else:
            builder.add_embedding(tokens[position], match.name, match.vectors, weight)
            position += match.length


def _wrapped(tokenizer: Any, tokens: list[int], multipliers: list[float], fixes: list[tuple[int, str]]) -> Chunk:
    fill = CHUNK_LENGTH - len(tokens)
    ids = [tokenizer.bos_token_id, *tokens, *[tokenizer.eos_token_id] * fill, tokenizer.eos_token_id]
    # Everything after the first end-of-text becomes the pad id ("!" = 0 for OpenCLIP encoders).
    first_end = ids.index(tokenizer.eos_token_id)
    ids[first_end + 1:] = [tokenizer.pad_token_id] * (len(ids) - first_end - 1)
    return Chunk(tuple(ids), (1.0, *multipliers, *[1.0] * (fill + 1)), tuple((at + 1, name) for at, name in fixes))

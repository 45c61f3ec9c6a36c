"""Random textual-inversion embeddings for the tiny models, in the file layouts civitai embeddings come in.

Styles:
- "safetensors": `emb_params` (N, width) for SD1/SD2; `clip_l` and `clip_g` for SDXL;
- "pt": A1111's torch pickle, `{"string_to_token": {"*": 265}, "string_to_param": {"*": (N, width)}, ...}`
  (SD1/SD2 only: A1111 never wrote SDXL embeddings that way).
"""

from __future__ import annotations

from pathlib import Path

import torch

from core.synthetic.builders import tiny_spec, write_safetensors

EMBEDDING_STYLES = ("safetensors", "pt")
# Far from the tiny encoders' token embeddings (std 0.02), so an embedding visibly changes the image.
_SCALE = 1.0


def tiny_embedding_vectors(family: str = "sd1", vectors: int = 3, seed: int = 0,
                           width: int | None = None) -> dict[str, torch.Tensor]:
    """{"emb_params": (N, width)} for SD1/SD2, {"clip_l", "clip_g"} for SDXL; `width` forces a misfit width."""
    spec = tiny_spec(family)
    generator = torch.Generator().manual_seed(seed)

    def rows(columns: int) -> torch.Tensor:
        return torch.randn(vectors, columns, generator=generator) * _SCALE

    if family.startswith("sdxl") and width is None:
        return {"clip_l": rows(spec.text_encoder["hidden_size"]), "clip_g": rows(spec.text_encoder_2["hidden_size"])}
    return {"emb_params": rows(width or spec.text_encoder["hidden_size"])}


def write_tiny_embedding(path: Path, family: str = "sd1", *, vectors: int = 3, seed: int = 0,
                         style: str = "safetensors", width: int | None = None) -> Path:
    """Write an embedding file at `path` (its stem is the name prompts use) and return the path."""
    if style not in EMBEDDING_STYLES:
        raise ValueError(f"Unknown embedding style {style!r}; expected one of {', '.join(EMBEDDING_STYLES)}.")
    tensors = tiny_embedding_vectors(family, vectors, seed, width)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if style == "safetensors":
        write_safetensors(path, tensors)
        return path
    if "emb_params" not in tensors:
        raise ValueError("A1111 .pt embeddings hold one set of vectors; SDXL embeddings are safetensors.")
    torch.save({"string_to_token": {"*": 265}, "string_to_param": {"*": tensors["emb_params"]},
                "name": path.stem, "step": 0, "sd_checkpoint": None, "sd_checkpoint_name": None}, path)
    return path

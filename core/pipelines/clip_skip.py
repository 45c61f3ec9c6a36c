"""Clip skip for SD 1.x/2.x, encoded here because diffusers' own path fails on transformers >= 5.6.

diffusers 0.42 applies the final layer norm through `text_encoder.text_model`, which
transformers 5.6 removed from CLIPTextModel. A1111's clip skip N takes the hidden state N
layers from the end and applies the final layer norm, which is what this does.
"""

from __future__ import annotations

from typing import Any

import torch


def _final_layer_norm(text_encoder: Any) -> Any:
    return getattr(text_encoder, "text_model", text_encoder).final_layer_norm


def encode_with_clip_skip(pipe: Any, text: str, clip_skip: int) -> torch.Tensor:
    """Embeddings of `text` (cut at 77 tokens) from the layer `clip_skip` counts back from the last."""
    tokens = pipe.tokenizer(text, padding="max_length", max_length=pipe.tokenizer.model_max_length,
                            truncation=True, return_tensors="pt")
    encoder = pipe.text_encoder
    with torch.no_grad():
        output = encoder(tokens.input_ids.to(encoder.device), output_hidden_states=True)
        hidden = output.hidden_states[-clip_skip]
        return _final_layer_norm(encoder)(hidden).to(dtype=encoder.dtype)


def clip_skip_arguments(pipe: Any, prompt: str, negative_prompt: str, clip_skip: int) -> dict[str, torch.Tensor]:
    """`prompt_embeds` and `negative_prompt_embeds` for a pipeline call, in place of the texts."""
    return {
        "prompt_embeds": encode_with_clip_skip(pipe, prompt, clip_skip),
        "negative_prompt_embeds": encode_with_clip_skip(pipe, negative_prompt, clip_skip),
    }

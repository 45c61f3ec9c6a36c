"""A1111's `AND`: each sub-prompt is denoised on its own and their guidance is added, weighted.

A1111 (`CFGDenoiser.combine_denoised`): denoised = uncond + cfg * sum_i w_i * (cond_i - uncond).
The diffusers pipelines compute uncond + cfg * (cond - uncond) from one UNet call on
[negatives, positives]. During a composed generation Easel answers that call with
[uncond, uncond + sum_i w_i * (cond_i - uncond)], which the pipeline's own guidance then
turns into exactly A1111's formula. The UNet runs once for the negatives and once per sub-prompt.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

import torch

from core.prompts.encoding import ConditioningSchedule


@dataclass
class ComposedPrompt:
    """The sub-prompts' conditioning and weights, and which model call the sampler is at."""

    parts: list[tuple[ConditioningSchedule, float]]
    images: int
    step: int = 0


def _rows(added: dict[str, torch.Tensor] | None, rows: slice) -> dict[str, torch.Tensor] | None:
    return None if added is None else {name: value[rows] for name, value in added.items()}


def _with_rows(kwargs: dict[str, Any], rows: slice) -> dict[str, Any]:
    """UNet keyword arguments for some rows of the batch: ControlNet residuals come for all of them."""
    chosen = dict(kwargs)
    if chosen.get("down_block_additional_residuals") is not None:
        chosen["down_block_additional_residuals"] = tuple(r[rows] for r in chosen["down_block_additional_residuals"])
    if chosen.get("mid_block_additional_residual") is not None:
        chosen["mid_block_additional_residual"] = chosen["mid_block_additional_residual"][rows]
    return chosen


def _sub_prompt_inputs(part: ConditioningSchedule, step: int, images: int, like: torch.Tensor,
                       added: dict[str, torch.Tensor] | None) -> tuple[torch.Tensor, dict[str, torch.Tensor] | None]:
    embeddings = part.at(step)
    hidden = embeddings.prompt_embeds.to(like).repeat(images, 1, 1)
    if embeddings.pooled is not None and added is not None:
        added = {**added, "text_embeds": embeddings.pooled.to(like).repeat(images, 1)}
    return hidden, added


@contextmanager
def composed_guidance(unet: Any, composed: ComposedPrompt) -> Iterator[None]:
    """While active, the UNet answers guided calls with the composed positive half (see the module doc)."""
    original = unet.forward

    def forward(sample: torch.Tensor, timestep: Any, encoder_hidden_states: torch.Tensor, *args: Any,
                added_cond_kwargs: dict[str, torch.Tensor] | None = None, return_dict: bool = True,
                **kwargs: Any) -> Any:
        half = composed.images
        if sample.shape[0] != 2 * half:  # no classifier-free guidance: nothing to compose against
            return original(sample, timestep, encoder_hidden_states, *args, added_cond_kwargs=added_cond_kwargs,
                            return_dict=return_dict, **kwargs)

        def predict(x: torch.Tensor, hidden: torch.Tensor, added: dict[str, torch.Tensor] | None,
                    rows: slice) -> torch.Tensor:
            return original(x, timestep, hidden, *args, added_cond_kwargs=added, return_dict=False,
                            **_with_rows(kwargs, rows))[0]

        negatives, positives = slice(0, half), slice(half, None)
        uncond = predict(sample[negatives], encoder_hidden_states[negatives], _rows(added_cond_kwargs, negatives),
                         negatives)
        positive_added = _rows(added_cond_kwargs, positives)
        combined = uncond.clone()
        for part, weight in composed.parts:
            hidden, added = _sub_prompt_inputs(part, composed.step, half, encoder_hidden_states, positive_added)
            combined += weight * (predict(sample[positives], hidden, added, positives) - uncond)
        output = torch.cat([uncond, combined])
        if return_dict:
            from diffusers.models.unets.unet_2d_condition import UNet2DConditionOutput

            return UNet2DConditionOutput(sample=output)
        return (output,)

    unet.forward = forward
    try:
        yield
    finally:
        del unet.forward  # the class's own forward again

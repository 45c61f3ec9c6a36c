"""ControlNet units applied to whatever pipeline runs (txt2img, img2img, inpaint), as A1111's extension does:
around the UNet, not by switching pipelines.

At every UNet call each active unit's ControlNet sees the same latents (the first 4 channels, also for
9-channel inpainting UNets), timestep, text conditioning and SDXL size embedding as the UNet; its residuals
are scaled and summed into the UNet's skip connections. Per unit (the extension's `hook.py`):

- weight: every residual times the weight ("Balanced").
- "My prompt is more important": soft injection, residual i of n times weight * 0.825 ** (12 - i), so the
  deep layers keep the control and the shallow ones hardly do (SD1.5: 13 residuals, 0.1 to 1; SDXL: the
  first 10 of those factors, as the extension takes them).
- "ControlNet is more important": soft injection too, and the control only on the conditional half of
  classifier-free guidance, so guidance pushes towards the control (diffusers' guess mode is this with
  logspace factors; the extension and Easel use 0.825 powers). Global-pooling (shuffle) models also act on
  the conditional half only.
- guidance start/end: the unit acts in sampling step i of n when start <= i / n and (i + 1) / n <= end,
  diffusers' control_guidance_start/end rule: end 0 means no step, end 0.5 of 20 steps the first 10. The
  extension tests i / n <= end, so it acts one step longer (end 0 still acts on the first step).

With A1111's AND the units see the first sub-prompt; each sub-prompt's UNet call gets the same residuals.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np
import torch

SOFT_INJECTION_BASE = 0.825
SOFT_INJECTION_LAYERS = 13  # the extension's factors are 0.825 ** (12 - i) for i in 0..12
SOFT_MODES = ("My prompt is more important", "ControlNet is more important")
CONDITIONAL_ONLY_MODE = "ControlNet is more important"


@dataclass(frozen=True)
class ActiveUnit:
    """One unit ready to run: its ControlNet, control image and schedule."""

    net: Any  # diffusers ControlNetModel
    hint: np.ndarray  # (height, width, 3) float32, 0..1 (-1 for masked pixels)
    weight: float
    guidance_start: float
    guidance_end: float
    control_mode: str

    def acts_at(self, step: int, total: int) -> bool:
        """Whether the unit acts in sampling step `step` of `total` (diffusers' control_guidance_start/end)."""
        return step / total >= self.guidance_start and (step + 1) / total <= self.guidance_end

    def layer_scales(self, count: int) -> list[float]:
        if self.control_mode in SOFT_MODES:
            return [self.weight * SOFT_INJECTION_BASE ** (SOFT_INJECTION_LAYERS - 1 - i) for i in range(count)]
        return [self.weight] * count

    @property
    def conditional_only(self) -> bool:
        return self.control_mode == CONDITIONAL_ONLY_MODE or bool(self.net.config.global_pool_conditions)


@dataclass
class SamplingProgress:
    """Which sampling step the pipeline is at; the step callback moves it on."""

    step: int = 0
    total: int = 1


def hint_tensor(hint: np.ndarray, net: Any) -> torch.Tensor:
    """The control image as the ControlNet takes it: (1, 3, height, width) on its device, in its dtype."""
    tensor = torch.from_numpy(np.ascontiguousarray(hint.transpose(2, 0, 1)))[None]
    return tensor.to(device=net.device, dtype=net.dtype)


def _unit_residuals(unit: ActiveUnit, hint: torch.Tensor, sample: torch.Tensor, timestep: Any, hidden: torch.Tensor,
                    added: dict[str, torch.Tensor] | None, images: int) -> list[torch.Tensor]:
    net = unit.net
    latents = sample[:, : net.config.in_channels]
    down, mid = net(latents.to(net.dtype), timestep, encoder_hidden_states=hidden.to(net.dtype),
                    controlnet_cond=hint.expand(sample.shape[0], -1, -1, -1), added_cond_kwargs=added,
                    return_dict=False)
    residuals = [*down, mid]
    scaled = [r * s for r, s in zip(residuals, unit.layer_scales(len(residuals)))]
    if unit.conditional_only and sample.shape[0] == 2 * images:  # rows: negatives, then positives
        keep = torch.ones(sample.shape[0], 1, 1, 1, device=sample.device, dtype=scaled[0].dtype)
        keep[:images] = 0
        scaled = [r * keep for r in scaled]
    return scaled


def control_residuals(units: list[tuple[ActiveUnit, torch.Tensor]], progress: SamplingProgress, images: int,
                      sample: torch.Tensor, timestep: Any, hidden: torch.Tensor,
                      added: dict[str, torch.Tensor] | None) -> list[torch.Tensor] | None:
    """The summed residuals of the units (with their hint tensors) acting at this step: down blocks..., mid
    block; None if none act."""
    total: list[torch.Tensor] | None = None
    for unit, hint in units:
        if not unit.acts_at(progress.step, max(progress.total, 1)):
            continue
        residuals = _unit_residuals(unit, hint, sample, timestep, hidden, added, images)
        total = residuals if total is None else [a + b for a, b in zip(total, residuals)]
    return total


@contextmanager
def controlled_unet(unet: Any, units: list[ActiveUnit], progress: SamplingProgress, images: int) -> Iterator[None]:
    """While active, every UNet call carries the units' residuals. Restores whatever forward was there."""
    previous = unet.__dict__.get("forward")
    inner = unet.forward
    with_hints = [(unit, hint_tensor(unit.hint, unit.net)) for unit in units]  # moved to the device once

    def forward(sample: torch.Tensor, timestep: Any, encoder_hidden_states: torch.Tensor, *args: Any,
                added_cond_kwargs: dict[str, torch.Tensor] | None = None, **kwargs: Any) -> Any:
        residuals = control_residuals(with_hints, progress, images, sample, timestep, encoder_hidden_states,
                                      added_cond_kwargs)
        if residuals is not None:
            dtype = sample.dtype
            kwargs["down_block_additional_residuals"] = tuple(r.to(dtype) for r in residuals[:-1])
            kwargs["mid_block_additional_residual"] = residuals[-1].to(dtype)
        return inner(sample, timestep, encoder_hidden_states, *args, added_cond_kwargs=added_cond_kwargs, **kwargs)

    unet.forward = forward
    try:
        yield
    finally:
        if previous is None:
            del unet.forward
        else:
            unet.forward = previous

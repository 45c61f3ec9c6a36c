"""Attention slicing switched on or off on a loaded pipeline; every mode's pipeline shares its UNet."""

from __future__ import annotations

from typing import Any


def uses_attention_slicing(unet: Any) -> bool:
    return any(type(processor).__name__.startswith("Sliced") for processor in unet.attn_processors.values())


def set_attention_slicing(pipe: Any, enabled: bool) -> None:
    """Enable or disable slicing unless it already is; the setting can change without reloading the model."""
    if uses_attention_slicing(pipe.unet) == enabled:
        return
    if enabled:
        pipe.enable_attention_slicing()
    else:
        pipe.disable_attention_slicing()


def set_model_attention_slicing(model: Any, enabled: bool) -> None:
    """The same for a model used beside the pipeline (a ControlNet)."""
    if uses_attention_slicing(model) == enabled:
        return
    if enabled:
        model.set_attention_slice("auto")
    else:
        model.set_default_attn_processor()

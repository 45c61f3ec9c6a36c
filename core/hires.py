"""Hires fix as A1111 has it: the settings, their checks, and the sizes of the two passes.

The first pass runs at the request's size; its result is upscaled (in latent space, or decoded and upscaled
as an image) to `scale` times that size, or to `resize_width` x `resize_height`, and repainted by a second,
img2img pass with its own steps and denoising strength. Torch-free, so the UI can build and check it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Iterable

from core.errors import RequestError

# A1111's shared.latent_upscale_modes: name -> (torch interpolate mode, antialias).
LATENT_UPSCALERS: dict[str, tuple[str, bool]] = {
    "Latent": ("bilinear", False),
    "Latent (antialiased)": ("bilinear", True),
    "Latent (bicubic)": ("bicubic", False),
    "Latent (bicubic antialiased)": ("bicubic", True),
    "Latent (nearest)": ("nearest", False),
    "Latent (nearest-exact)": ("nearest-exact", False),
}
# The upscalers A1111 has without a model file; "None" resizes with Lanczos, as A1111's resize_image does.
PIXEL_UPSCALERS = ("None", "Lanczos", "Nearest")
MIN_SCALE, MAX_SCALE = 1.0, 4.0  # A1111's "Upscale by" slider
MAX_STEPS = 150
MAX_RESIZE = 8192
LATENT_FACTOR = 8  # pixels per latent cell (A1111's opt_f)


@dataclass(frozen=True)
class HiresSize:
    """Where the upscale goes (`upscale_*`, the aspect ratio kept) and the final size after a centred crop."""

    upscale_width: int
    upscale_height: int
    width: int
    height: int

    @property
    def crop_cells(self) -> tuple[int, int]:
        """Latent cells to crop off across and down (A1111's truncate_x/y)."""
        return ((self.upscale_width - self.width) // LATENT_FACTOR,
                (self.upscale_height - self.height) // LATENT_FACTOR)


@dataclass(frozen=True)
class HiresFix:
    """A1111's hires fix settings (txt2img only). Field meanings follow A1111's hr_* parameters."""

    scale: float = 2.0
    steps: int = 0  # 0 = as many as the first pass (A1111)
    denoise: float = 0.7  # "Denoising strength" in the infotext
    upscaler: str = "Latent"  # a LATENT_UPSCALERS or PIXEL_UPSCALERS name, or an upscaler model's name
    resize_width: int = 0  # A1111 "Hires resize-1/-2": a target size instead of scale when non-zero
    resize_height: int = 0
    sampler: str | None = None  # None = same as first pass
    prompt: str | None = None  # None = same prompt
    negative_prompt: str | None = None

    def to_json_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> "HiresFix":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})

    @property
    def latent_mode(self) -> tuple[str, bool] | None:
        """(interpolate mode, antialias) for a latent upscaler; None when the image is upscaled instead."""
        return LATENT_UPSCALERS.get(self.upscaler)

    @property
    def uses_resize(self) -> bool:
        return bool(self.resize_width or self.resize_height)

    def second_pass_steps(self, first_pass_steps: int) -> int:
        return self.steps or first_pass_steps

    def target_size(self, width: int, height: int) -> HiresSize:
        """A1111's calculate_target_resolution, each side floored to a multiple of 8 (the latent grid)."""
        if not self.uses_resize:
            upscale = (int(width * self.scale), int(height * self.scale))
            target = upscale
        elif not self.resize_height:
            upscale = (self.resize_width, self.resize_width * height // width)
            target = upscale
        elif not self.resize_width:
            upscale = (self.resize_height * width // height, self.resize_height)
            target = upscale
        else:
            target = (self.resize_width, self.resize_height)
            if width / height < self.resize_width / self.resize_height:
                upscale = (self.resize_width, self.resize_width * height // width)
            else:
                upscale = (self.resize_height * width // height, self.resize_height)
        up_w, up_h = (max(LATENT_FACTOR, side // LATENT_FACTOR * LATENT_FACTOR) for side in upscale)
        final_w, final_h = (max(LATENT_FACTOR, side // LATENT_FACTOR * LATENT_FACTOR) for side in target)
        return HiresSize(up_w, up_h, min(final_w, up_w), min(final_h, up_h))

    def check(self, upscaler_names: Iterable[str] | None = ()) -> None:
        """Refuse values A1111 would not take; `upscaler_names`: the upscaler models Easel finds (None: the
        upscaler's name is not checked here, the caller finds its file)."""
        if not self.uses_resize and not MIN_SCALE <= self.scale <= MAX_SCALE:
            raise RequestError(f"Hires upscale {self.scale:g} is out of range.",
                               hint=f"Upscale by {MIN_SCALE:g} to {MAX_SCALE:g}, or give a resize width/height.")
        if not 0 <= self.steps <= MAX_STEPS:
            raise RequestError(f"{self.steps} hires steps is out of range.",
                               hint=f"Use 0 (as many as the first pass) to {MAX_STEPS} steps.")
        if not 0.0 <= self.denoise <= 1.0:
            raise RequestError(f"Hires denoising strength {self.denoise:g} is out of range.",
                               hint="Use a strength between 0 (keep the upscale) and 1 (repaint it all).")
        for side in (self.resize_width, self.resize_height):
            if not (side == 0 or 64 <= side <= MAX_RESIZE):
                raise RequestError(f"Hires resize {self.resize_width}x{self.resize_height} is not valid.",
                                   hint=f"Give sides from 64 to {MAX_RESIZE} pixels, or 0 to follow the other side.")
        if upscaler_names is not None:
            check_upscaler_name(self.upscaler, upscaler_names)


def check_upscaler_name(name: str, model_names: Iterable[str]) -> None:
    """An upscaler Easel has: latent modes, the model-less ones, or an upscaler model found in the folders."""
    models = list(model_names)
    if name in LATENT_UPSCALERS or name in PIXEL_UPSCALERS or name in models:
        return
    available = [*LATENT_UPSCALERS, *PIXEL_UPSCALERS, *sorted(models)]
    raise RequestError(f"Unknown hires upscaler {name!r}.",
                       hint=f"Use one of: {', '.join(available)}. Upscaler models go in the upscalers "
                            "(or A1111 ESRGAN) folder.")


def hires_from_infotext(params: dict[str, str]) -> HiresFix | None:
    """The hires fix an A1111 infotext records, or None when it has none.

    Reads `Hires upscale`, `Hires resize: WxH` (newer) or `Hires resize-1/-2` (older), `Hires steps`,
    `Hires upscaler`, `Denoising strength` (the hires strength in txt2img), `Hires sampler`,
    `Hires prompt` and `Hires negative prompt`.
    """
    if not any(key in params for key in ("Hires upscale", "Hires resize", "Hires resize-1", "Hires upscaler")):
        return None
    values: dict[str, Any] = {}
    for key, name, kind in (("Hires upscale", "scale", float), ("Hires steps", "steps", int),
                            ("Denoising strength", "denoise", float), ("Hires resize-1", "resize_width", int),
                            ("Hires resize-2", "resize_height", int)):
        try:
            values[name] = kind(params[key])
        except (KeyError, ValueError):
            continue
    for key, name in (("Hires upscaler", "upscaler"), ("Hires sampler", "sampler"), ("Hires prompt", "prompt"),
                      ("Hires negative prompt", "negative_prompt")):
        if key in params:
            values[name] = params[key]
    return HiresFix(**values)


def hires_infotext(hires: HiresFix, first_sampler: str, prompt: str, negative_prompt: str) -> dict[str, object]:
    """The fields A1111 writes for a hires fix, in its order (after Denoising strength, which the caller writes)."""
    fields: dict[str, object] = {}
    if hires.sampler is not None and hires.sampler != first_sampler:
        fields["Hires sampler"] = hires.sampler
    if hires.prompt is not None and hires.prompt != prompt:
        fields["Hires prompt"] = hires.prompt
    if hires.negative_prompt is not None and hires.negative_prompt != negative_prompt:
        fields["Hires negative prompt"] = hires.negative_prompt
    if hires.uses_resize:
        fields["Hires resize"] = f"{hires.resize_width}x{hires.resize_height}"
    else:
        fields["Hires upscale"] = hires.scale
    if hires.steps:
        fields["Hires steps"] = hires.steps
    fields["Hires upscaler"] = hires.upscaler
    return fields

"""The immutable description of one generation, built by the UI or the CLI."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from core.controlnet import ControlUnit
from core.hires import HiresFix

PATH_FIELDS = ("init_image", "model_config", "mask")

# A1111's choices, spelled as its infotext and UI spell them.
MASK_MODES = ("masked", "not masked")
MASKED_CONTENTS = ("fill", "original", "latent noise", "latent nothing")
INPAINT_AREAS = ("whole", "masked")
RESIZE_MODES = ("just resize", "crop and resize", "resize and fill")


class Mode(str, Enum):
    TXT2IMG = "txt2img"
    IMG2IMG = "img2img"
    INPAINT = "inpaint"


@dataclass(frozen=True)
class GenerationRequest:
    """What to generate. Field names follow A1111's meaning; `seed=-1` means a random seed.

    Inpainting (mode INPAINT) repaints where `mask` is white (`mask_mode` "not masked": where it is
    black); `outpaint` (left, right, top, bottom pixels) extends the canvas and repaints the new area.
    `controlnets` steer any mode with ControlNet units (see core.controlnet). `hires` (txt2img only) adds
    A1111's hires fix: an upscale and a second img2img pass (see core.hires).
    """

    model: str
    prompt: str = ""
    negative_prompt: str = ""
    mode: Mode = Mode.TXT2IMG
    steps: int = 20
    cfg_scale: float = 7.0
    sampler: str = "Euler a"
    schedule: str = "Automatic"
    seed: int = -1
    width: int = 512
    height: int = 512
    batch_size: int = 1
    batch_count: int = 1
    clip_skip: int = 1
    init_image: Path | None = None
    denoising_strength: float = 0.75
    vae: str | None = None
    model_config: Path | None = None
    resize_mode: str = "just resize"
    mask: Path | None = None
    mask_blur: int = 4
    mask_mode: str = "masked"
    masked_content: str = "original"
    inpaint_area: str = "whole"
    padding: int = 32
    outpaint: tuple[int, int, int, int] | None = None
    controlnets: tuple[ControlUnit, ...] = ()
    hires: HiresFix | None = None

    def __post_init__(self) -> None:
        if isinstance(self.hires, dict):  # infotext fields carry it in its JSON form
            object.__setattr__(self, "hires", HiresFix.from_json_dict(self.hires))

    def replace(self, **changes: Any) -> "GenerationRequest":
        return dataclasses.replace(self, **changes)

    def to_json_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["mode"] = self.mode.value
        for key in PATH_FIELDS:
            data[key] = str(data[key]) if data[key] is not None else None
        data["outpaint"] = list(self.outpaint) if self.outpaint is not None else None
        data["controlnets"] = [unit.to_json_dict() for unit in self.controlnets]
        data["hires"] = self.hires.to_json_dict() if self.hires is not None else None
        return data

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> "GenerationRequest":
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["mode"] = Mode(values.get("mode", Mode.TXT2IMG.value))
        for key in PATH_FIELDS:
            if values.get(key):
                values[key] = Path(values[key])
        if values.get("outpaint") is not None:
            values["outpaint"] = tuple(int(side) for side in values["outpaint"])
        values["controlnets"] = tuple(ControlUnit.from_json_dict(unit) for unit in values.get("controlnets") or ())
        return cls(**values)

"""A ControlNet unit as A1111's ControlNet extension has one: which model, which control image, how strongly."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import RequestError
from core.preprocessors import PREPROCESSOR_NAMES, canonical_preprocessor

# Spelled as the extension's UI and infotext spell them.
CONTROL_MODES = ("Balanced", "My prompt is more important", "ControlNet is more important")
CONTROL_RESIZE_MODES = ("Just Resize", "Crop and Resize", "Resize and Fill")
MAX_WEIGHT = 2.0  # the extension's weight slider range is 0..2
PROCESSOR_RES_RANGE = (64, 2048)
_PATH_FIELDS = ("image", "pose")


@dataclass(frozen=True)
class ControlUnit:
    """One ControlNet unit of a request.

    The control image is `image` (run through `preprocessor`, "none" to use it as it is) or `pose`, an
    OpenPose JSON file rendered as the annotator draws it. Without either, img2img and inpaint use the init
    image, as the extension does. `threshold_a`/`threshold_b` None mean the preprocessor's defaults.
    """

    model: str
    type: str = ""  # the extension's "Control Type" (openpose, canny, depth, ...): a label, it changes nothing
    image: Path | None = None
    pose: Path | None = None
    preprocessor: str = "none"
    weight: float = 1.0
    guidance_start: float = 0.0
    guidance_end: float = 1.0
    control_mode: str = "Balanced"
    resize_mode: str = "Crop and Resize"
    processor_res: int = 512
    threshold_a: float | None = None
    threshold_b: float | None = None
    pixel_perfect: bool = False

    def replace(self, **changes: Any) -> "ControlUnit":
        return dataclasses.replace(self, **changes)

    def check(self, index: int = 0) -> None:
        """RequestError naming the unit and what to change when a setting is out of range."""
        where = f"ControlNet unit {index}"
        if not self.model:
            raise RequestError(f"{where} has no model.", hint="Choose a ControlNet model for it.")
        if self.image is not None and self.pose is not None:
            raise RequestError(f"{where} has both a control image and a pose.", hint="Give one of them.")
        if not 0.0 <= self.weight <= MAX_WEIGHT:
            raise RequestError(f"{where}: weight {self.weight} is out of range.", hint="Use a weight from 0 to 2.")
        if not 0.0 <= self.guidance_start <= self.guidance_end <= 1.0:
            raise RequestError(f"{where}: guidance start {self.guidance_start} and end {self.guidance_end} "
                               "are not in order.", hint="Use 0 <= start <= end <= 1 (fractions of the steps).")
        _check_choice(where, "control mode", self.control_mode, CONTROL_MODES)
        _check_choice(where, "resize mode", self.resize_mode, CONTROL_RESIZE_MODES)
        if canonical_preprocessor(self.preprocessor) is None:
            _check_choice(where, "preprocessor", self.preprocessor, PREPROCESSOR_NAMES)
        low, high = PROCESSOR_RES_RANGE
        if not low <= self.processor_res <= high:
            raise RequestError(f"{where}: processor resolution {self.processor_res} is out of range.",
                               hint=f"Use {low} to {high} pixels.")

    def to_json_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for key in _PATH_FIELDS:
            data[key] = str(data[key]) if data[key] is not None else None
        return data

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> "ControlUnit":
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for key in _PATH_FIELDS:
            if values.get(key):
                values[key] = Path(values[key])
        return cls(**values)


def _check_choice(where: str, what: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise RequestError(f"{where}: unknown {what} {value!r}.", hint=f"Use one of: {', '.join(choices)}.")

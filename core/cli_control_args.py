"""`easel generate --control KEY=VALUE,...`: one ControlNet unit per flag, with messages for bad specs.

    --control type=openpose,model=control_v11p_sd15_openpose,pose=pose.json,weight=1.0,start=0,end=1
    --control model=control_v11p_sd15_canny,image=photo.png,pre=canny,a=100,b=200,mode=prompt,resize=crop
"""

from __future__ import annotations

import argparse
import difflib
from pathlib import Path
from typing import Any, Callable

from core.controlnet import ControlUnit
from core.errors import EaselError
from core.preprocessors import PREPROCESSOR_NAMES, canonical_preprocessor

CONTROL_MODE_FLAGS = {"balanced": "Balanced", "prompt": "My prompt is more important",
                      "control": "ControlNet is more important"}
CONTROL_RESIZE_FLAGS = {"just": "Just Resize", "crop": "Crop and Resize", "fill": "Resize and Fill"}
YES, NO = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
SPEC_HINT = ("Write --control model=NAME,image=PATH (or pose=POSE.json),pre=canny,weight=1,start=0,end=1,"
             "mode=balanced|prompt|control,resize=just|crop|fill.")


def add_control_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--control", action="append", metavar="KEY=VALUE,...",
        help="a ControlNet unit (repeatable): model=NAME|PATH and image=PATH or pose=POSE.json; optional "
        f"type=, pre=PREPROCESSOR ({', '.join(PREPROCESSOR_NAMES)}; those with a network need its weights "
        "in <models>/annotators), weight=1, "
        "start=0, end=1, mode=balanced|prompt|control, resize=just|crop|fill, res=512, a=, b= (thresholds), "
        "pixel-perfect=yes")


def _number(kind: Callable[[str], Any]) -> Callable[[str, str], Any]:
    def convert(key: str, value: str) -> Any:
        try:
            return kind(value)
        except ValueError:
            noun = "a whole number" if kind is int else "a number"
            raise EaselError(f"--control {key}={value}: {value!r} is not {noun}.", hint=SPEC_HINT) from None
    return convert


def _choice(table: dict[str, str]) -> Callable[[str, str], str]:
    def convert(key: str, value: str) -> str:
        if value.lower() not in table:
            raise EaselError(f"--control {key}={value} is not one of {', '.join(table)}.", hint=SPEC_HINT)
        return table[value.lower()]
    return convert


def _file(key: str, value: str) -> Path:
    path = Path(value).expanduser()
    if not path.is_file():
        raise EaselError(f"--control {key}={value}: there is no such file.", hint="Check the path.")
    return path


def _preprocessor(key: str, value: str) -> str:
    canonical = canonical_preprocessor(value)
    if canonical is None:
        raise EaselError(f"--control {key}={value}: unknown preprocessor.",
                         hint=f"Use one of: {', '.join(PREPROCESSOR_NAMES)}.")
    return canonical


def _flag(key: str, value: str) -> bool:
    if value.lower() not in YES + NO:
        raise EaselError(f"--control {key}={value}: say yes or no.", hint=SPEC_HINT)
    return value.lower() in YES


# Spec key -> (ControlUnit field, conversion).
_KEYS: dict[str, tuple[str, Callable[[str, str], Any]]] = {
    "model": ("model", lambda _k, v: v),
    "type": ("type", lambda _k, v: v.lower()),
    "image": ("image", _file),
    "pose": ("pose", _file),
    "pre": ("preprocessor", _preprocessor),
    "preprocessor": ("preprocessor", _preprocessor),
    "weight": ("weight", _number(float)),
    "start": ("guidance_start", _number(float)),
    "end": ("guidance_end", _number(float)),
    "mode": ("control_mode", _choice(CONTROL_MODE_FLAGS)),
    "resize": ("resize_mode", _choice(CONTROL_RESIZE_FLAGS)),
    "res": ("processor_res", _number(int)),
    "a": ("threshold_a", _number(float)),
    "b": ("threshold_b", _number(float)),
    "pixel-perfect": ("pixel_perfect", _flag),
}


def _pairs(spec: str) -> list[tuple[str, str]]:
    pairs = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        key, separator, value = item.partition("=")
        key, value = key.strip().lower(), value.strip()
        if not separator or not value:
            raise EaselError(f"--control {spec}: {item!r} is not KEY=VALUE.", hint=SPEC_HINT)
        if key not in _KEYS:
            close = difflib.get_close_matches(key, list(_KEYS), n=1)
            suggestion = f" Did you mean {close[0]}?" if close else ""
            raise EaselError(f"--control {spec}: unknown key {key!r}.{suggestion}", hint=SPEC_HINT)
        pairs.append((key, value))
    return pairs


def parse_control_spec(spec: str, index: int = 0) -> ControlUnit:
    """Unit `index` from `KEY=VALUE,...`; EaselError saying what is wrong with a bad spec."""
    fields: dict[str, Any] = {}
    for key, value in _pairs(spec):
        name, convert = _KEYS[key]
        if name in fields:
            raise EaselError(f"--control {spec}: {key} is given twice.", hint=SPEC_HINT)
        fields[name] = convert(key, value)
    if "model" not in fields:
        raise EaselError(f"--control {spec}: no model.", hint="Add model=NAME (as `easel models` lists it) or a path.")
    if "image" in fields and "pose" in fields:
        raise EaselError(f"--control {spec}: give image= or pose=, not both.", hint=SPEC_HINT)
    unit = ControlUnit(**fields)
    unit.check(index)
    return unit


def control_units(specs: list[str] | None) -> tuple[ControlUnit, ...]:
    """Every `--control` flag's unit, in order."""
    return tuple(parse_control_spec(spec, index) for index, spec in enumerate(specs or ()))

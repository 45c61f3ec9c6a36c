"""A1111 "parameters" infotext: format it like A1111 writes it, parse it like A1111 reads it.

    a castle on a hill, (masterpiece:1.2)
    Negative prompt: blurry, lowres
    Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 1, Size: 512x768, ...
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import core
from core.controlnet import ControlUnit
from core.errors import RequestError
from core.hires import hires_from_infotext, hires_infotext
from core.preprocessors import PREPROCESSORS, canonical_preprocessor
from core.request import MASKED_CONTENTS, GenerationRequest, Mode
from core.samplers import UNIFORM, infotext_sampler_fields, parse_sampler_name

NEGATIVE_PROMPT_LABEL = "Negative prompt:"

# A1111's modules/infotext_utils.py: one `Key: value` pair, the value raw up to `,` or quoted.
_PARAM_PATTERN = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
_IMAGE_SIZE_PATTERN = re.compile(r"^(\d+)x(\d+)$")
_VERSION_PATTERN = re.compile(r"^v?(\d+)\.(\d+)")

# A1111 1.9 made "Automatic" mean Karras/Exponential for the DPM++ samplers; before it meant Uniform.
_AUTOMATIC_BECAME_SAMPLER_DEFAULT = (1, 9)


@dataclass(frozen=True)
class ParsedInfotext:
    prompt: str
    negative_prompt: str
    params: dict[str, str] = field(default_factory=dict)


def quote_value(value: object) -> str:
    """A value as A1111 writes it: JSON-quoted when it would break the `Key: value, ` line."""
    text = _plain_text(value)
    if any(mark in text for mark in (",", ":", "\n", '"')):
        return json.dumps(text, ensure_ascii=False)
    return text


def _plain_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # A1111 writes "CFG scale: 7", not 7.0
    return str(value)


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        try:
            return str(json.loads(value))
        except json.JSONDecodeError:
            return value
    return value


def format_infotext(prompt: str, negative_prompt: str, params: Mapping[str, object]) -> str:
    """A1111 infotext; `params` keep their order and None values are left out."""
    text = prompt
    if negative_prompt:
        text += f"\n{NEGATIVE_PROMPT_LABEL} {negative_prompt}"
    pairs = ", ".join(f"{key}: {quote_value(value)}" for key, value in params.items() if value is not None)
    return f"{text}\n{pairs}"


def _parameter_pairs(line: str) -> list[tuple[str, str]]:
    return _PARAM_PATTERN.findall(line)


def _join_line(text: str, line: str) -> str:
    return f"{text}\n{line}" if text else line


def _split_prompts(lines: list[str]) -> tuple[str, str]:
    """Lines before `Negative prompt:` are the prompt, it and all after are the negative prompt."""
    prompt = negative_prompt = ""
    in_negative = False
    for line in lines:
        line = line.strip()
        if line.startswith(NEGATIVE_PROMPT_LABEL):
            in_negative = True
            line = line[len(NEGATIVE_PROMPT_LABEL) :].strip()
        if in_negative:
            negative_prompt = _join_line(negative_prompt, line)
        else:
            prompt = _join_line(prompt, line)
    return prompt, negative_prompt


def _split_text(text: str) -> tuple[str, str, list[tuple[str, str]]]:
    """Prompt, negative prompt and the unquoted `Key: value` pairs of the parameters line."""
    *lines, last_line = text.replace("\r\n", "\n").strip().split("\n")
    if len(_parameter_pairs(last_line)) < 3:
        lines.append(last_line)
        last_line = ""
    prompt, negative_prompt = _split_prompts(lines)
    pairs = [(key, _unquote(raw_value.strip())) for key, raw_value in _parameter_pairs(last_line)]
    return prompt, negative_prompt, pairs


def parse_infotext(text: str) -> ParsedInfotext:
    """Prompt, negative prompt and `Key: value` parameters, as A1111's parse_generation_parameters.

    The last line holds parameters only when it has at least 3 pairs; otherwise it is prompt
    text. Values `WxH` also appear split as `Key-1` (width) and `Key-2` (height).
    """
    prompt, negative_prompt, pairs = _split_text(text)
    params: dict[str, str] = {}
    for key, value in pairs:
        params[key] = value
        size = _IMAGE_SIZE_PATTERN.match(value)
        if size:
            params[f"{key}-1"], params[f"{key}-2"] = size.group(1), size.group(2)
    return ParsedInfotext(prompt, negative_prompt, params)


@dataclass(frozen=True)
class Infotext:
    """One A1111 infotext: the fields Easel reads, plus every other `Key: value` in `extra`.

    `sampler` is kept as written (`DPM++ 2M Karras` stays one name); `extra` keeps the text's
    order and its values unquoted, so `format(parse(text))` writes every field back.
    """

    prompt: str = ""
    negative_prompt: str = ""
    steps: int | None = None
    sampler: str | None = None
    cfg_scale: float | None = None
    seed: int | None = None
    width: int | None = None
    height: int | None = None
    model_hash: str | None = None
    model: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


# Infotext key -> (attribute, conversion); a value that does not convert stays in `extra`.
_TYPED_KEYS: dict[str, tuple[str, type]] = {
    "Steps": ("steps", int),
    "Sampler": ("sampler", str),
    "CFG scale": ("cfg_scale", float),
    "Seed": ("seed", int),
    "Model hash": ("model_hash", str),
    "Model": ("model", str),
}

# Extra keys A1111 writes between the typed ones; putting them back there keeps its order.
_WRITTEN_AFTER: dict[str, tuple[str, ...]] = {
    "Sampler": ("Schedule type",),
    "CFG scale": ("Image CFG scale",),
    "Seed": ("Face restoration",),
}


def parse(text: str) -> Infotext:
    """An infotext read the way A1111's parse_generation_parameters reads it."""
    prompt, negative_prompt, pairs = _split_text(text)
    typed: dict[str, Any] = {}
    extra: dict[str, str] = {}
    for key, value in pairs:
        size = _IMAGE_SIZE_PATTERN.match(value) if key == "Size" else None
        if size:
            typed["width"], typed["height"] = int(size.group(1)), int(size.group(2))
        elif key in _TYPED_KEYS and _converts(value, _TYPED_KEYS[key][1]):
            name, kind = _TYPED_KEYS[key]
            typed[name] = kind(value)
        else:
            extra[key] = value
    return Infotext(prompt=prompt, negative_prompt=negative_prompt, extra=extra, **typed)


def _converts(value: str, kind: type) -> bool:
    try:
        kind(value)
    except ValueError:
        return False
    return True


def _ordered_params(info: Infotext) -> dict[str, object]:
    has_size = info.width is not None and info.height is not None
    typed: dict[str, object] = {
        "Steps": info.steps,
        "Sampler": info.sampler,
        "CFG scale": info.cfg_scale,
        "Seed": info.seed,
        "Size": f"{info.width}x{info.height}" if has_size else None,
        "Model hash": info.model_hash,
        "Model": info.model,
    }
    extra = dict(info.extra)
    params: dict[str, object] = {}
    for key, value in typed.items():
        params[key] = value
        for follower in _WRITTEN_AFTER.get(key, ()):
            if follower in extra:
                params[follower] = extra.pop(follower)
    # An unconvertible typed value (e.g. `Steps: auto`) lives in extra and takes its slot back here.
    params.update(extra)
    return params


def format(params: Infotext) -> str:  # noqa: A001 - the module's API: infotext.format / infotext.parse
    """The infotext A1111 would write for `params`; values that would break the line are quoted."""
    lines = [params.prompt] if params.prompt else []
    if params.negative_prompt:
        lines.append(f"{NEGATIVE_PROMPT_LABEL} {params.negative_prompt}")
    pairs = ", ".join(
        f"{key}: {quote_value(value)}" for key, value in _ordered_params(params).items() if value is not None
    )
    if pairs:
        lines.append(pairs)
    return "\n".join(lines)


def infotext_for_request(
    request: GenerationRequest,
    seed: int,
    model_name: str,
    model_hash: str | None,
    extra: Mapping[str, object] | None = None,
    vae_hash: str | None = None,
    vae_name: str | None = None,
) -> str:
    """The infotext A1111 would write for this request, fields in A1111's order.

    `vae_name`: the VAE file used when it is not the request's own choice (the settings' Automatic or
    per-model VAE); `extra` (e.g. `Lora hashes`) goes after the hires fields, before Version.
    """
    named = request.vae if request.vae not in (None, "", "Automatic", "None") else None
    vae = vae_name or (Path(named).name if named else None)  # A1111 writes the file name
    params: dict[str, object] = {
        "Steps": request.steps,
        **infotext_sampler_fields(request.sampler, request.schedule),
        "CFG scale": request.cfg_scale,
        "Seed": seed,
        "Size": f"{request.width}x{request.height}",
        "Model hash": model_hash or None,
        "Model": model_name or None,
        "VAE hash": vae_hash if vae else None,
        "VAE": vae,
        "Denoising strength": _denoising_strength(request),
        "Clip skip": request.clip_skip if request.clip_skip > 1 else None,
        **inpaint_params(request),
    }
    if request.hires is not None and request.mode is Mode.TXT2IMG:
        params.update(hires_infotext(request.hires, request.sampler, request.prompt, request.negative_prompt))
    params.update(extra or {})
    params["Version"] = f"Easel {core.__version__}"
    return format_infotext(request.prompt, request.negative_prompt, params)


def _denoising_strength(request: GenerationRequest) -> float | None:
    """img2img and inpaint's strength; in txt2img A1111 writes the hires pass's, when there is one."""
    if request.mode is not Mode.TXT2IMG:
        return request.denoising_strength
    return request.hires.denoise if request.hires is not None else None


def inpaint_params(request: GenerationRequest) -> dict[str, object]:
    """The inpainting fields A1111 1.10 writes, in its order; each only when it is not the default.

    A1111 writes neither the resize mode nor outpainting; an inpaint with blur 0, "original" content and
    the whole picture looks like img2img in its infotext.
    """
    if request.mode is not Mode.INPAINT:
        return {}
    only_masked = request.inpaint_area == "masked"
    return {
        "Mask mode": "Inpaint not masked" if request.mask_mode == "not masked" else None,
        "Mask blur": request.mask_blur if request.mask_blur > 0 else None,
        "Inpaint area": "Only masked" if only_masked else None,
        "Masked area padding": request.padding if only_masked else None,
        "Masked content": request.masked_content if request.masked_content != "original" else None,
    }


_INPAINT_KEYS = ("Mask mode", "Mask blur", "Inpaint area", "Masked area padding", "Masked content")


def _inpaint_fields(params: Mapping[str, str]) -> dict[str, Any]:
    """Inpaint settings; when the text has any, the ones it leaves out are A1111's unwritten defaults."""
    if not any(key in params for key in _INPAINT_KEYS):
        return {}
    fields: dict[str, Any] = {
        "mask_mode": "not masked" if params.get("Mask mode") == "Inpaint not masked" else "masked",
        "inpaint_area": "masked" if params.get("Inpaint area") == "Only masked" else "whole",
        "masked_content": params.get("Masked content", "original"),
        "mask_blur": 0,
    }
    if fields["masked_content"] not in MASKED_CONTENTS:
        del fields["masked_content"]  # a content an extension added (e.g. "lama cleaner")
    for key, name in (("Mask blur", "mask_blur"), ("Masked area padding", "padding")):
        try:
            fields[name] = int(params[key])
        except (KeyError, ValueError):
            continue
    return fields


def _version_before(version: str | None, limit: tuple[int, int]) -> bool:
    match = _VERSION_PATTERN.match(version or "")
    return bool(match) and (int(match.group(1)), int(match.group(2))) < limit


def _sampler_fields(params: Mapping[str, str]) -> dict[str, str]:
    if "Sampler" not in params:
        return {}
    schedule = params.get("Schedule type")
    if schedule is None and _version_before(params.get("Version"), _AUTOMATIC_BECAME_SAMPLER_DEFAULT):
        schedule = UNIFORM  # what "DPM++ 2M" ran before A1111 1.9
    try:
        sampler, schedule = parse_sampler_name(params["Sampler"], schedule or "Automatic")
    except RequestError:
        return {}  # a sampler Easel lacks: keep the user's current choice
    return {"sampler": sampler, "schedule": schedule}


_NUMERIC_FIELDS: tuple[tuple[str, str, type], ...] = (
    ("Steps", "steps", int),
    ("CFG scale", "cfg_scale", float),
    ("Seed", "seed", int),
    ("Size-1", "width", int),
    ("Size-2", "height", int),
    ("Clip skip", "clip_skip", int),
    ("Denoising strength", "denoising_strength", float),
)


def request_fields_from_infotext(parsed: ParsedInfotext) -> dict[str, Any]:
    """GenerationRequest fields found in parsed infotext; absent or unreadable fields are left out.

    `model` is the infotext's `Model` name; finding the file (or matching `Model hash`) is the caller's job.
    """
    fields: dict[str, Any] = {"prompt": parsed.prompt, "negative_prompt": parsed.negative_prompt}
    fields.update(_sampler_fields(parsed.params))
    for key, name, kind in _NUMERIC_FIELDS:
        if key in parsed.params:
            try:
                fields[name] = kind(parsed.params[key])
            except ValueError:
                continue
    if parsed.params and "Clip skip" not in parsed.params:
        fields["clip_skip"] = 1  # A1111 leaves out the default
    if parsed.params.get("Model"):
        fields["model"] = parsed.params["Model"]
    fields.update(_inpaint_fields(parsed.params))
    hires = hires_from_infotext(parsed.params)
    if hires is not None:
        fields["hires"] = hires.to_json_dict()  # JSON-friendly like every other field
    return fields


# ---------------------------------------------------------------- ControlNet units (sd-webui-controlnet)

CONTROLNET_KEY = "ControlNet {index}"
# Older names of the extension's resize modes (its check_resize_mode aliases).
_CONTROLNET_RESIZE_ALIASES = {
    "Inner Fit (Scale to Fit)": "Crop and Resize", "Scale to Fit (Inner Fit)": "Crop and Resize",
    "Outer Fit (Shrink to Fit)": "Resize and Fill", "Envelope (Outer Fit)": "Resize and Fill",
}
_CONTROLNET_KEY_PATTERN = re.compile(r"^ControlNet (\d+)$")


def _thresholds(unit: ControlUnit) -> tuple[float, float]:
    step = PREPROCESSORS.get(canonical_preprocessor(unit.preprocessor) or "")
    a = unit.threshold_a if unit.threshold_a is not None else (step.threshold_a if step else 0.5)
    b = unit.threshold_b if unit.threshold_b is not None else (step.threshold_b if step else 0.5)
    return float(a), float(b)


def format_controlnet_unit(unit: ControlUnit, model_title: str) -> str:
    """One unit as the extension's ControlNetUnit.serialize writes it (its field order, `str()` of each value)."""
    canonical = canonical_preprocessor(unit.preprocessor)
    threshold_a, threshold_b = _thresholds(unit)
    fields = {
        "Module": PREPROCESSORS[canonical].module if canonical else unit.preprocessor,
        "Model": model_title,
        "Weight": float(unit.weight),
        "Resize Mode": unit.resize_mode,
        "Processor Res": int(unit.processor_res),
        "Threshold A": threshold_a,
        "Threshold B": threshold_b,
        "Guidance Start": float(unit.guidance_start),
        "Guidance End": float(unit.guidance_end),
        "Pixel Perfect": bool(unit.pixel_perfect),
        "Control Mode": unit.control_mode,
    }
    return ", ".join(f"{key}: {value}" for key, value in fields.items())


def controlnet_params(units: Sequence[tuple[ControlUnit, str]]) -> dict[str, str]:
    """`ControlNet 0`, `ControlNet 1`, ... for the infotext: each unit with its model's title."""
    return {CONTROLNET_KEY.format(index=index): format_controlnet_unit(unit, title)
            for index, (unit, title) in enumerate(units)}


def _parsed_value(value: str) -> Any:
    """The extension's parse_value: True/False, an int, a float, or the text."""
    if value in ("True", "False"):
        return value == "True"
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            continue
    return value


def _number_field(values: Mapping[str, Any], key: str, default: float) -> float:
    value = values.get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


def _threshold_field(value: Any, default: float) -> float | None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0 or value == default:
        return None  # -1 (the extension's "unset") or the preprocessor's default
    return float(value)


def parse_controlnet_unit(text: str) -> ControlUnit:
    """A unit from the extension's infotext value; fields it leaves out keep their defaults.

    The control image is never in the infotext: the unit has none (img2img and inpaint then use the init image).
    """
    values: dict[str, Any] = {}
    for item in text.split(","):
        key, separator, value = item.strip().partition(": ")
        if separator:
            values[key.strip().lower()] = _parsed_value(value.strip())
    module = str(values.get("module", "none"))
    preprocessor = canonical_preprocessor(module) or module
    step = PREPROCESSORS.get(preprocessor)
    resize = str(values.get("resize mode", "Crop and Resize"))
    resolution = _number_field(values, "processor res", -1)
    return ControlUnit(
        model=str(values.get("model", "")),
        preprocessor=preprocessor,
        weight=_number_field(values, "weight", 1.0),
        resize_mode=_CONTROLNET_RESIZE_ALIASES.get(resize, resize),
        processor_res=int(resolution) if resolution > 0 else 512,
        threshold_a=_threshold_field(values.get("threshold a"), step.threshold_a if step else 0.5),
        threshold_b=_threshold_field(values.get("threshold b"), step.threshold_b if step else 0.5),
        guidance_start=_number_field(values, "guidance start", 0.0),
        guidance_end=_number_field(values, "guidance end", 1.0),
        pixel_perfect=values.get("pixel perfect") is True,
        control_mode=str(values.get("control mode", "Balanced")),
    )


def controlnet_units_from_params(params: Mapping[str, str]) -> list[ControlUnit]:
    """Every `ControlNet N` of parsed infotext, in unit order."""
    found = sorted((int(m.group(1)), value) for key, value in params.items()
                   if (m := _CONTROLNET_KEY_PATTERN.match(key)))
    return [parse_controlnet_unit(value) for _, value in found]

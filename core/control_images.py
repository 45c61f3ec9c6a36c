"""The control image of a ControlNet unit, at the generation size: read (or rendered from a pose),
preprocessed, and fitted as the extension fits it (`Just Resize`, `Crop and Resize`, `Resize and Fill`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from core.controlnet import ControlUnit
from core.errors import RequestError
from core.inpaint import PreparedInpaint
from core.preprocessors import inpaint_hint, preprocessor, run_preprocessor

if TYPE_CHECKING:
    from core.annotators.session import AnnotatorSession

# The extension resizes maps with few colours (poses, segmentation) by nearest neighbour, so they stay crisp.
_PALETTE_COLOURS = 200
IMAGE_HINT = "Choose a PNG, JPEG or WebP image."


def _open(path: Path, what: str, hint: str) -> Image.Image:
    try:
        with Image.open(path) as image:
            image.load()
            return image.convert("RGB")
    except (OSError, ValueError) as error:
        raise RequestError(f"The {what} {path} could not be opened: {error}.", hint=hint) from error


def render_pose_file(path: Path) -> Image.Image:
    """The OpenPose JSON file drawn as ControlNet's annotator draws it."""
    from core.pose import PoseDocument, render  # the pose model is only needed for pose units

    try:
        document = PoseDocument.from_openpose_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise RequestError(f"The pose {path} could not be read: {error}.",
                           hint="Give an OpenPose JSON file, as the pose editor or OpenPose writes it.") from error
    return render(document).convert("RGB")


def _colour_count(image: Image.Image) -> int:
    packed = np.asarray(image.convert("RGB"), dtype=np.uint32)
    return len(np.unique(packed[:, :, 0] << 16 | packed[:, :, 1] << 8 | packed[:, :, 2]))


def resize_map(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The extension's high_quality_resize, simplified: palettes by nearest neighbour, black-and-white maps
    resampled and thresholded again (it thins one-pixel edges instead), the rest by area or bicubic."""
    if image.size == size:
        return image
    colours = _colour_count(image)
    if 2 < colours < _PALETTE_COLOURS:
        return image.resize(size, Image.Resampling.NEAREST)
    shrinking = size[0] * size[1] < image.width * image.height
    resized = image.resize(size, Image.Resampling.BOX if shrinking else Image.Resampling.BICUBIC)
    if colours == 2:
        low, high = image.convert("L").getextrema()
        if low < 16 and high > 240:
            return resized.convert("L").point(lambda v: 255 if v >= 128 else 0).convert("RGB")
    return resized


def fit_to_size(image: Image.Image, width: int, height: int, mode: str) -> Image.Image:
    """The control map at `width` x `height` by the extension's resize mode."""
    if mode == "Just Resize":
        return resize_map(image, (width, height))
    cover = mode == "Crop and Resize"
    scale = (max if cover else min)(width / image.width, height / image.height)
    scaled = resize_map(image, (int(round(image.width * scale)), int(round(image.height * scale))))
    if cover:
        left, top = max(0, (scaled.width - width) // 2), max(0, (scaled.height - height) // 2)
        return scaled.crop((left, top, left + width, top + height))
    # Resize and Fill: centred on the median colour of the map's border.
    pixels = np.asarray(scaled)
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    canvas = Image.new("RGB", (width, height), tuple(int(v) for v in np.median(border, axis=0)))
    canvas.paste(scaled, (max(0, (width - scaled.width) // 2), max(0, (height - scaled.height) // 2)))
    return canvas


def pixel_perfect_resolution(image: Image.Image, width: int, height: int, mode: str) -> int:
    """The extension's "Pixel Perfect": the preprocessor resolution that maps one pixel to one pixel."""
    scale = (min if mode == "Resize and Fill" else max)(height / image.height, width / image.width)
    return int(round(scale * min(image.size)))


def _source(unit: ControlUnit, index: int, init_image: Image.Image | None,
            inpaint: PreparedInpaint | None) -> Image.Image:
    if unit.pose is not None:
        if preprocessor(unit.preprocessor).name != "none":
            raise RequestError(f"ControlNet unit {index} has a pose and the preprocessor {unit.preprocessor}.",
                               hint="A pose is a finished control image: use pre=none with it.")
        image = render_pose_file(unit.pose)
    elif unit.image is not None:
        image = _open(unit.image, "control image", IMAGE_HINT)
    elif init_image is not None:
        return init_image  # as the extension does: the img2img picture, already at the generation size
    else:
        raise RequestError(f"ControlNet unit {index} has no control image.",
                           hint="Give it an image (image=PATH) or a pose (pose=POSE.json).")
    if inpaint is not None and inpaint.paste_to is not None and image.size == inpaint.original.size:
        image = image.crop(inpaint.paste_to)  # "only masked": the control follows the region that is generated
    return image


def control_hint(unit: ControlUnit, index: int, width: int, height: int, init_image: Image.Image | None = None,
                 inpaint: PreparedInpaint | None = None, seed: int = 0,
                 annotators: "AnnotatorSession | None" = None) -> np.ndarray:
    """The unit's control image at the generation size: float32 (height, width, 3) in 0..1 (-1: masked).

    Preprocessors that run a network take its weights through `annotators`."""
    image = _source(unit, index, init_image, inpaint)
    step = preprocessor(unit.preprocessor)
    if step.name == "inpaint":
        if inpaint is None:
            raise RequestError(f"ControlNet unit {index} uses the inpaint preprocessor, which needs a mask.",
                               hint="Use it when inpainting (give a mask), or choose another preprocessor.")
        return inpaint_hint(fit_to_size(image, width, height, unit.resize_mode), inpaint.mask)
    resolution = unit.processor_res
    if unit.pixel_perfect and step.uses_resolution:
        resolution = pixel_perfect_resolution(image, width, height, unit.resize_mode)
    detected = run_preprocessor(step.name, image, unit.threshold_a, unit.threshold_b, resolution, seed, annotators)
    fitted = fit_to_size(detected, width, height, unit.resize_mode)
    return np.asarray(fitted, dtype=np.float32) / 255.0


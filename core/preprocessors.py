"""ControlNet preprocessors: turn a picture into the control image a ControlNet model was trained on.

The ones that need no weights run here, as A1111's ControlNet extension runs them (`scripts/processor.py`),
in numpy and PIL: canny, scribble (XDoG), threshold, invert, lineart_standard, shuffle, tile (resample) and
inpaint. The ones that need a network's weights (depth, lineart, softedge, normal, openpose) run the annotator
networks in core/annotators with the weights an AnnotatorSession finds in the models folders; a missing file
is refused with its name, where to get it and where to put it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np
from PIL import Image

from core.annotator_weights import (BODY_POSE, DEPTH_ANYTHING_V2_SMALL, FACE_POSE, HAND_POSE, HED, LINEART_COARSE,
                                    LINEART_REALISTIC, NORMAL_BAE, AnnotatorFile)
from core.canny import canny
from core.errors import EaselError, RequestError
from core.separable_filter import convolve_rows_and_columns

if TYPE_CHECKING:
    from core.annotators.session import AnnotatorSession

UNUSED_THRESHOLD = 0.5  # what the extension records for a slider the preprocessor does not have

Run = Callable[[Image.Image, float, float, int], Image.Image]  # image, threshold a, threshold b, seed
Annotate = Callable[[Image.Image, "AnnotatorSession"], Image.Image]  # image at the processor resolution


@dataclass(frozen=True)
class Preprocessor:
    name: str  # Easel's name, as `pre=` takes it
    module: str  # the extension's name, as its infotext writes it
    run: Run | None = None  # None: a network (annotate), or (inpaint) a mask as well
    threshold_a: float = UNUSED_THRESHOLD
    threshold_b: float = UNUSED_THRESHOLD
    uses_resolution: bool = True  # brought to the processor resolution (short side) first
    annotate: Annotate | None = None  # runs an annotator network
    weights: tuple[AnnotatorFile, ...] = ()  # the files `annotate` needs
    refusal: str = ""  # a name Easel knows but does not run, and why


def _pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"))


def _rgb(values: np.ndarray) -> Image.Image:
    if values.ndim == 2:
        values = np.repeat(values[:, :, None], 3, axis=2)
    return Image.fromarray(values.astype(np.uint8), "RGB")


def _canny(image: Image.Image, low: float, high: float, _seed: int) -> Image.Image:
    return _rgb(canny(_pixels(image), low, high))


def _threshold(image: Image.Image, level: float, _b: float, _seed: int) -> Image.Image:
    """White where every channel is brighter than `level`."""
    return _rgb(np.where(_pixels(image).min(axis=2) > level, 255, 0))


def _invert(image: Image.Image, _a: float, _b: float, _seed: int) -> Image.Image:
    """For scribbles and line art drawn black on white: the models want white lines on black."""
    return _rgb(255 - _pixels(image))


def gaussian_blur(values: np.ndarray, sigma: float) -> np.ndarray:
    """OpenCV's GaussianBlur on float data: kernel size round(8 sigma + 1) | 1, borders reflected (101)."""
    size = int(round(sigma * 8 + 1)) | 1
    offsets = np.arange(size) - (size - 1) / 2
    kernel = np.exp(-(offsets**2) / (2 * sigma * sigma))
    kernel /= kernel.sum()
    return convolve_rows_and_columns(values, kernel, "reflect")


def _scribble_xdog(image: Image.Image, level: float, _b: float, _seed: int) -> Image.Image:
    """The extension's scribble_xdog: a difference of Gaussians (sigma 0.5 and 5), thresholded."""
    pixels = _pixels(image).astype(np.float32)
    difference = gaussian_blur(pixels, 5.0) - gaussian_blur(pixels, 0.5)
    dog = np.clip(255 - difference.min(axis=2), 0, 255).astype(np.uint8)
    # The extension computes 2 * (255 - dog) in 8 bits, so strong lines wrap around; so does Easel.
    return _rgb(np.where((2 * (255 - dog)).astype(np.uint8) > level, 255, 0))


def _lineart_standard(image: Image.Image, _a: float, _b: float, _seed: int) -> Image.Image:
    """The extension's lineart_standard: how much darker each pixel is than its blurred surroundings (sigma 6),
    scaled by the median of the clear lines; on the picture edge-padded to a multiple of 64, as it runs."""
    pixels = _pixels(image)
    height, width = pixels.shape[:2]
    padded = np.pad(pixels, ((0, -height % 64), (0, -width % 64), (0, 0)), mode="edge").astype(np.float32)
    intensity = np.clip((gaussian_blur(padded, 6.0) - padded).min(axis=2), 0, 255)
    lines = intensity[intensity > 8]
    intensity = intensity / max(16.0, float(np.median(lines)) if lines.size else 0.0) * 127
    return _rgb(np.clip(intensity, 0, 255).astype(np.uint8)[:height, :width])


def _noise_disk(height: int, width: int, cell: int, rng: np.random.Generator) -> np.ndarray:
    """The extension's make_noise_disk: coarse uniform noise, smoothly enlarged, stretched to 0..1."""
    coarse = rng.uniform(0, 1, size=(height // cell + 2, width // cell + 2)).astype(np.float32)
    smooth = Image.fromarray(coarse, "F").resize((width + 2 * cell, height + 2 * cell), Image.Resampling.BICUBIC)
    noise = np.asarray(smooth)[cell:cell + height, cell:cell + width].astype(np.float64)
    noise -= noise.min()
    return noise / max(noise.max(), 1e-12)


def _sample_bilinear(pixels: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    x1, y1 = np.minimum(x0 + 1, pixels.shape[1] - 1), np.minimum(y0 + 1, pixels.shape[0] - 1)
    fx, fy = (x - x0)[:, :, None], (y - y0)[:, :, None]
    top = pixels[y0, x0] * (1 - fx) + pixels[y0, x1] * fx
    bottom = pixels[y1, x0] * (1 - fx) + pixels[y1, x1] * fx
    return top * (1 - fy) + bottom * fy


def _shuffle(image: Image.Image, _a: float, _b: float, seed: int) -> Image.Image:
    """The extension's content shuffle: every pixel taken from a smoothly random place of the picture."""
    pixels = _pixels(image).astype(np.float64)
    height, width = pixels.shape[:2]
    rng = np.random.default_rng(seed)
    x = _noise_disk(height, width, 256, rng) * (width - 1)
    y = _noise_disk(height, width, 256, rng) * (height - 1)
    return _rgb(np.clip(np.rint(_sample_bilinear(pixels, x, y)), 0, 255))


def _tile_resample(image: Image.Image, rate: float, _b: float, _seed: int) -> Image.Image:
    """Shrunk by the down-sampling rate (1 to 8; below 1.1 unchanged); the resize to the generation size
    then blurs it, which is what the tile model expects."""
    image = image.convert("RGB")
    if rate < 1.1:
        return image
    size = (max(int(image.width / rate), 1), max(int(image.height / rate), 1))
    return image.resize(size, Image.Resampling.BOX)


def _network(function: str, **options: bool) -> Annotate:
    """A preprocessor that runs core.annotators.maps.<function>; torch and the networks load only then."""
    def run(image: Image.Image, session: "AnnotatorSession") -> Image.Image:
        from core.annotators import maps

        return getattr(maps, function)(image, session, **options)
    return run


_MIDAS_REFUSAL = ("Easel does not run MiDaS (depth_midas, dpt_hybrid-midas-501f0c75.pt); its depth preprocessor "
                  "is Depth Anything V2 (pre=depth, the extension's depth_anything_v2), whose maps the depth "
                  "ControlNets take as well.")
_WEIGHTED = (
    Preprocessor("depth", "depth_anything_v2", annotate=_network("depth_anything_v2"),
                 weights=(DEPTH_ANYTHING_V2_SMALL,)),
    Preprocessor("depth_midas", "depth_midas", refusal=_MIDAS_REFUSAL),
    Preprocessor("lineart", "lineart_realistic", annotate=_network("lineart"), weights=(LINEART_REALISTIC,)),
    Preprocessor("lineart_coarse", "lineart_coarse", annotate=_network("lineart", coarse=True),
                 weights=(LINEART_COARSE,)),
    Preprocessor("softedge", "softedge_hed", annotate=_network("softedge_hed"), weights=(HED,)),
    Preprocessor("softedge_hedsafe", "softedge_hedsafe", annotate=_network("softedge_hed", safe=True), weights=(HED,)),
    Preprocessor("normal", "normal_bae", annotate=_network("normal_bae"), weights=(NORMAL_BAE,)),
    Preprocessor("openpose", "openpose", annotate=_network("openpose"), weights=(BODY_POSE,)),
    Preprocessor("openpose_hand", "openpose_hand", annotate=_network("openpose", hands=True),
                 weights=(BODY_POSE, HAND_POSE)),
    Preprocessor("openpose_face", "openpose_face", annotate=_network("openpose", face=True),
                 weights=(BODY_POSE, FACE_POSE)),
    Preprocessor("openpose_full", "openpose_full", annotate=_network("openpose", hands=True, face=True),
                 weights=(BODY_POSE, HAND_POSE, FACE_POSE)),
)
PREPROCESSORS: dict[str, Preprocessor] = {p.name: p for p in (
    Preprocessor("none", "none"),
    Preprocessor("canny", "canny", _canny, 100, 200),
    Preprocessor("scribble", "scribble_xdog", _scribble_xdog, 32),
    Preprocessor("threshold", "threshold", _threshold, 127),
    Preprocessor("invert", "invert (from white bg & black line)", _invert, uses_resolution=False),
    Preprocessor("lineart_standard", "lineart_standard (from white bg & black line)", _lineart_standard),
    Preprocessor("shuffle", "shuffle", _shuffle),
    Preprocessor("tile", "tile_resample", _tile_resample, 1.0, uses_resolution=False),
    Preprocessor("inpaint", "inpaint_global_harmonious", uses_resolution=False),
    *_WEIGHTED,
)}
PREPROCESSOR_NAMES = tuple(PREPROCESSORS)
# The extension's other names for the same thing.
_ALIASES = {"scribble_xdog": "scribble", "tile_resample": "tile", "inpaint_only": "inpaint",
            "inpaint_global_harmonious": "inpaint", "depth_anything_v2": "depth", "lineart_realistic": "lineart",
            "softedge_hed": "softedge", "hed": "softedge", "normal_bae": "normal", "binary": "threshold"}


def canonical_preprocessor(name: str) -> str | None:
    """Easel's name for a preprocessor given by its own or the extension's name; None if unknown."""
    key = name.strip().lower()
    if key in PREPROCESSORS:
        return key
    by_module = {p.module: p.name for p in PREPROCESSORS.values()}
    return by_module.get(key) or _ALIASES.get(key)


def preprocessor(name: str) -> Preprocessor:
    canonical = canonical_preprocessor(name)
    if canonical is None:
        raise RequestError(f"Unknown preprocessor {name!r}.", hint=f"Use one of: {', '.join(PREPROCESSOR_NAMES)}.")
    return PREPROCESSORS[canonical]


def at_resolution(image: Image.Image, resolution: int) -> Image.Image:
    """The image scaled so its short side is `resolution`, as the extension feeds its preprocessors."""
    scale = resolution / min(image.size)
    size = (int(round(image.width * scale)), int(round(image.height * scale)))
    if size == image.size:
        return image
    return image.resize(size, Image.Resampling.BICUBIC if scale > 1 else Image.Resampling.BOX)


def run_preprocessor(name: str, image: Image.Image, threshold_a: float | None = None,
                     threshold_b: float | None = None, resolution: int = 512, seed: int = 0,
                     annotators: "AnnotatorSession | None" = None) -> Image.Image:
    """The control image `name` makes of `image` (RGB); thresholds None are the preprocessor's defaults.

    The preprocessors that run a network find its weights through `annotators`.
    """
    step = preprocessor(name)
    if step.refusal:
        raise EaselError(step.refusal, hint="Choose pre=depth, or give a depth map made elsewhere with pre=none.")
    if step.name == "inpaint":
        raise RequestError("The inpaint preprocessor needs a mask.", hint="Use it when inpainting (--mask).")
    if step.run is None and step.annotate is None:
        return image.convert("RGB")
    if step.uses_resolution:
        image = at_resolution(image, resolution)
    if step.annotate is not None:
        if annotators is None:
            from core.annotators.session import AnnotatorSession

            annotators = AnnotatorSession(())
        return step.annotate(image, annotators)
    a = step.threshold_a if threshold_a is None else threshold_a
    b = step.threshold_b if threshold_b is None else threshold_b
    assert step.run is not None
    return step.run(image, a, b, seed)


def inpaint_hint(image: Image.Image, mask: Image.Image) -> np.ndarray:
    """The inpaint ControlNet's input: the picture in 0..1 with the masked pixels (mask > half) set to -1,
    as the extension's inpaint protocol (and diffusers' make_inpaint_condition) build it."""
    pixels = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    masked = np.asarray(mask.convert("L").resize(image.size), dtype=np.float32) / 255.0 > 0.5
    pixels = pixels.copy()
    pixels[masked] = -1.0
    return pixels

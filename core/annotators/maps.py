"""The weighted preprocessors: a picture (already at the processor resolution) in, a control map out.

As the extension's `resize_image_with_pad`, the picture is padded by repeating its edge to a multiple of 64
pixels for the network, and the map is cropped back to the picture's size.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from core.annotator_weights import (DEPTH_ANYTHING_V2_SMALL, HED, LINEART_COARSE, LINEART_REALISTIC, NORMAL_BAE,
                                    AnnotatorFile)
from core.annotators.session import AnnotatorSession

PAD_TO = 64


def padded(image: Image.Image) -> np.ndarray:
    """The RGB pixels, edge-padded on the right and bottom to multiples of 64."""
    pixels = np.asarray(image.convert("RGB"))
    height, width = pixels.shape[:2]
    return np.pad(pixels, ((0, -height % PAD_TO), (0, -width % PAD_TO), (0, 0)), mode="edge")


def _cropped(values: np.ndarray, image: Image.Image) -> Image.Image:
    values = values[:image.height, :image.width]
    if values.ndim == 2:
        values = np.repeat(values[:, :, None], 3, axis=2)
    return Image.fromarray(np.ascontiguousarray(values.astype(np.uint8)), "RGB")


def softedge_hed(image: Image.Image, session: AnnotatorSession, safe: bool = False) -> Image.Image:
    from core.annotators.hed import ControlNetHED, hed_edges

    net = session.network(HED, ControlNetHED)
    return _cropped(hed_edges(net, padded(image), safe, session.device), image)


def lineart(image: Image.Image, session: AnnotatorSession, coarse: bool = False) -> Image.Image:
    from core.annotators.lineart import LineartGenerator, line_art

    net = session.network(LINEART_COARSE if coarse else LINEART_REALISTIC, LineartGenerator)
    return _cropped(line_art(net, padded(image), session.device), image)


def depth_anything_v2(image: Image.Image, session: AnnotatorSession) -> Image.Image:
    from core.annotators.depth import depth_map, load_depth_anything

    net = session.loaded(DEPTH_ANYTHING_V2_SMALL, load_depth_anything)
    return _cropped(depth_map(net, padded(image), session.device), image)


def normal_bae(image: Image.Image, session: AnnotatorSession) -> Image.Image:
    from core.annotators.normal_bae import NormalBae, normal_map

    net = session.network(NORMAL_BAE, NormalBae, strip_prefix="module.")
    return _cropped(normal_map(net, padded(image), session.device), image)


def openpose(image: Image.Image, session: AnnotatorSession, hands: bool = False, face: bool = False) -> Image.Image:
    """Helper B's detector and renderer (core.openpose_preprocessor), in the folder that holds the body model."""
    from core.annotator_weights import BODY_POSE

    try:
        from core.openpose_preprocessor import openpose_control_image
    except ImportError as error:
        raise _not_available("openpose", BODY_POSE) from error
    folder = session.models_dir_with(BODY_POSE)
    return openpose_control_image(image.convert("RGB"), folder, hands, face, session.device).convert("RGB")


def _not_available(name: str, file: AnnotatorFile) -> Exception:
    from core.errors import EaselError

    return EaselError(f"This build of Easel cannot run the {name} preprocessor ({file.network}).",
                      "Detect the pose in the pose editor, save it as JSON and give it as the unit's pose "
                      "(pose=POSE.json).")

"""Depth with Depth Anything V2 Small through transformers (`DepthAnythingForDepthEstimation`), the
config shipped in resources/annotator-configs/depth-anything-v2-small so that nothing is asked of the hub, the weights
the `model.safetensors` of depth-anything/Depth-Anything-V2-Small-hf.

Run as the extension's depth_anything_v2 preprocessor runs it: the short side brought to at least 518
pixels in multiples of 14 (bicubic), ImageNet normalisation, the predicted relative inverse depth resized
back (bilinear) and stretched to 0..255, near bright, in grey.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.annotator_weights import DEPTH_ANYTHING_V2_SMALL
from core.errors import ModelFileError
from core.models.filetype import FileFormat, sniff
from core.models.safetensors_header import read_header
from core.paths import resources_dir

CONFIG_FOLDER = "depth-anything-v2-small"
INPUT_SIDE = 518
MULTIPLE = 14
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _config():  # type: ignore[no-untyped-def]
    from transformers import DepthAnythingConfig

    return DepthAnythingConfig.from_pretrained(resources_dir() / "annotator-configs" / CONFIG_FOLDER)


def depth_anything_v2_small() -> nn.Module:
    """The network with random weights, from the shipped config."""
    from transformers import DepthAnythingForDepthEstimation

    return DepthAnythingForDepthEstimation(_config())


def load_depth_anything(path: Path) -> nn.Module:
    """The network with the weights in `path` (a `model.safetensors` as the -hf repo publishes it), loaded by
    transformers, which also maps the names the file was written with by older transformers versions
    (`attention.attention.query`, ...) to its own."""
    from transformers import DepthAnythingForDepthEstimation

    file = DEPTH_ANYTHING_V2_SMALL
    needed = f"Get {file.filename} from https://huggingface.co/{file.repo_id} (or Download it in Easel)."
    if sniff(path) is not FileFormat.SAFETENSORS:
        raise ModelFileError(f"{path.name} is not a safetensors file, so it is not {file.network}.", needed,
                             details=str(path))
    try:
        read_header(path)
        with _quiet_transformers():
            model, info = DepthAnythingForDepthEstimation.from_pretrained(
                path.parent, config=_config(), local_files_only=True, use_safetensors=True, output_loading_info=True)
    except ModelFileError:
        raise
    except Exception as error:  # shapes of another network, a damaged file: transformers raises several kinds
        raise ModelFileError(f"{path.name} is not the weights of {file.network}.", needed,
                             details=f"{path}: {type(error).__name__}: {error}") from None
    wrong = [*info.get("missing_keys", ()), *info.get("unexpected_keys", ()), *info.get("mismatched_keys", ())]
    if wrong:
        raise ModelFileError(f"{path.name} is not the weights of {file.network}.", needed,
                             details=f"{path}: {len(wrong)} tensors missing, unexpected or of another shape "
                                     f"(first: {list(wrong)[:3]})")
    return model.float().eval()


@contextmanager
def _quiet_transformers() -> Iterator[None]:
    """No "Loading weights" bar on the console (Easel reports its own progress) and no warnings about
    missing keys (they are turned into a ModelFileError instead)."""
    from transformers.utils import logging as transformers_logging

    bar, verbosity = transformers_logging.is_progress_bar_enabled(), transformers_logging.get_verbosity()
    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
    try:
        yield
    finally:
        transformers_logging.set_verbosity(verbosity)
        if bar:
            transformers_logging.enable_progress_bar()


def network_size(height: int, width: int) -> tuple[int, int]:
    """The extension's Resize(518, keep_aspect_ratio, lower_bound, multiple of 14): the side that needs the
    larger scale to reach 518 sets it, and each side is rounded to a multiple of 14 no smaller than 518."""
    scale = max(INPUT_SIDE / height, INPUT_SIDE / width)

    def fit(side: float) -> int:
        rounded = int(round(side / MULTIPLE) * MULTIPLE)
        return rounded if rounded >= INPUT_SIDE else int(math.ceil(side / MULTIPLE) * MULTIPLE)

    return fit(height * scale), fit(width * scale)


def depth_map(net: nn.Module, rgb: np.ndarray, device: str = "cpu") -> np.ndarray:
    """Relative depth (H, W) uint8 of an RGB uint8 image, near bright."""
    height, width = rgb.shape[:2]
    pixels = torch.from_numpy(np.array(rgb)).float().div(255.0).permute(2, 0, 1)[None]
    pixels = F.interpolate(pixels, size=network_size(height, width), mode="bicubic", align_corners=False)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        predicted = net(pixel_values=((pixels - mean) / std).to(device)).predicted_depth.float().cpu()
    depth = F.interpolate(predicted[:, None], size=(height, width), mode="bilinear", align_corners=False)[0, 0]
    span = float(depth.max() - depth.min())
    depth = (depth - depth.min()) / span * 255.0 if span > 0 else torch.zeros_like(depth)
    return depth.numpy().astype(np.uint8)

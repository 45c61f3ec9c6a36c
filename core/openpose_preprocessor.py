"""The openpose preprocessors' control image: detect the people in a picture, then draw them as the annotator.

As sd-webui-controlnet's openpose preprocessors (`openpose`, `openpose_hand`, `openpose_face`,
`openpose_full`): the picture (already at the processor resolution) is padded on the right and bottom to
a multiple of 64 by repeating its edge pixels (`resize_image_with_pad`), the bodies and, on request, hands
and faces detected there (`core.pose_detect`), drawn on black at that size (`core.pose_render`, the
annotator's drawing) and the padding cut off again.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from core.annotator_weights import missing_weights_error
from core.pose_detect import detect_pose, find_detector_weights, missing_files
from core.pose_render import render_pose

PAD_MULTIPLE = 64


def openpose_control_image(image: Image.Image, models_dir: Path, hands: bool, face: bool,
                           device: str = "cpu") -> Image.Image:
    """The openpose control image of `image` (RGB, the same size); ModelFileError when weights are missing.

    Body weights are always needed; `hands` needs hand_pose_model.pth, `face` facenet.pth. They are looked
    up in <models>/annotators and in an A1111 ControlNet extension's annotator/downloads/openpose.
    """
    weights = find_detector_weights(models_dir)
    missing = missing_files(weights, hands, face)
    if missing:
        raise missing_weights_error(missing[0], models_dir)
    rgb = image.convert("RGB")
    padded = pad_to_multiple(rgb, PAD_MULTIPLE)
    document = detect_pose(padded, weights, device, hands=hands, face=face)
    return render_pose(document).crop((0, 0, rgb.width, rgb.height))


def pad_to_multiple(image: Image.Image, multiple: int) -> Image.Image:
    """`image` grown right and down to sides that are multiples of `multiple`, repeating the edge pixels."""
    pixels = np.asarray(image)
    pad_h, pad_w = -pixels.shape[0] % multiple, -pixels.shape[1] % multiple
    if not (pad_h or pad_w):
        return image
    return Image.fromarray(np.pad(pixels, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge"), image.mode)

"""Inpainting as A1111 prepares and finishes it (modules/processing.py, modules/masking.py), in PIL and numpy.

Before generation: the mask is blurred; for "only masked" the region around it is cut out and scaled
to the generation size; the masked area can be pre-filled with the surrounding colours. After: the
generated image is pasted back and composited over the original with the blurred mask, so that every
pixel where the blurred mask is 0 is the original's, bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter, ImageOps

from core.image_resize import resize_image
from core.mask_ops import gaussian_blur
from core.request import GenerationRequest

Region = tuple[int, int, int, int]  # x1, y1, x2, y2, as PIL boxes: x2 and y2 excluded

# masking.fill's passes: blur radius and how many times that blur is laid over the result.
_FILL_PASSES = ((256, 1), (64, 1), (16, 2), (4, 4), (2, 2), (0, 1))


def repaint_area(mask: Image.Image, mask_mode: str) -> Image.Image:
    """The area to repaint, white: the mask itself, or its inverse for "not masked"."""
    mask = mask.convert("L")
    return ImageOps.invert(mask) if mask_mode == "not masked" else mask


def blur_mask(mask: Image.Image, radius: int) -> Image.Image:
    """A1111's mask blur, the same the canvas previews (core.mask_ops: OpenCV's Gaussian, across then down)."""
    if radius <= 0:
        return mask.convert("L")
    return Image.fromarray(gaussian_blur(np.asarray(mask.convert("L")), radius), "L")


def crop_region(mask: Image.Image, padding: int) -> Region | None:
    """The box around everything non-zero in `mask`, grown by `padding` and kept inside the image; None if blank."""
    box = mask.convert("L").getbbox()
    if box is None:
        return None
    x1, y1, x2, y2 = box
    return max(x1 - padding, 0), max(y1 - padding, 0), min(x2 + padding, mask.width), min(y2 + padding, mask.height)


def expand_crop_region(region: Region, width: int, height: int, image_width: int, image_height: int) -> Region:
    """`region` grown to the generation size's aspect ratio, shifted back inside the image where it can be.

    A1111's masking.expand_crop_region: a 128x32 region for a 512x512 generation becomes 128x128.
    """
    x1, y1, x2, y2 = region
    if (x2 - x1) / (y2 - y1) > width / height:
        y1, y2 = _grow_span(y1, y2, int((x2 - x1) * height / width - (y2 - y1)), image_height)
    else:
        x1, x2 = _grow_span(x1, x2, int((y2 - y1) * width / height - (x2 - x1)), image_width)
    return x1, y1, x2, y2


def _grow_span(start: int, end: int, grow: int, limit: int) -> tuple[int, int]:
    start, end = start - grow // 2, end + grow - grow // 2
    if end > limit:
        start, end = start - (end - limit), limit
    if start < 0:
        start, end = 0, end - start
    return start, min(end, limit)


def fill_masked(image: Image.Image, mask: Image.Image) -> Image.Image:
    """A1111's "fill": the masked area painted with ever less blurred copies of what surrounds it."""
    keep = ImageOps.invert(mask.convert("L"))
    premultiplied = Image.new("RGBa", image.size)
    premultiplied.paste(image.convert("RGBA").convert("RGBa"), mask=keep)
    result = Image.new("RGBA", image.size)
    for radius, repeats in _FILL_PASSES:
        blurred = premultiplied.filter(ImageFilter.GaussianBlur(radius)).convert("RGBA")
        for _ in range(repeats):
            result.alpha_composite(blurred)
    return result.convert("RGB")


@dataclass(frozen=True)
class PreparedInpaint:
    """What the model receives, and what is needed to put its output back into the picture."""

    image: Image.Image  # RGB at the generation size, pre-filled as `masked_content` asks
    mask: Image.Image  # L at the generation size, blurred: white is repainted
    masked_content: str
    original: Image.Image  # RGB: the picture the output is composited onto (and the output's size)
    overlay_mask: Image.Image  # L, the original's size: how much of the generated image shows
    paste_to: Region | None  # for "only masked": where the generated region goes back

    def composite(self, generated: Image.Image) -> Image.Image:
        """The generated image in the original: exactly the original wherever the overlay mask is 0."""
        if self.paste_to is not None:
            x1, y1, x2, y2 = self.paste_to
            canvas = self.original.copy()
            canvas.paste(resize_image(generated.convert("RGB"), x2 - x1, y2 - y1, "crop and resize"), (x1, y1))
            generated = canvas
        weight = np.asarray(self.overlay_mask, dtype=np.float64)[..., None] / 255.0
        new, old = np.asarray(generated.convert("RGB"), dtype=np.float64), np.asarray(self.original, dtype=np.float64)
        blended = np.rint(new * weight + old * (1.0 - weight)).astype(np.uint8)
        return Image.fromarray(blended, "RGB")


def prepare_inpaint(request: GenerationRequest, image: Image.Image, area: Image.Image) -> PreparedInpaint:
    """The model's input for repainting `area` (white, the size of `image`) of `image`, as A1111 makes it."""
    width, height = request.width, request.height
    blurred = blur_mask(area, request.mask_blur)
    region = crop_region(blurred, request.padding) if request.inpaint_area == "masked" else None
    if region is not None:
        region = expand_crop_region(region, width, height, image.width, image.height)
        original, overlay_mask = image.convert("RGB"), blurred
        model_image = resize_image(original.crop(region), width, height, "resize and fill")
        model_mask = resize_image(blurred.crop(region), width, height, "resize and fill")
    else:
        original = model_image = resize_image(image.convert("RGB"), width, height, request.resize_mode)
        model_mask = resize_image(blurred, width, height, request.resize_mode)
        # For the whole picture A1111 lets the generated image show fully already at half the blurred mask.
        overlay_mask = Image.fromarray(np.clip(np.asarray(model_mask, dtype=np.int32) * 2, 0, 255).astype(np.uint8))
    if request.masked_content != "original":
        model_image = fill_masked(model_image, model_mask)
    return PreparedInpaint(model_image, model_mask, request.masked_content, original, overlay_mask, region)

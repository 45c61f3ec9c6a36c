"""A1111's img2img resize modes (modules/images.py `resize_image`): an image brought to the generation size."""

from __future__ import annotations

from PIL import Image

LANCZOS = Image.Resampling.LANCZOS


def resize_image(image: Image.Image, width: int, height: int, mode: str = "just resize") -> Image.Image:
    """`image` at `width` x `height`, keeping its mode (RGB or L).

    just resize: stretched. crop and resize: scaled to cover the size, centred, the excess cut off.
    resize and fill: scaled to fit inside, centred, the empty bands filled by stretching the edge rows
    or columns of the image outwards.
    """
    if mode == "just resize":
        return image.resize((width, height), LANCZOS)
    if mode == "crop and resize":
        return _crop_and_resize(image, width, height)
    if mode == "resize and fill":
        return _resize_and_fill(image, width, height)
    raise ValueError(f"unknown resize mode {mode!r}")


def _crop_and_resize(image: Image.Image, width: int, height: int) -> Image.Image:
    wider_target = width / height > image.width / image.height
    scaled_w = width if wider_target else image.width * height // image.height
    scaled_h = height if not wider_target else image.height * width // image.width
    scaled = image.resize((scaled_w, scaled_h), LANCZOS)
    result = Image.new(image.mode, (width, height))
    result.paste(scaled, (width // 2 - scaled_w // 2, height // 2 - scaled_h // 2))
    return result


def _resize_and_fill(image: Image.Image, width: int, height: int) -> Image.Image:
    target_ratio, source_ratio = width / height, image.width / image.height
    scaled_w = width if target_ratio < source_ratio else image.width * height // image.height
    scaled_h = height if target_ratio >= source_ratio else image.height * width // image.width
    scaled = image.resize((scaled_w, scaled_h), LANCZOS)
    result = Image.new(image.mode, (width, height))
    left, top = width // 2 - scaled_w // 2, height // 2 - scaled_h // 2
    result.paste(scaled, (left, top))
    if target_ratio < source_ratio and top > 0:  # bands above and below
        result.paste(scaled.resize((width, top), box=(0, 0, width, 0)), (0, 0))
        bottom = height - top - scaled_h
        result.paste(scaled.resize((width, bottom), box=(0, scaled_h, width, scaled_h)), (0, top + scaled_h))
    elif target_ratio > source_ratio and left > 0:  # bands left and right
        result.paste(scaled.resize((left, height), box=(0, 0, 0, height)), (0, 0))
        right = width - left - scaled_w
        result.paste(scaled.resize((right, height), box=(scaled_w, 0, scaled_w, height)), (left + scaled_w, 0))
    return result

"""Small encoded previews of generated images, for the gallery."""

from __future__ import annotations

import io

from PIL import Image

MAX_SIDE = 256
_TRANSPARENT_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}


def thumbnail_size(size: tuple[int, int], max_side: int = MAX_SIDE) -> tuple[int, int]:
    """`size` scaled down (never up) so that its longest side is at most `max_side`."""
    width, height = size
    scale = min(1.0, max_side / max(width, height, 1))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _has_transparency(image: Image.Image) -> bool:
    return image.mode in _TRANSPARENT_MODES or "transparency" in image.info


def make_thumbnail(image: Image.Image, max_side: int = MAX_SIDE) -> bytes:
    """Encoded bytes of `image` with its longest side at most `max_side`.

    JPEG for opaque images (a tenth the size of PNG for noisy generations, and every Qt build decodes
    it); PNG when there is transparency to keep.
    """
    transparent = _has_transparency(image)
    converted = image.convert("RGBA" if transparent else "RGB")
    small = converted.resize(thumbnail_size(image.size, max_side), Image.Resampling.LANCZOS, reducing_gap=3.0)
    buffer = io.BytesIO()
    if transparent:
        small.save(buffer, format="PNG")
    else:
        small.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()

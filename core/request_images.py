"""The images a request starts from (init image, mask, outpaint canvas): read, checked, brought to size."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from core.errors import RequestError
from core.image_resize import resize_image
from core.inpaint import PreparedInpaint, prepare_inpaint, repaint_area
from core.outpaint import extend_canvas
from core.request import GenerationRequest, Mode
from core.sizes import round_to_multiple_of_8

MASK_HINT = "A mask is an image the size of the init image: white where to repaint, black where to keep."
# Mask and image of slightly different shapes (a side off by a pixel or two after a resize) still match.
ASPECT_TOLERANCE = 0.01


@dataclass(frozen=True)
class StartImages:
    request: GenerationRequest  # with the size it will really generate at (outpainting sets it)
    init_image: Image.Image | None  # RGB at the generation size, what the pipeline starts from
    inpaint: PreparedInpaint | None = None
    notices: list[str] = field(default_factory=list)


def _open_image(path: Path, what: str, hint: str) -> Image.Image:
    try:
        with Image.open(path) as image:
            image.load()
            return image.copy()
    except (OSError, ValueError) as error:
        raise RequestError(f"The {what} {path} could not be opened: {error}.", hint=hint) from error


def read_init_image(path: Path) -> Image.Image:
    return _open_image(path, "init image", "Choose a PNG, JPEG or WebP image.").convert("RGB")


def _as_mask(image: Image.Image) -> Image.Image:
    """As A1111 reads a mask: the alpha channel of an image that has transparency, else its grey levels."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        alpha = image.convert("RGBA").getchannel("A")
        if alpha.getextrema() != (255, 255):
            return alpha.point(lambda value: 255 if value > 128 else 0)
    return image.convert("L")


def read_mask(path: Path, image_size: tuple[int, int]) -> tuple[Image.Image, str | None]:
    """The mask as grey levels at `image_size`; one of the same shape but another size is resized, and said so."""
    mask = _as_mask(_open_image(path, "mask", MASK_HINT))
    if mask.size == image_size:
        return mask, None
    (mask_w, mask_h), (image_w, image_h) = mask.size, image_size
    if abs(mask_w / mask_h - image_w / image_h) > ASPECT_TOLERANCE * image_w / image_h:
        raise RequestError(
            f"The mask {path.name} is {mask_w}x{mask_h} but the init image is {image_w}x{image_h}: "
            "they do not have the same shape.",
            hint="Paint the mask over the init image, or export it at the init image's size.",
        )
    notice = f"The mask {path.name} ({mask_w}x{mask_h}) was resized to the init image's {image_w}x{image_h}."
    return resize_image(mask, image_w, image_h), notice


def _check_something_to_repaint(area: Image.Image, request: GenerationRequest) -> None:
    if area.getextrema()[1] > 0:
        return
    name = request.mask.name if request.mask else "mask"
    if request.mask_mode == "not masked":
        raise RequestError(f"The mask {name} is all white and the mask mode is \"not masked\": nothing to repaint.",
                           hint="That mode repaints the black area: paint the area to keep in white.")
    raise RequestError(f"The mask {name} is all black: nothing to repaint.",
                       hint="Paint the area to change in white.")


def _inpaint(request: GenerationRequest, init: Image.Image) -> StartImages:
    notices: list[str] = []
    area = None
    if request.mask is not None:
        mask, notice = read_mask(request.mask, init.size)
        notices += [notice] if notice else []
        area = repaint_area(mask, request.mask_mode)
    if request.outpaint:
        canvas = extend_canvas(init, area, request.outpaint)
        init, area = canvas.image, canvas.area
        notices += [canvas.notice] if canvas.notice else []
        if request.inpaint_area == "whole":  # the output is the whole new canvas, generated at its size
            rounded = round_to_multiple_of_8(init.width, init.height)
            notices += [rounded.notice] if rounded.notice else []
            if (rounded.width, rounded.height) != (request.width, request.height):
                notices.append(f"Outpainting generates at the new canvas size, {rounded.width}x{rounded.height}.")
            request = request.replace(width=rounded.width, height=rounded.height)
    assert area is not None  # a request without mask or outpaint is refused before
    _check_something_to_repaint(area, request)
    inpaint = prepare_inpaint(request, init, area)
    return StartImages(request, inpaint.image, inpaint, notices)


def start_images(request: GenerationRequest) -> StartImages:
    """Read what `request` starts from; RequestError with a message a person can act on if it cannot be used."""
    if request.mode is Mode.TXT2IMG or request.init_image is None:
        return StartImages(request, None)
    init = read_init_image(request.init_image)
    if request.mode is Mode.INPAINT:
        return _inpaint(request, init)
    return StartImages(request, resize_image(init, request.width, request.height, request.resize_mode))

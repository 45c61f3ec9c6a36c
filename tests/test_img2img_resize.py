"""Img2img's resize modes as A1111's (just resize, crop and resize, resize and fill), and the request's new fields."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from core.events import Failed
from core.image_resize import resize_image
from core.request import GenerationRequest, Mode
from tests.models import Recorder, tiny_request

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def striped(width: int = 128, height: int = 64) -> Image.Image:
    """Red first quarter, green middle half, blue last quarter, across."""
    image = Image.new("RGB", (width, height), GREEN)
    image.paste(RED, (0, 0, width // 4, height))
    image.paste(BLUE, (width * 3 // 4, 0, width, height))
    return image


def colour_share(image: Image.Image, colour: tuple[int, int, int]) -> float:
    pixels = np.asarray(image, dtype=np.int16)
    return float((np.abs(pixels - colour).max(axis=2) < 40).mean())


def test_just_resize_stretches_the_whole_image():
    result = resize_image(striped(), 64, 64, "just resize")
    assert result.size == (64, 64)
    assert colour_share(result, RED) == pytest.approx(0.25, abs=0.05)
    assert colour_share(result, BLUE) == pytest.approx(0.25, abs=0.05)


def test_crop_and_resize_keeps_the_aspect_by_cutting_the_sides_off():
    result = resize_image(striped(), 64, 64, "crop and resize")
    assert result.size == (64, 64)
    assert colour_share(result, GREEN) > 0.95  # the red and blue quarters were the excess


def test_resize_and_fill_keeps_everything_and_stretches_the_edges_into_the_bands():
    image = striped()
    image.paste((250, 250, 0), (0, 0, 128, 2))  # a yellow top edge
    result = np.asarray(resize_image(image, 64, 64, "resize and fill"), dtype=np.int16)
    # 128x64 fits as 64x32 in the middle; the 16 rows above and below stretch its top and bottom edges.
    assert np.abs(result[16:48, :] - np.asarray(image.resize((64, 32), Image.Resampling.LANCZOS))).max() == 0
    assert (result[:16] == result[0]).all() and (result[48:] == result[63]).all()
    assert np.abs(result[0] - result[16]).max() < 40 and np.abs(result[63] - result[47]).max() < 40
    assert np.abs(result[0, 32] - (250, 250, 0)).max() < 40


def test_resize_and_fill_pads_left_and_right_for_a_tall_image():
    tall = striped(64, 128).transpose(Image.Transpose.ROTATE_90)  # 128 high, 64 wide
    result = np.asarray(resize_image(tall, 64, 64, "resize and fill"), dtype=np.int16)
    assert (result[:, :16] == result[:, :1]).all() and (result[:, 48:] == result[:, 63:]).all()
    assert np.abs(result[:, 0] - result[:, 16]).max() < 40


def test_masks_keep_their_grey_mode():
    mask = Image.new("L", (100, 50), 255)
    for mode in ("just resize", "crop and resize", "resize and fill"):
        assert resize_image(mask, 64, 64, mode).mode == "L"


def test_the_engine_brings_the_init_image_to_the_size_by_the_resize_mode(shared_engine, tiny_models, tmp_path):
    init = tmp_path / "wide.png"
    striped().save(init)
    request = tiny_request(tiny_models["sd1"], mode=Mode.IMG2IMG, init_image=init, denoising_strength=0.7)
    images = {}
    for mode in ("just resize", "crop and resize", "resize and fill", "just resize again"):
        events = Recorder()
        resize_mode = mode.removesuffix(" again")
        [done] = shared_engine.generate(request.replace(resize_mode=resize_mode), events, output_dir=tmp_path)
        assert not events.of(Failed)
        assert done.image.size == (64, 64)
        assert "Resize mode" not in done.infotext  # A1111 does not record it
        images[mode] = np.asarray(done.image, dtype=np.int16)
    # The tiny random model follows its init image only faintly, but the same seed with another mode differs.
    assert np.array_equal(images["just resize"], images["just resize again"])
    assert np.abs(images["just resize"] - images["crop and resize"]).mean() > 0.5
    assert np.abs(images["crop and resize"] - images["resize and fill"]).mean() > 0.5


def test_an_unknown_resize_mode_is_refused(shared_engine, tiny_models, tmp_path):
    events = Recorder()
    shared_engine.generate(tiny_request(tiny_models["sd1"], resize_mode="stretch"), events, output_dir=tmp_path)
    assert "Unknown resize mode" in events.of(Failed)[0].message


def test_new_request_fields_round_trip_through_json_and_old_json_still_loads(tmp_path):
    request = GenerationRequest(model="m", mode=Mode.INPAINT, init_image=tmp_path / "i.png", mask=tmp_path / "m.png",
                                mask_blur=8, mask_mode="not masked", masked_content="latent nothing",
                                inpaint_area="masked", padding=16, resize_mode="resize and fill",
                                outpaint=(0, 64, 0, 32))
    data = json.loads(json.dumps(request.to_json_dict()))
    assert data["mask"] == str(tmp_path / "m.png") and data["outpaint"] == [0, 64, 0, 32]
    assert GenerationRequest.from_json_dict(data) == request
    old = {"model": "m", "mode": "img2img", "init_image": "a.png", "steps": 5}
    loaded = GenerationRequest.from_json_dict(old)
    assert (loaded.mask, loaded.outpaint, loaded.resize_mode, loaded.mask_blur) == (None, None, "just resize", 4)

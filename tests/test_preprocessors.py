"""ControlNet preprocessors and control-image fitting, on pictures whose right answer is known."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from core.canny import canny
from core.control_images import fit_to_size, pixel_perfect_resolution
from core.errors import EaselError, RequestError
from core.preprocessors import canonical_preprocessor, inpaint_hint, run_preprocessor


def square(size: int = 64, box: tuple[int, int, int, int] = (16, 16, 47, 47), fill: int = 255,
           background: int = 0) -> Image.Image:
    image = Image.new("RGB", (size, size), (background,) * 3)
    ImageDraw.Draw(image).rectangle(box, fill=(fill,) * 3)
    return image


def edges_of(image: Image.Image, **thresholds: float) -> np.ndarray:
    result = run_preprocessor("canny", image, resolution=min(image.size), **thresholds)
    return np.asarray(result)[:, :, 0] > 0


def test_canny_finds_the_outline_of_a_square_and_nothing_in_flat_areas():
    edges = edges_of(square())  # white 16..47 on black
    rows, cols = np.nonzero(edges)
    # The outline: a closed ring on the square's border pixels (one side of the step), nothing inside or out.
    assert rows.min() in (15, 16) and rows.max() in (47, 48) and cols.min() in (15, 16) and cols.max() in (47, 48)
    assert not edges[:14].any() and not edges[50:].any() and not edges[:, :14].any() and not edges[:, 50:].any()
    assert not edges[19:45, 19:45].any()  # flat inside
    for line in (edges[:, 30], edges[30, :]):  # every scan line crosses the outline twice, thinly
        crossings = np.nonzero(line)[0]
        assert len(crossings) == 2 and crossings[1] - crossings[0] >= 30
    assert edges[16, 20:44].all() or edges[15, 20:44].all()  # a side is one unbroken line


# cv2.Canny(image, 150, 300) of the noise image below, as OpenCV 5.0 (opencv-python-headless) computes it,
# each row packed into bits (numpy.packbits): the implementation is a port, so it must agree to the pixel.
OPENCV_CANNY_OF_NOISE = [[203, 242], [34, 211], [182, 96], [3, 3], [128, 240], [128, 134], [199, 161], [36, 40],
                         [153, 155], [64, 229], [16, 9], [201, 223]]


def test_canny_matches_opencv_to_the_pixel():
    noise = np.random.default_rng(2024).integers(0, 256, (12, 16, 3), dtype=np.uint8)
    expected = np.unpackbits(np.array(OPENCV_CANNY_OF_NOISE, dtype=np.uint8), axis=1).astype(bool)
    assert np.array_equal(canny(noise, 150, 300) > 0, expected)


def test_canny_thresholds_decide_which_edges_survive():
    faint = square(fill=30)  # a weak step: Sobel L1 magnitude (1 + 2 + 1) * 30 = 120 along the sides
    assert edges_of(faint, threshold_a=100, threshold_b=110).sum() > 100  # above both: the outline
    assert not edges_of(faint, threshold_a=100, threshold_b=200).any()  # above low only, nothing strong to link to
    below = edges_of(faint, threshold_a=130, threshold_b=140)  # the sides are below the low threshold
    assert not below[20:44].any() and not below[:, 20:44].any()  # (corners, with |dx| + |dy| = 180, stay)
    assert edges_of(square(fill=60)).sum() > 100  # 240: A1111's defaults 100/200 see it


def test_canny_hysteresis_keeps_weak_edges_only_when_connected_to_strong_ones():
    image = np.zeros((40, 80), np.uint8)
    image[10:30, 5:30] = 200  # strong square
    image[10:30, 45:70] = 40  # faint square, not touching it
    edges = canny(image, 100, 300)
    assert edges[:, :35].any()  # strong: 4 * 200 = 800 > 300
    assert not edges[:, 40:].any()  # faint: 160 > 100 but linked to nothing above 300


def test_canny_on_colour_uses_the_strongest_channel():
    image = np.zeros((32, 32, 3), np.uint8)
    image[8:24, 8:24, 2] = 255  # blue square: no change in red or green
    assert canny(image, 100, 200).any()


def test_threshold_and_scribble_give_black_and_white_maps():
    gradient = Image.fromarray(np.tile(np.arange(0, 256, 4, dtype=np.uint8), (64, 1)), "L").convert("RGB")
    binary = np.asarray(run_preprocessor("threshold", gradient, threshold_a=127, resolution=64))
    assert set(np.unique(binary)) == {0, 255}
    assert (binary[:, :32] == 0).all() and (binary[:, 33:] == 255).all()  # brighter than 127 -> white
    scribble = np.asarray(run_preprocessor("scribble", square(background=255, fill=0), resolution=64))
    assert set(np.unique(scribble)) <= {0, 255} and scribble.any()
    assert not scribble[0:8, 0:8].any()  # flat paper stays black


def test_invert_turns_black_lines_on_white_into_white_on_black():
    drawing = square(background=255, fill=0)
    inverted = np.asarray(run_preprocessor("invert", drawing))
    assert np.array_equal(inverted, 255 - np.asarray(drawing))


def test_shuffle_keeps_size_and_colours_moves_content_and_follows_the_seed():
    halves = np.zeros((64, 64, 3), np.uint8)
    halves[:, :32] = (255, 0, 0)
    halves[:, 32:] = (0, 0, 255)
    image = Image.fromarray(halves)
    first = np.asarray(run_preprocessor("shuffle", image, resolution=64, seed=1), dtype=np.int16)
    again = np.asarray(run_preprocessor("shuffle", image, resolution=64, seed=1), dtype=np.int16)
    other = np.asarray(run_preprocessor("shuffle", image, resolution=64, seed=2), dtype=np.int16)
    assert first.shape == (64, 64, 3) and np.array_equal(first, again) and not np.array_equal(first, other)
    assert not np.array_equal(first, halves)
    assert (first[:, :, 1] == 0).all()  # only the picture's own colours, mixed: never green
    assert (first[:, :, 0] + first[:, :, 2] >= 254).all()


def test_tile_shrinks_by_the_rate_and_keeps_small_rates_unchanged():
    image = square(size=64)
    assert run_preprocessor("tile", image, threshold_a=4).size == (16, 16)
    assert run_preprocessor("tile", image, threshold_a=1.0).size == (64, 64)


def test_processor_resolution_sets_the_short_side():
    wide = Image.new("RGB", (200, 100))
    assert run_preprocessor("canny", wide, resolution=64).size == (128, 64)


def test_inpaint_hint_marks_masked_pixels_minus_one():
    image = Image.new("RGB", (8, 8), (255, 0, 0))
    mask = Image.new("L", (8, 8), 0)
    mask.paste(255, (0, 0, 4, 8))
    hint = inpaint_hint(image, mask)
    assert hint.shape == (8, 8, 3) and hint.dtype == np.float32
    assert (hint[:, :4] == -1).all() and np.allclose(hint[:, 4:], (1.0, 0.0, 0.0))


@pytest.mark.parametrize("name, file", [("depth", "model.safetensors"), ("lineart", "sk_model.pth"),
                                        ("softedge", "ControlNetHED.pth"), ("normal", "scannet.pt"),
                                        ("openpose", "body_pose_model.pth")])
def test_preprocessors_that_need_weights_say_which_file_and_where_it_goes(tmp_path, name, file):
    from core.annotators.session import AnnotatorSession

    with pytest.raises(EaselError) as raised:
        run_preprocessor(name, square(), annotators=AnnotatorSession([tmp_path]))
    assert file in raised.value.message or file in raised.value.hint
    if name != "openpose":  # helper-written detector: its own message
        assert str(tmp_path / "annotators") in raised.value.hint and "huggingface.co/" in raised.value.hint


def test_unknown_preprocessor_lists_the_known_ones():
    with pytest.raises(RequestError, match="Unknown preprocessor"):
        run_preprocessor("sharpen", square())
    assert canonical_preprocessor("tile_resample") == "tile"
    assert canonical_preprocessor("invert (from white bg & black line)") == "invert"


def test_fit_modes_place_the_control_map_as_the_extension_does():
    wide = Image.new("RGB", (128, 64), (0, 0, 0))
    ImageDraw.Draw(wide).rectangle((0, 0, 31, 63), fill=(255, 255, 255))  # white left quarter
    just = np.asarray(fit_to_size(wide, 64, 64, "Just Resize"))
    crop = np.asarray(fit_to_size(wide, 64, 64, "Crop and Resize"))
    fill = np.asarray(fit_to_size(wide, 64, 64, "Resize and Fill"))
    assert just.shape == crop.shape == fill.shape == (64, 64, 3)
    assert just[:, :14].min() == 255 and just[:, 18:].max() == 0  # squeezed: the quarter stays a quarter
    assert crop.max() == 0  # the centre half of the picture: the white quarter is cut off
    assert fill[:16].max() == 0 and fill[16:48, :14].min() == 255  # whole picture, black (median border) bands


def test_pixel_perfect_resolution_maps_one_pixel_to_one_pixel():
    image = Image.new("RGB", (256, 128))
    assert pixel_perfect_resolution(image, 512, 512, "Crop and Resize") == 512  # scale 4 x short side 128
    assert pixel_perfect_resolution(image, 512, 512, "Resize and Fill") == 256  # scale 2


def test_lineart_standard_turns_dark_lines_on_white_into_bright_lines_on_black():
    page = Image.new("RGB", (96, 64), "white")
    ImageDraw.Draw(page).line((10, 32, 86, 32), fill="black", width=2)
    lines = np.asarray(run_preprocessor("lineart_standard", page, resolution=64))
    assert lines.shape == (64, 96, 3)
    line = lines[32:34, 20:76]  # rows 32 and 33
    assert 110 <= line.min() and line.max() <= 140  # about 127: the lines are scaled by their median strength
    assert lines[:30].max() == 0 and lines[36:].max() == 0  # white around it, darker than nothing
    assert canonical_preprocessor("lineart_standard (from white bg & black line)") == "lineart_standard"

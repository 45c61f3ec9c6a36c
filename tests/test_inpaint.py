"""Inpainting and outpainting as A1111 does them: region math, pre-fill, composite, engine, infotext, CLI."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from core.cli import main
from core.errors import RequestError
from core.events import Failed, ImageDone, ModelLoading, Started
from core.infotext import infotext_for_request, parse_infotext, request_fields_from_infotext
from core.inpaint import blur_mask, crop_region, expand_crop_region, fill_masked, prepare_inpaint
from core.outpaint import extend_canvas
from core.request import GenerationRequest, Mode
from tests.models import Recorder, tiny_request


def noise_image(width: int, height: int, seed: int = 0) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels, "RGB")


def square_mask(size: tuple[int, int], box: tuple[int, int, int, int]) -> Image.Image:
    mask = Image.new("L", size, 0)
    mask.paste(255, box)
    return mask


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def dilate(area: np.ndarray, radius: int) -> np.ndarray:
    """Every pixel within `radius` (a square) of a true pixel."""
    height, width = area.shape
    padded = np.pad(area, radius)
    grown = np.zeros_like(area)
    for dy in range(2 * radius + 1):
        for dx in range(2 * radius + 1):
            grown |= padded[dy:dy + height, dx:dx + width]
    return grown


def blur_reach(blur: int) -> int:
    """How far A1111's mask blur spreads (its kernel radius), plus 2 px of margin."""
    return int(2.5 * blur + 0.5) + 2 if blur else 2


def untouched(painted: np.ndarray, blur: int) -> np.ndarray:
    return ~dilate(painted, blur_reach(blur))


def save(image: Image.Image, path):  # type: ignore[no-untyped-def]
    image.save(path)
    return path


# --- region math, blur, pre-fill, canvas: pure functions --------------------------------------------------------


def test_expand_crop_region_grows_to_the_generation_aspect_as_a1111_documents():
    assert expand_crop_region((10, 10, 138, 42), 512, 512, 512, 512) == (10, 0, 138, 128)  # 128x32 -> 128x128


def test_crop_region_at_the_top_left_border_stays_inside_the_image():
    mask = square_mask((96, 80), (0, 0, 8, 8))
    region = crop_region(mask, 32)
    assert region == (0, 0, 40, 40)
    assert expand_crop_region(region, 64, 64, 96, 80) == (0, 0, 40, 40)
    assert expand_crop_region(region, 64, 32, 96, 80) == (0, 0, 80, 40)  # widened to 2:1, pushed right


def test_crop_region_at_the_bottom_right_border_is_shifted_back_inside():
    mask = square_mask((96, 80), (88, 72, 96, 80))
    region = crop_region(mask, 32)
    assert region == (56, 40, 96, 80)
    x1, y1, x2, y2 = expand_crop_region(region, 64, 32, 96, 80)
    assert (x1, y1, x2, y2) == (16, 40, 96, 80)
    assert (x2 - x1) == 2 * (y2 - y1)


def test_a_region_larger_than_the_image_is_clipped_to_it():
    mask = square_mask((64, 32), (0, 0, 64, 32))
    assert expand_crop_region(crop_region(mask, 8), 64, 64, 64, 32) == (0, 0, 64, 32)


def test_a_blank_mask_has_no_crop_region():
    assert crop_region(Image.new("L", (32, 32)), 8) is None


def test_mask_blur_spreads_as_far_as_a1111s_kernel_and_no_further():
    mask = square_mask((64, 64), (24, 24, 40, 40))
    blurred = np.asarray(blur_mask(mask, 4))
    columns = np.nonzero(blurred[32])[0]
    assert (columns.min(), columns.max()) == (24 - 10, 39 + 10)  # kernel radius int(2.5 * 4 + 0.5) = 10
    assert blurred[32, 32] > 200 and blurred[32, 24] < 160
    assert np.array_equal(np.asarray(blur_mask(mask, 0)), np.asarray(mask))


def test_fill_paints_the_masked_area_with_the_surrounding_colour():
    image = Image.new("RGB", (64, 64), (20, 160, 40))
    image.paste((250, 0, 0), (24, 24, 40, 40))
    mask = square_mask((64, 64), (24, 24, 40, 40))
    filled = pixels(fill_masked(image, mask))
    assert np.abs(filled[24:40, 24:40] - (20, 160, 40)).max() <= 4  # the red square is gone, green instead
    outside = np.asarray(mask) == 0
    assert np.array_equal(filled[outside], pixels(image)[outside])


def test_outpaint_canvas_grows_by_the_sides_rounded_up_to_8_and_masks_the_new_area():
    image = noise_image(64, 64)
    canvas = extend_canvas(image, None, (8, 0, 0, 12))
    assert canvas.image.size == (72, 80) and canvas.sides == (8, 0, 0, 16)
    assert "rounded up to 72x80" in canvas.notice
    area = np.asarray(canvas.area)
    assert (area[:, :8] == 255).all() and (area[64:, :] == 255).all() and (area[:64, 8:] == 0).all()
    grown = pixels(canvas.image)
    assert np.array_equal(grown[:64, 8:], pixels(image))
    assert np.array_equal(grown[:64, 0], pixels(image)[:, 0])  # the edge stretched outwards
    assert np.array_equal(grown[79, 8:], pixels(image)[63])


@pytest.mark.parametrize("sides", [(0, 0, 0, 0), (-8, 0, 0, 0)])
def test_outpaint_sides_that_add_nothing_are_refused(sides):
    with pytest.raises(RequestError, match="Outpaint"):
        extend_canvas(noise_image(8, 8), None, sides)


@pytest.mark.parametrize("area", ["whole", "masked"])
def test_the_composite_keeps_every_pixel_outside_the_blurred_mask(area):
    image = noise_image(96, 80)
    painted = np.zeros((80, 96), bool)
    painted[60:76, 70:90] = True
    request = GenerationRequest(model="m", width=96 if area == "whole" else 64, height=80 if area == "whole" else 64,
                                inpaint_area=area, padding=4, mask_blur=3)
    prepared = prepare_inpaint(request, image, Image.fromarray(painted.astype(np.uint8) * 255))
    result = pixels(prepared.composite(Image.new("RGB", prepared.mask.size, (255, 0, 255))))
    assert result.shape[:2] == (80, 96)
    keep = untouched(painted, 3)
    assert np.array_equal(result[keep], pixels(image)[keep])
    assert np.abs(result[66:70, 78:82] - (255, 0, 255)).max() <= 2  # resampling may round a level off


# --- the engine with tiny models ---------------------------------------------------------------------------------


def inpaint_request(model, tmp_path, mask: Image.Image, image: Image.Image | None = None,  # type: ignore[no-untyped-def]
                    **changes):
    image = image or noise_image(*mask.size)
    init = save(image, tmp_path / "init.png")
    size = {"width": image.width, "height": image.height}
    return tiny_request(model, mode=Mode.INPAINT, init_image=init, mask=save(mask, tmp_path / "mask.png"),
                        **{**size, **changes})


def generate_one(engine, request, tmp_path) -> tuple[ImageDone, Recorder]:  # type: ignore[no-untyped-def]
    events = Recorder()
    done = engine.generate(request, events, output_dir=tmp_path / "out")
    assert not events.of(Failed), events.of(Failed)
    return done[0], events


@pytest.mark.parametrize("name", ["sd1", "sd1-inpaint"])
def test_inpainting_changes_the_masked_area_and_not_one_pixel_outside_the_blurred_mask(
        shared_engine, tiny_models, tmp_path, name):
    mask = square_mask((64, 64), (24, 24, 40, 40))
    request = inpaint_request(tiny_models[name], tmp_path, mask)
    done, _ = generate_one(shared_engine, request, tmp_path)
    before, after = pixels(Image.open(request.init_image)), pixels(done.image)
    keep = untouched(np.asarray(mask) > 0, request.mask_blur)
    assert keep.sum() > 1000
    assert np.array_equal(after[keep], before[keep])
    assert np.abs(after[28:36, 28:36] - before[28:36, 28:36]).mean() > 10
    assert "Mask blur: 4" in done.infotext and "Denoising strength: 0.75" in done.infotext
    assert "Inpaint area" not in done.infotext and "Masked content" not in done.infotext


def test_inpainting_reuses_the_loaded_weights(shared_engine, tiny_models, tmp_path):
    model = tiny_models["sd1"]
    shared_engine.generate(tiny_request(model), Recorder(), output_dir=tmp_path)
    loads = shared_engine.load_count
    _, events = generate_one(shared_engine, inpaint_request(model, tmp_path, square_mask((64, 64), (8, 8, 24, 24))),
                             tmp_path)
    assert shared_engine.load_count == loads and not events.of(ModelLoading)


def test_not_masked_mode_repaints_everything_but_the_mask(shared_engine, tiny_models, tmp_path):
    mask = square_mask((64, 64), (12, 12, 52, 52))
    request = inpaint_request(tiny_models["sd1"], tmp_path, mask, mask_mode="not masked", mask_blur=2)
    done, _ = generate_one(shared_engine, request, tmp_path)
    before, after = pixels(Image.open(request.init_image)), pixels(done.image)
    kept = untouched(np.asarray(mask) == 0, 2)  # the inside of the white square, away from its blurred edge
    assert kept.sum() >= 24 * 24
    assert np.array_equal(after[kept], before[kept])
    assert np.abs(after[:6] - before[:6]).mean() > 10
    assert "Mask mode: Inpaint not masked" in done.infotext


def test_only_masked_at_the_image_border_keeps_the_size_and_everything_outside_the_region(
        shared_engine, tiny_models, tmp_path):
    image = noise_image(96, 80, seed=3)
    mask = square_mask((96, 80), (84, 68, 96, 80))  # the bottom-right corner
    request = inpaint_request(tiny_models["sd1"], tmp_path, mask, image, width=64, height=64,
                              inpaint_area="masked", padding=8, mask_blur=2)
    done, _ = generate_one(shared_engine, request, tmp_path)
    before, after = pixels(image), pixels(done.image)
    assert done.image.size == (96, 80)
    x1, y1, x2, y2 = expand_crop_region(crop_region(blur_mask(mask, 2), 8), 64, 64, 96, 80)
    outside_region = np.ones((80, 96), bool)
    outside_region[y1:y2, x1:x2] = False
    assert outside_region.sum() > 0 and np.array_equal(after[outside_region], before[outside_region])
    keep = untouched(np.asarray(mask) > 0, 2)
    assert np.array_equal(after[keep], before[keep])
    assert np.abs(after[72:80, 88:96] - before[72:80, 88:96]).mean() > 10
    assert "Inpaint area: Only masked, Masked area padding: 8" in done.infotext
    assert "Size: 64x64" in done.infotext  # A1111 records the size it generated at


def test_each_masked_content_runs_and_starts_from_something_else(shared_engine, tiny_models, tmp_path):
    mask = square_mask((64, 64), (16, 16, 48, 48))
    base = inpaint_request(tiny_models["sd1"], tmp_path, mask, mask_blur=2, denoising_strength=0.6)
    before = pixels(Image.open(base.init_image))
    keep = untouched(np.asarray(mask) > 0, 2)
    results = {}
    for content in ("original", "fill", "latent noise", "latent nothing"):
        done, _ = generate_one(shared_engine, base.replace(masked_content=content), tmp_path)
        results[content] = pixels(done.image)
        assert np.array_equal(results[content][keep], before[keep]), content
        assert (f"Masked content: {content}" in done.infotext) == (content != "original")
    inside = (slice(20, 44), slice(20, 44))
    names = list(results)
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            assert np.abs(results[first][inside] - results[second][inside]).mean() > 2, (first, second)


@pytest.mark.parametrize("name, content", [("sd1-inpaint", "latent noise"), ("sdxl", "latent nothing"),
                                           ("sdxl-inpaint", "fill")])
def test_latent_contents_and_sdxl_inpaint_with_both_kinds_of_checkpoint(tiny_models, tmp_path, name, content):
    from tests.models import make_engine

    mask = square_mask((64, 64), (16, 16, 48, 48))
    request = inpaint_request(tiny_models[name], tmp_path, mask, masked_content=content, mask_blur=2)
    done, _ = generate_one(make_engine(tmp_path / "home"), request, tmp_path)
    before, after = pixels(Image.open(request.init_image)), pixels(done.image)
    keep = untouched(np.asarray(mask) > 0, 2)
    assert np.array_equal(after[keep], before[keep])
    assert np.abs(after[24:40, 24:40] - before[24:40, 24:40]).mean() > 10


def test_outpainting_grows_the_image_and_keeps_the_original_pixels(shared_engine, tiny_models, tmp_path):
    image = noise_image(64, 64, seed=5)
    init = save(image, tmp_path / "init.png")
    request = tiny_request(tiny_models["sd1"], mode=Mode.INPAINT, init_image=init, outpaint=(8, 0, 0, 12),
                           mask_blur=2)
    done, events = generate_one(shared_engine, request, tmp_path)
    assert done.image.size == (72, 80)
    assert any("rounded up to 72x80" in notice for notice in events.of(Started)[0].notices)
    after = pixels(done.image)
    new_area = np.ones((80, 72), bool)
    new_area[:64, 8:] = False
    keep = untouched(new_area, 2)[:64, 8:]  # the original's pixels away from the new area's blurred edge
    assert keep.sum() > 1500
    assert np.array_equal(after[:64, 8:][keep], pixels(image)[keep])
    assert np.abs(after[66:, 8:].astype(float) - pixels(image)[63]).mean() > 10  # the new area is painted
    assert "Size: 72x80" in done.infotext


@pytest.mark.parametrize("make_mask, message", [
    (lambda path: Image.new("L", (64, 64), 0).save(path), "all black: nothing to repaint"),
    (lambda path: path.write_text("not an image"), "could not be opened"),
    (lambda path: Image.new("L", (64, 32), 255).save(path), "not have the same shape"),
])
def test_unusable_masks_are_refused_with_a_message(shared_engine, tiny_models, tmp_path, make_mask, message):
    mask = tmp_path / "mask.png"
    make_mask(mask)
    init = save(noise_image(64, 64), tmp_path / "init.png")
    events = Recorder()
    shared_engine.generate(tiny_request(tiny_models["sd1"], mode=Mode.INPAINT, init_image=init, mask=mask),
                           events, output_dir=tmp_path)
    [failed] = events.of(Failed)
    assert message in failed.message and failed.hint
    assert not events.of(ImageDone)


def test_not_masked_with_an_all_white_mask_is_refused(shared_engine, tiny_models, tmp_path):
    request = inpaint_request(tiny_models["sd1"], tmp_path, Image.new("L", (64, 64), 255), mask_mode="not masked")
    events = Recorder()
    shared_engine.generate(request, events, output_dir=tmp_path)
    assert "nothing to repaint" in events.of(Failed)[0].message


# --- infotext ----------------------------------------------------------------------------------------------------


def test_inpaint_fields_are_written_in_a1111s_order_and_read_back():
    request = GenerationRequest(model="m", mode=Mode.INPAINT, mask_mode="not masked", mask_blur=6,
                                inpaint_area="masked", padding=16, masked_content="latent noise",
                                denoising_strength=0.6, clip_skip=2)
    text = infotext_for_request(request, 1, "model", None)
    assert ("Denoising strength: 0.6, Clip skip: 2, Mask mode: Inpaint not masked, Mask blur: 6, "
            "Inpaint area: Only masked, Masked area padding: 16, Masked content: latent noise, Version:") in text
    fields = request_fields_from_infotext(parse_infotext(text))
    assert {name: fields[name] for name in ("mask_mode", "mask_blur", "inpaint_area", "padding", "masked_content")} \
        == {"mask_mode": "not masked", "mask_blur": 6, "inpaint_area": "masked", "padding": 16,
            "masked_content": "latent noise"}


def test_defaults_a1111_leaves_out_are_read_as_defaults():
    text = ("a cat\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x512, Denoising strength: 0.75, "
            "Mask blur: 4, Version: v1.10.1")
    fields = request_fields_from_infotext(parse_infotext(text))
    assert (fields["mask_blur"], fields["mask_mode"], fields["inpaint_area"], fields["masked_content"]) == (
        4, "masked", "whole", "original")
    plain = request_fields_from_infotext(parse_infotext(text.replace("Mask blur: 4, ", "")))
    assert "mask_blur" not in plain and "masked_content" not in plain


def test_img2img_and_default_inpaint_write_no_inpaint_fields():
    img2img = infotext_for_request(GenerationRequest(model="m", mode=Mode.IMG2IMG, resize_mode="crop and resize"),
                                   1, "m", None)
    assert "Mask" not in img2img and "Resize mode" not in img2img  # A1111 writes no resize mode either
    default = infotext_for_request(GenerationRequest(model="m", mode=Mode.INPAINT), 1, "m", None)
    assert "Mask blur: 4" in default and "Inpaint area" not in default and "Mask mode" not in default


# --- the command line --------------------------------------------------------------------------------------------


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def cli_args(model, tmp_path, *extra: str) -> list[str]:  # type: ignore[no-untyped-def]
    init = save(noise_image(64, 64), tmp_path / "init.png")
    return ["generate", "--model", str(model.checkpoint), "--model-config", str(model.config_dir),
            "--prompt", "a door", "--steps", "3", "--seed", "7", "--sampler", "Euler",
            "--init-image", str(init), "--out", str(tmp_path / "out"), "--quiet", *extra]


def test_cli_inpaints_with_the_flags_and_records_them(tiny_models, tmp_path):
    mask = save(square_mask((64, 64), (40, 40, 64, 64)), tmp_path / "mask.png")
    code, out, err = run_cli(*cli_args(tiny_models["sd1"], tmp_path, "--mask", str(mask), "--mask-blur", "2",
                                       "--inpaint-area", "masked", "--padding", "8", "--masked-content", "fill"))
    assert code == 0, err
    from core.images import read_png_text

    written = Image.open(out.strip())
    assert written.size == (64, 64)  # no --width/--height: the init image's size
    text = read_png_text(out.strip())["parameters"]
    assert "Mask blur: 2, Inpaint area: Only masked, Masked area padding: 8, Masked content: fill" in text
    keep = untouched(np.asarray(Image.open(mask)) > 0, 2)
    assert np.array_equal(pixels(written)[keep], pixels(Image.open(tmp_path / "init.png"))[keep])


def test_cli_outpaints_and_resizes_a_mask_of_the_same_shape(tiny_models, tmp_path):
    mask = save(square_mask((128, 128), (0, 0, 32, 32)), tmp_path / "mask.png")
    code, out, err = run_cli(*cli_args(tiny_models["sd1"], tmp_path, "--mask", str(mask), "--outpaint", "0,8,0,0",
                                       "--mask-mode", "masked", "--masked-content", "latent-nothing"))
    assert code == 0, err
    assert Image.open(out.strip()).size == (72, 64)
    assert "was resized to the init image's 64x64" in err


@pytest.mark.parametrize("extra, message", [
    (("--outpaint", "8,8"), "--outpaint 8,8 is not valid"),
    (("--mask", "MASK"), "nothing to repaint"),
    (("--mask", "TEXT"), "could not be opened"),
])
def test_cli_bad_inpaint_input_gives_a_clear_error(tiny_models, tmp_path, extra, message):
    save(Image.new("L", (64, 64), 0), tmp_path / "black.png")
    (tmp_path / "notes.txt").write_text("hello")
    extra = tuple(str(tmp_path / "black.png") if a == "MASK" else str(tmp_path / "notes.txt") if a == "TEXT" else a
                  for a in extra)
    code, _, err = run_cli(*cli_args(tiny_models["sd1"], tmp_path, *extra))
    assert code == 1 and message in err, err


def test_cli_mask_without_init_image_is_refused(tiny_models, tmp_path):
    args = cli_args(tiny_models["sd1"], tmp_path, "--mask", "m.png")
    index = args.index("--init-image")
    code, _, err = run_cli(*(args[:index] + args[index + 2:]))
    assert code == 1 and "need an init image" in err


def _block(width: int, height: int, x1: int, y1: int, x2: int, y2: int) -> Image.Image:
    mask = np.zeros((height, width), np.uint8)
    mask[y1:y2, x1:x2] = 255
    return Image.fromarray(mask)


def _only_masked_region(mask: Image.Image, padding: int, generation: tuple[int, int] | None):  # type: ignore[no-untyped-def]
    region = crop_region(mask, padding)
    if region is None or generation is None:
        return region
    return expand_crop_region(region, *generation, *mask.size)


def test_only_masked_region_pads_the_mask_bounds_and_clips_at_the_border():
    assert _only_masked_region(_block(512, 512, 0, 100, 32, 132), 0, None) == (0, 100, 32, 132)
    assert _only_masked_region(_block(512, 512, 0, 100, 32, 132), 32, None) == (0, 68, 64, 164)


def test_only_masked_region_widens_to_the_generation_aspect_and_shifts_back_inside():
    assert _only_masked_region(_block(512, 512, 0, 100, 32, 132), 32, (512, 512)) == (0, 68, 96, 164)
    assert _only_masked_region(_block(512, 512, 400, 480, 464, 512), 16, (512, 512)) == (384, 416, 480, 512)
    # A1111's own example: a 128x32 mask for a 512x512 generation becomes 128x128.
    assert _only_masked_region(_block(512, 512, 200, 200, 328, 232), 0, (512, 512)) == (200, 152, 328, 280)
    assert _only_masked_region(_block(512, 512, 200, 200, 232, 328), 0, (768, 512)) == (120, 200, 312, 328)


def test_only_masked_region_that_cannot_fit_the_aspect_is_clipped_and_a_blank_mask_has_none():
    assert _only_masked_region(_block(512, 100, 0, 40, 512, 60), 8, (512, 512)) == (0, 0, 512, 100)
    assert crop_region(_block(64, 64, 0, 0, 0, 0), 32) is None

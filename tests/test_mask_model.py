"""The inpaint mask model the canvas drives: strokes, selections, grow/shrink, blur, undo, files."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.errors import EaselError
from core.mask import Brush, MaskDocument


def pixel_centres(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:height, 0:width]
    return xs + 0.5, ys + 0.5


def distance_to_segment(width: int, height: int, a: tuple[float, float], b: tuple[float, float]) -> np.ndarray:
    """Brute force: each pixel centre's distance to the segment a-b."""
    px, py = pixel_centres(width, height)
    dx, dy = b[0] - a[0], b[1] - a[1]
    t = np.clip(((px - a[0]) * dx + (py - a[1]) * dy) / (dx * dx + dy * dy), 0, 1)
    return np.hypot(px - (a[0] + t * dx), py - (a[1] + t * dy))


def paint(doc: MaskDocument, points: list[tuple[float, float]], brush: Brush, pressure: float = 1.0) -> None:
    doc.begin_stroke(*points[0], brush, pressure)
    for x, y in points[1:]:
        doc.stroke_to(x, y, pressure)
    doc.end_stroke()


# --- strokes --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "size"),
    [((10, 10), (200, 10), 20), ((20.3, 30.7), (150.2, 90.9), 25), ((60, 80), (61.5, 20.25), 7)],
)
def test_hard_stroke_marks_exactly_the_pixels_within_half_the_size(start, end, size) -> None:
    doc = MaskDocument(256, 128)
    paint(doc, [start, end], Brush(size=size))
    expected = np.where(distance_to_segment(256, 128, start, end) <= size / 2, 255, 0)
    np.testing.assert_array_equal(doc.mask, expected)


def test_a_fast_stroke_leaves_no_gaps_between_distant_events() -> None:
    doc = MaskDocument(600, 400)
    paint(doc, [(20, 30), (520, 30), (40, 380)], Brush(size=6))
    for (x0, y0), (x1, y1) in [((20, 30), (520, 30)), ((520, 30), (40, 380))]:
        for t in np.linspace(0, 1, 2000):
            x, y = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
            assert doc.mask[int(y), int(x)] == 255, (x, y)


def test_a_stroke_starting_outside_the_canvas_paints_up_to_the_edge() -> None:
    doc = MaskDocument(100, 60)
    paint(doc, [(-80, 30), (10, 30)], Brush(size=10))
    assert (doc.mask[26:35, 0] == 255).all()
    across = MaskDocument(100, 60)
    paint(across, [(-10, 20), (300, 20)], Brush(size=4))  # both ends outside
    assert (across.mask[19:21, :] == 255).all()
    assert across.mask[0, 0] == 0


def test_the_eraser_clears_the_stroke_and_nothing_else() -> None:
    doc = MaskDocument(200, 100)
    doc.fill()
    paint(doc, [(30, 50), (170, 50)], Brush(size=30, erase=True))
    expected = np.where(distance_to_segment(200, 100, (30, 50), (170, 50)) <= 15, 0, 255)
    np.testing.assert_array_equal(doc.mask, expected)


def test_opacity_does_not_build_up_within_a_stroke_but_does_across_strokes() -> None:
    doc = MaskDocument(200, 100)
    brush = Brush(size=20, opacity=0.5)
    paint(doc, [(20, 50), (180, 50), (20, 50), (180, 52)], brush)  # back and forth over itself
    assert set(np.unique(doc.mask)) == {0, 128}
    paint(doc, [(100, 50), (101, 50)], brush)
    assert doc.mask[50, 100] == 192  # 128 + half of what was left
    assert doc.mask[50, 20] == 128


def test_an_eraser_at_half_opacity_removes_half() -> None:
    doc = MaskDocument(100, 100)
    doc.fill()
    paint(doc, [(50, 50), (50, 50), (52, 50)], Brush(size=10, opacity=0.5, erase=True))
    assert doc.mask[50, 50] == 128
    assert doc.mask[0, 0] == 255


def test_half_pressure_halves_the_brush_size() -> None:
    pressed, small = MaskDocument(200, 100), MaskDocument(200, 100)
    paint(pressed, [(30, 50), (170, 60)], Brush(size=40), pressure=0.5)
    paint(small, [(30, 50), (170, 60)], Brush(size=20))
    np.testing.assert_array_equal(pressed.mask, small.mask)
    assert (pressed.mask == 255).sum() > 2000


def test_pressure_can_drive_opacity_instead_of_size() -> None:
    doc = MaskDocument(200, 100)
    paint(doc, [(30, 50), (170, 50)], Brush(size=20, pressure_to="opacity"), pressure=0.5)
    assert set(np.unique(doc.mask)) == {0, 128}
    assert doc.mask[41, 100] == 128  # still the full 20 px wide


def test_rising_pressure_widens_the_stroke_smoothly() -> None:
    doc = MaskDocument(300, 100)
    brush = Brush(size=40)
    doc.begin_stroke(20, 50, brush, 0.1)
    doc.stroke_to(280, 50, 1.0)
    doc.end_stroke()
    widths = [(doc.mask[:, x] == 255).sum() for x in range(30, 260, 20)]
    assert widths == sorted(widths) and widths[0] <= 6 and widths[-1] >= 36


@pytest.mark.parametrize(("start", "end"), [((50, 50, 0.1), (54, 50, 1.0)), ((40, 50, 0.25), (70, 55, 1.0))])
def test_a_stroke_with_changing_pressure_covers_every_dab_along_it_and_no_more(start, end) -> None:
    doc = MaskDocument(120, 100)
    brush = Brush(size=40)
    doc.begin_stroke(start[0], start[1], brush, start[2])
    doc.stroke_to(end[0], end[1], end[2])
    doc.end_stroke()
    px, py = pixel_centres(120, 100)
    union, loose_union = np.zeros((100, 120), bool), np.zeros((100, 120), bool)
    for t in np.linspace(0, 1, 2001):
        cx, cy, pressure = (s + t * (e - s) for s, e in zip(start, end))
        distance = np.hypot(px - cx, py - cy)
        union |= distance <= 20 * pressure
        loose_union |= distance <= 20 * pressure + 0.05
    painted = doc.mask == 255
    assert (painted | ~union).all(), "a dab on the stroke was not fully painted"
    assert (~painted | loose_union).all(), "paint beyond every dab on the stroke"


def test_a_soft_brush_fades_out_to_nothing_at_its_radius() -> None:
    doc = MaskDocument(100, 100)
    paint(doc, [(50, 50)], Brush(size=40, hardness=0.0))
    row = doc.mask[50, 50:].astype(int)
    assert row[0] >= 250 and row[25] == 0
    assert np.all(np.diff(row) <= 0)
    assert 100 <= row[10] <= 155  # half way out, about half


def test_the_dirty_rect_covers_every_pixel_an_event_changed() -> None:
    doc = MaskDocument(300, 200)
    brush = Brush(size=31, hardness=0.3)
    doc.begin_stroke(-20, 40, brush)
    for x, y in [(60, 50), (250, 190), (310, 10)]:
        before = doc.mask.copy()
        rect = doc.stroke_to(x, y)
        rows, cols = np.nonzero(doc.mask != before)
        assert rows.size
        assert rect.top <= rows.min() and rows.max() < rect.bottom
        assert rect.left <= cols.min() and cols.max() < rect.right


def test_a_stroke_event_on_a_2048_mask_with_a_200px_brush_takes_well_under_a_frame() -> None:
    doc = MaskDocument(2048, 2048)
    brush = Brush(size=200, hardness=0.5)
    doc.begin_stroke(100, 100, brush)
    started = time.perf_counter()
    for i in range(100):
        doc.stroke_to(100 + 18 * i, 100 + 15 * i + 30 * math.sin(i))
    per_event = (time.perf_counter() - started) / 100
    doc.end_stroke()
    assert per_event < 0.050, f"{per_event * 1000:.1f} ms per event"


def test_the_mask_handed_out_cannot_be_written_behind_the_documents_back() -> None:
    doc = MaskDocument(10, 10)
    with pytest.raises(ValueError):
        doc.mask[0, 0] = 255


# --- undo -----------------------------------------------------------------------------------------


def mixed_operations(tmp_path: Path) -> list:
    other = MaskDocument(44, 32)  # the shape the document has when it is loaded, at half the size
    paint(other, [(5, 5), (40, 30)], Brush(size=9))
    png = tmp_path / "other.png"
    other.export_png(png)
    return [
        lambda d: paint(d, [(10, 10), (50, 30)], Brush(size=12)),
        lambda d: paint(d, [(0, 40), (63, 0)], Brush(size=5, hardness=0.2, opacity=0.7)),
        lambda d: d.invert(),
        lambda d: paint(d, [(30, 20), (31, 21)], Brush(size=20, erase=True)),
        lambda d: d.grow(3),
        lambda d: d.select_rectangle(2, 2, 20, 15, erase=True),
        lambda d: d.select_lasso([(40, 5), (60, 25), (35, 40)]),
        lambda d: d.shrink(2),
        lambda d: d.clear(),
        lambda d: paint(d, [(5, 5), (60, 5), (60, 40)], Brush(size=8, opacity=0.5)),
        lambda d: d.resize_canvas(8, 0, 4, 12, 255),
        lambda d: paint(d, [(70, 60), (2, 2)], Brush(size=15, hardness=0.5), pressure=0.6),
        lambda d: d.fill(),
        lambda d: d.select_lasso([(10, 10), (50, 12), (30, 50)], erase=True),
        lambda d: d.resize_canvas(0, 16, 0, 0, 0),
        lambda d: d.load_png(png),
        lambda d: d.grow(5),
        lambda d: paint(d, [(40, 30), (41, 30)], Brush(size=30, erase=True, opacity=0.4)),
        lambda d: d.invert(),
        lambda d: d.select_rectangle(0, 0, 100, 5),
    ]


def test_undo_and_redo_restore_the_exact_mask_after_each_of_twenty_operations(tmp_path: Path) -> None:
    doc = MaskDocument(64, 48)
    snapshots = [doc.mask.copy()]
    for operation in mixed_operations(tmp_path):
        operation(doc)
        snapshots.append(doc.mask.copy())
    for before, after in zip(snapshots, snapshots[1:]):  # every operation changed something
        assert before.shape != after.shape or not np.array_equal(before, after)
    for expected in reversed(snapshots[:-1]):
        assert doc.undo()
        np.testing.assert_array_equal(doc.mask, expected)
    assert not doc.undo() and not doc.can_undo
    for expected in snapshots[1:]:
        assert doc.redo()
        np.testing.assert_array_equal(doc.mask, expected)
    assert not doc.redo() and not doc.can_redo


def test_a_new_operation_after_undo_discards_the_redo_steps() -> None:
    doc = MaskDocument(50, 50)
    paint(doc, [(10, 10), (40, 10)], Brush(size=6))
    doc.invert()
    assert doc.undo() and doc.can_redo
    paint(doc, [(10, 40), (40, 40)], Brush(size=6))
    assert not doc.can_redo and not doc.redo()
    assert doc.mask[40, 25] == 255 and doc.mask[25, 25] == 0


def test_each_stroke_is_one_undo_step_and_changes_of_nothing_are_none() -> None:
    doc = MaskDocument(50, 50)
    paint(doc, [(10, 10), (20, 10), (30, 30), (40, 10)], Brush(size=6))
    painted = doc.mask.copy()
    doc.clear()
    doc.clear()  # already clear: no step
    paint(doc, [(-30, -30), (-20, -10)], Brush(size=6))  # entirely outside: no step
    assert doc.undo()
    np.testing.assert_array_equal(doc.mask, painted)
    assert doc.undo() and not doc.mask.any()
    assert not doc.can_undo


def test_undo_during_a_stroke_finishes_it_and_takes_it_back() -> None:
    doc = MaskDocument(50, 50)
    doc.begin_stroke(10, 10, Brush(size=6))
    doc.stroke_to(40, 40)
    assert doc.can_undo
    assert doc.undo() and not doc.mask.any()


def test_history_beyond_its_memory_cap_drops_the_oldest_steps() -> None:
    doc = MaskDocument(100, 100, history_bytes=45_000)  # one whole-mask step is 20 kB
    doc.fill()
    doc.clear()
    doc.invert()
    assert doc.undo() and doc.undo()
    assert not doc.undo()  # the fill can no longer be undone: its step was dropped
    assert (doc.mask == 255).all()


# --- operations -----------------------------------------------------------------------------------


def test_invert_swaps_keep_and_repaint_and_greys() -> None:
    doc = MaskDocument(3, 1, np.array([[0, 100, 255]], dtype=np.uint8))
    doc.invert()
    assert doc.mask.tolist() == [[255, 155, 0]]


def test_fill_and_clear() -> None:
    doc = MaskDocument(20, 10)
    doc.fill()
    assert (doc.mask == 255).all()
    doc.clear()
    assert not doc.mask.any()


def brute_force_disc(mask: np.ndarray, radius: int, reduce) -> np.ndarray:  # type: ignore[no-untyped-def]
    """`reduce` (max: grow, min: shrink) of the pixels within `radius` of each pixel, those in the image only
    (for shrinking, pixels beyond the edge count as masked)."""
    height, width = mask.shape
    ys, xs = np.mgrid[0:height, 0:width]
    out = np.zeros_like(mask)
    for y in range(height):
        for x in range(width):
            out[y, x] = reduce(mask[(ys - y) ** 2 + (xs - x) ** 2 <= radius * radius])
    return out


def brute_force_grow(mask: np.ndarray, radius: int) -> np.ndarray:
    return brute_force_disc(mask, radius, np.max)


def brute_force_shrink(mask: np.ndarray, radius: int) -> np.ndarray:
    return brute_force_disc(mask, radius, np.min)


@pytest.mark.parametrize("radius", [1, 2, 3, 5, 7])
def test_grow_masks_every_pixel_within_n_px_of_a_masked_one(radius: int) -> None:
    rng = np.random.default_rng(radius)
    binary = np.where(rng.random((23, 31)) < 0.03, 255, 0).astype(np.uint8)
    greys = np.where(rng.random((23, 31)) < 0.05, rng.integers(1, 256, (23, 31)), 0).astype(np.uint8)
    for mask in (binary, greys):
        doc = MaskDocument(31, 23, mask)
        doc.grow(radius)
        np.testing.assert_array_equal(doc.mask, brute_force_grow(mask, radius))


@pytest.mark.parametrize("radius", [1, 3, 6])
def test_shrink_keeps_only_pixels_whose_n_px_neighbourhood_is_masked(radius: int) -> None:
    rng = np.random.default_rng(10 + radius)
    mask = np.where(rng.random((23, 31)) < 0.96, 255, 0).astype(np.uint8)
    doc = MaskDocument(31, 23, mask)
    doc.shrink(radius)
    np.testing.assert_array_equal(doc.mask, brute_force_shrink(mask, radius))


def test_shrinking_a_full_mask_keeps_it_full_at_the_image_edges() -> None:
    doc = MaskDocument(40, 30)
    doc.fill()
    doc.shrink(5)
    assert (doc.mask == 255).all()


def test_grow_a_single_pixel_by_ten_is_a_disc_of_radius_ten() -> None:
    doc = MaskDocument(41, 41)
    doc.select_rectangle(20, 20, 21, 21)
    doc.grow(10)
    assert (doc.mask == 255).sum() == 317  # lattice points within radius 10 (Gauss circle)


@pytest.mark.parametrize("radius", [4, 20])
def test_blur_of_a_hard_square_is_the_model_input_with_a_soft_edge(radius: int) -> None:
    doc = MaskDocument(300, 300)
    doc.select_rectangle(100, 100, 200, 200)
    blurred = doc.blurred(radius)
    assert blurred[150, 150] == 255 and blurred[150, 100 - 3 * radius] == 0
    edge = (int(blurred[150, 99]) + int(blurred[150, 100])) / 2  # the pixels either side of the edge
    assert abs(edge - 127.5) <= 1
    assert blurred[150, 99] < 128 < blurred[150, 100]
    np.testing.assert_array_equal(blurred, blurred[::-1, ::-1])
    assert (doc.mask == np.where(doc.mask > 0, 255, 0)).all()  # the mask itself stays hard


def test_blur_gives_a1111s_numbers_to_the_bit() -> None:
    """Reference rows from A1111's call, cv2.GaussianBlur(m, (k, 1), r) then (1, k), OpenCV 5.0."""
    square = MaskDocument(300, 300)
    square.select_rectangle(100, 100, 200, 200)
    across_edge = [0, 0, 1, 3, 7, 12, 21, 32, 48, 67, 90, 115, 140, 165, 188, 207, 223, 234, 243, 248, 252, 254, 255, 255]
    at_corner = [0, 0, 1, 2, 4, 7, 12, 18, 26, 37, 50, 63, 77, 91, 104, 114, 123, 129, 134, 137, 139, 140, 140, 140]
    wide = [0, 0, 2, 8, 20, 41, 72, 110, 150, 188, 217, 237, 248, 253, 254, 250]
    assert square.blurred(4)[150, 88:112].tolist() == across_edge
    assert square.blurred(4)[100, 88:112].tolist() == at_corner
    assert square.blurred(20)[150, 40:161:8].tolist() == wide
    edge = np.zeros((60, 100), np.uint8)
    edge[:, :40] = 255
    edge[5:9, 50:53] = 200
    blurred = MaskDocument(100, 60, edge).blurred(3)
    assert blurred[30, 30:50].tolist() == [255, 255, 254, 252, 247, 239, 225, 204, 176, 144, 111, 79, 51, 30, 16, 8, 3, 1, 0, 0]
    assert blurred[0:14, 51].tolist() == [10, 11, 15, 22, 29, 35, 38, 38, 35, 29, 21, 14, 9, 5]


def test_blur_zero_is_the_mask_itself() -> None:
    doc = MaskDocument(20, 20)
    doc.select_rectangle(5, 5, 9, 9)
    np.testing.assert_array_equal(doc.blurred(0), doc.mask)


def test_blur_at_the_image_edge_reflects_instead_of_fading() -> None:
    doc = MaskDocument(100, 60)
    doc.select_rectangle(0, 0, 40, 60)  # touches the left, top and bottom edges
    blurred = doc.blurred(4)
    assert (blurred[:, :30] == 255).all()


# --- selections -----------------------------------------------------------------------------------


def test_rectangle_selection_takes_the_pixels_whose_centres_are_inside() -> None:
    doc = MaskDocument(30, 20)
    doc.select_rectangle(12, 15, 2, 3)  # corners in any order
    expected = np.zeros((20, 30), np.uint8)
    expected[3:15, 2:12] = 255
    np.testing.assert_array_equal(doc.mask, expected)
    doc.select_rectangle(4, 4, 40, 40, erase=True)  # beyond the canvas: clipped
    expected[4:, 4:] = 0
    np.testing.assert_array_equal(doc.mask, expected)


def brute_force_polygon(points: list[tuple[float, float]], width: int, height: int) -> np.ndarray:
    """Even-odd rule at pixel centres, one ray cast per pixel."""
    px, py = pixel_centres(width, height)
    inside = np.zeros((height, width), dtype=bool)
    for (x0, y0), (x1, y1) in zip(points, points[1:] + points[:1]):
        if y0 == y1:
            continue
        crosses = (y0 <= py) != (y1 <= py)
        x_at = x0 + (py - y0) * (x1 - x0) / (y1 - y0)
        inside ^= crosses & (x_at <= px)
    return inside


def test_lasso_fills_the_polygon_even_a_concave_one() -> None:
    star = [(50 + r * math.cos(a), 50 + r * math.sin(a)) for a, r in
            ((k * math.pi / 5 + 0.1, 45 if k % 2 == 0 else 18) for k in range(10))]
    doc = MaskDocument(100, 100)
    doc.select_lasso(star)
    np.testing.assert_array_equal(doc.mask, np.where(brute_force_polygon(star, 100, 100), 255, 0))
    assert doc.mask[50, 50] == 255 and doc.mask[2, 2] == 0


def test_lasso_square_selects_exactly_the_pixels_it_encloses_and_can_erase() -> None:
    doc = MaskDocument(40, 40)
    doc.select_lasso([(10, 10), (20, 10), (20, 20), (10, 20)])
    expected = np.zeros((40, 40), np.uint8)
    expected[10:20, 10:20] = 255
    np.testing.assert_array_equal(doc.mask, expected)
    doc.select_lasso([(0, 0), (15, 0), (15, 40), (0, 40)], erase=True)
    expected[:, :15] = 0
    np.testing.assert_array_equal(doc.mask, expected)


def test_lasso_reaching_past_the_canvas_fills_to_the_edges() -> None:
    doc = MaskDocument(50, 30)
    doc.select_lasso([(-100, -100), (200, -100), (25, 200)])
    assert doc.mask[0, 0] == 255 and doc.mask[0, 49] == 255 and doc.mask[29, 25] == 255


# --- files and canvas size ------------------------------------------------------------------------


def block(width: int, height: int, x1: int, y1: int, x2: int, y2: int) -> np.ndarray:
    mask = np.zeros((height, width), np.uint8)
    mask[y1:y2, x1:x2] = 255
    return mask


def test_export_then_load_gives_back_the_same_mask_greys_included(tmp_path: Path) -> None:
    doc = MaskDocument(80, 60)
    paint(doc, [(10, 10), (70, 50)], Brush(size=20, hardness=0.3))
    path = doc.export_png(tmp_path / "mask.png")
    with Image.open(path) as image:
        assert image.mode == "L" and image.size == (80, 60)
    loaded = MaskDocument(80, 60)
    loaded.load_png(path)
    np.testing.assert_array_equal(loaded.mask, doc.mask)
    assert 0 < np.count_nonzero((doc.mask > 0) & (doc.mask < 255))
    assert loaded.undo() and not loaded.mask.any()


def test_loading_a_colour_mask_of_another_size_scales_it(tmp_path: Path) -> None:
    image = Image.new("RGB", (160, 120), (0, 0, 0))
    image.paste((255, 255, 255), (0, 0, 80, 120))  # left half white
    image.save(tmp_path / "big.png")
    doc = MaskDocument(80, 60)
    doc.load_png(tmp_path / "big.png")
    assert (doc.mask[:, :39] == 255).all() and (doc.mask[:, 41:] == 0).all()


def test_a_transparent_mask_uses_its_alpha_as_a1111_does(tmp_path: Path) -> None:
    image = Image.new("RGBA", (40, 30), (0, 0, 0, 0))
    image.paste((255, 255, 255, 255), (10, 10, 20, 20))
    image.save(tmp_path / "alpha.png")
    doc = MaskDocument(40, 30)
    doc.load_png(tmp_path / "alpha.png")
    np.testing.assert_array_equal(doc.mask, block(40, 30, 10, 10, 20, 20))


def test_a_mask_of_another_shape_is_refused_with_both_sizes(tmp_path: Path) -> None:
    Image.new("L", (100, 100), 255).save(tmp_path / "square.png")
    doc = MaskDocument(160, 90)
    with pytest.raises(EaselError, match="100x100.*160x90"):
        doc.load_png(tmp_path / "square.png")
    assert not doc.mask.any() and not doc.can_undo


def test_a_file_that_is_not_an_image_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(EaselError, match="Cannot read the mask notes.png"):
        MaskDocument(10, 10).load_png(tmp_path / "notes.png")


def test_outpainting_extends_the_canvas_with_the_new_area_masked_and_undoes() -> None:
    doc = MaskDocument(40, 30)
    paint(doc, [(5, 5), (35, 25)], Brush(size=4))
    original = doc.mask.copy()
    doc.resize_canvas(left=16, right=8, top=0, bottom=4, fill=255)
    assert (doc.width, doc.height) == (64, 34)
    np.testing.assert_array_equal(doc.mask[0:30, 16:56], original)
    assert (doc.mask[:, :16] == 255).all() and (doc.mask[:, 56:] == 255).all() and (doc.mask[30:] == 255).all()
    paint(doc, [(0, 0), (63, 33)], Brush(size=3, erase=True))  # strokes work on the new size
    assert doc.undo() and doc.undo()
    assert (doc.width, doc.height) == (40, 30)
    np.testing.assert_array_equal(doc.mask, original)
    assert doc.redo() and doc.mask.shape == (34, 64)

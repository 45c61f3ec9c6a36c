"""The gallery: 10,000 images open at once, thumbnails only for what is on screen, search, filter and actions."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from PIL import Image  # noqa: E402
from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from core.history import History, HistoryEntry  # noqa: E402
from core.request import GenerationRequest  # noqa: E402
from desktop.gallery import GalleryView, HistoryModel, decode_thumbnail  # noqa: E402

PROMPTS = ("a lighthouse at dusk", "a red fox in the snow", "portrait of an old sailor", "a red barn, fox tracks")
MODELS = ("dreamshaper_8", "juggernautXL", "majicmix")
BIG = 10_000


def request_json(prompt: str, seed: int, model: str) -> dict:
    return GenerationRequest(model=f"/models/{model}.safetensors", prompt=prompt, seed=seed, steps=12,
                             width=512, height=768).to_json_dict()


def record(history: History, folder: Path, number: int, prompt: str, model: str, image: Image.Image,
           png: bytes | None = None) -> HistoryEntry:
    path = folder / f"{number:05}-{number}.png"
    if png is None:
        image.save(path)
    else:
        path.write_bytes(png)
    infotext = f"{prompt}\nSteps: 12, Sampler: Euler a, CFG scale: 7, Seed: {number}, Size: 512x768, Model: {model}"
    return history.record(path, image, infotext, request_json(prompt, number, model), model, None,
                          created=1_700_000_000 + number)


@pytest.fixture(scope="module")
def big_history(tmp_path_factory):
    """10,000 recorded 8x8 images: entry n has PROMPTS[n % 4] + n and MODELS[n % 3]; the newest is n = 9999."""
    folder = tmp_path_factory.mktemp("big-history")
    history = History.open(folder / "history.sqlite3")
    image = Image.new("RGB", (8, 8), (200, 60, 40))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    with history.batch():
        for number in range(BIG):
            record(history, folder, number, f"{PROMPTS[number % 4]} {number}", MODELS[number % 3], image,
                   buffer.getvalue())
    yield history
    history.close()


@pytest.fixture
def small_history(tmp_path):
    history = History.open(tmp_path / "history.sqlite3")
    yield history
    history.close()


def make_gallery(qtbot, history: History, strip: bool = False, size=(640, 420), **model_options) -> GalleryView:
    gallery = GalleryView(history, strip=strip, model=HistoryModel(history, **model_options))
    qtbot.addWidget(gallery)
    gallery.resize(*size)
    gallery.show()
    qtbot.waitExposed(gallery)
    return gallery


def rows_on_screen(gallery: GalleryView) -> list[int]:
    viewport = gallery.list.viewport().rect()
    model = gallery.model
    return [row for row in range(model.rowCount()) if gallery.list.visualRect(model.index(row)).intersects(viewport)]


def thumbnails_shown(gallery: GalleryView) -> bool:
    return all(map(gallery.model.has_thumbnail, rows_on_screen(gallery)))


def scroll_to_the_end(qtbot, gallery: GalleryView) -> None:
    bar = gallery.list.verticalScrollBar() if not gallery.strip else gallery.list.horizontalScrollBar()
    deadline = time.monotonic() + 30
    while (gallery.model.canFetchMore() or bar.value() < bar.maximum()) and time.monotonic() < deadline:
        bar.setValue(bar.maximum())
        qtbot.wait(1)


@pytest.mark.parametrize("strip", [False, True], ids=["grid", "strip"])
def test_ten_thousand_images_open_fast_and_decode_only_what_is_seen(qtbot, big_history, strip):
    started = time.perf_counter()
    gallery = make_gallery(qtbot, big_history, strip=strip, size=(640, 420 if not strip else 160))
    gallery.list.viewport().repaint()
    first_paint = time.perf_counter() - started
    assert first_paint < 2.0, f"opening the gallery took {first_paint:.2f} s"
    model = gallery.model
    assert model.rowCount() < BIG and model.total() == BIG  # a page, not the whole table
    assert model.entry(0).prompt == f"{PROMPTS[(BIG - 1) % 4]} {BIG - 1}"  # newest first

    qtbot.waitUntil(lambda: thumbnails_shown(gallery), timeout=5000)
    on_screen = len(rows_on_screen(gallery))
    assert 0 < model.decode_count <= on_screen

    scroll_to_the_end(qtbot, gallery)
    assert model.rowCount() == BIG and not model.canFetchMore()
    assert model.entry(BIG - 1).prompt == f"{PROMPTS[0]} 0"  # the oldest image is last
    assert BIG - 1 in rows_on_screen(gallery)
    qtbot.waitUntil(lambda: thumbnails_shown(gallery), timeout=5000)
    assert model.decode_count < 300, f"{model.decode_count} thumbnails decoded for {on_screen} on screen"


def test_only_visible_thumbnails_are_decoded_through_the_injected_decoder(qtbot, big_history):
    decoded = []

    def counting_decode(data: bytes):
        decoded.append(len(data))
        return decode_thumbnail(data)

    gallery = make_gallery(qtbot, big_history, decode=counting_decode)
    qtbot.waitUntil(lambda: thumbnails_shown(gallery), timeout=5000)
    assert len(decoded) == len(rows_on_screen(gallery)) > 0
    gallery.list.verticalScrollBar().setValue(0)
    gallery.list.viewport().repaint()
    qtbot.wait(100)
    assert len(decoded) == len(rows_on_screen(gallery))  # shown again from the cache


def test_typing_in_the_search_field_filters_by_prompt_words(qtbot, big_history):
    gallery = make_gallery(qtbot, big_history)
    qtbot.keyClicks(gallery.search, "RED fox")
    qtbot.waitUntil(lambda: gallery.model.query == "RED fox", timeout=2000)
    model = gallery.model
    assert model.total() == BIG // 2  # "a red fox in the snow" and "a red barn, fox tracks"
    assert all("red" in model.entry(row).prompt and "fox" in model.entry(row).prompt
               for row in range(model.rowCount()))
    gallery.search.clear()
    qtbot.waitUntil(lambda: gallery.model.total() == BIG, timeout=2000)


def test_the_model_filter_lists_every_model_and_shows_only_its_images(qtbot, big_history):
    gallery = make_gallery(qtbot, big_history)
    names = [gallery.model_box.itemText(i) for i in range(gallery.model_box.count())]
    assert names == ["All models", *sorted(MODELS, key=str.casefold)]
    gallery.model_box.setCurrentText("majicmix")
    model = gallery.model
    assert model.total() == len(range(2, BIG, 3))
    assert {model.entry(row).model_name for row in range(model.rowCount())} == {"majicmix"}
    qtbot.keyClicks(gallery.search, "sailor")
    qtbot.waitUntil(lambda: model.query == "sailor", timeout=2000)
    assert model.total() == sum(1 for n in range(BIG) if n % 3 == 2 and n % 4 == 2)


def test_thumbnails_show_the_image(qtbot, small_history, tmp_path):
    record(small_history, tmp_path, 1, "a blue square", "m", Image.new("RGB", (64, 64), (20, 40, 230)))
    gallery = make_gallery(qtbot, small_history)
    qtbot.waitUntil(lambda: thumbnails_shown(gallery), timeout=5000)
    rect = gallery.list.visualRect(gallery.model.index(0))
    shot = gallery.list.viewport().grab(rect).toImage()
    colours = {shot.pixelColor(x, y).getRgb()[:3] for x in range(shot.width()) for y in range(shot.height())}
    assert any(abs(r - 20) + abs(g - 40) + abs(b - 230) < 24 for r, g, b in colours)  # JPEG moves it a little


def test_a_new_image_goes_first_unless_the_search_hides_it(qtbot, small_history, tmp_path):
    image = Image.new("RGB", (32, 32), "gray")
    for number in range(3):
        record(small_history, tmp_path, number, "a lighthouse", "m1", image)
    gallery = make_gallery(qtbot, small_history)
    newest = record(small_history, tmp_path, 10, "a red fox", "m2", image)
    gallery.add_entry(newest)
    assert gallery.model.entry(0) == newest and gallery.model.rowCount() == 4
    assert gallery.model_box.findText("m2") > 0  # the new model is offered in the filter

    qtbot.keyClicks(gallery.search, "lighthouse")
    qtbot.waitUntil(lambda: gallery.model.total() == 3, timeout=2000)
    gallery.add_entry(record(small_history, tmp_path, 11, "another fox", "m2", image))
    assert gallery.model.rowCount() == 3
    gallery.add_entry(lighthouse := record(small_history, tmp_path, 12, "lighthouse at night", "m2", image))
    assert gallery.model.entry(0) == lighthouse


def test_paging_after_new_images_neither_repeats_nor_skips_rows(qtbot, small_history, tmp_path):
    image = Image.new("RGB", (8, 8), "gray")
    for number in range(12):
        record(small_history, tmp_path, number, f"picture {number}", "m", image)
    model = HistoryModel(small_history, page_size=5)
    assert model.rowCount() == 5
    for number in (20, 21):
        model.prepend(record(small_history, tmp_path, number, f"picture {number}", "m", image))
    while model.canFetchMore():
        model.fetchMore()
    ids = [model.entry(row).id for row in range(model.rowCount())]
    assert len(ids) == len(set(ids)) == 14
    created = [model.entry(row).created for row in range(model.rowCount())]
    assert created == sorted(created, reverse=True)


def test_the_strip_is_one_row_the_grid_wraps(qtbot, small_history, tmp_path):
    image = Image.new("RGB", (32, 32), "gray")
    for number in range(30):
        record(small_history, tmp_path, number, f"picture {number}", "m", image)
    grid = make_gallery(qtbot, small_history, size=(640, 420))
    strip = make_gallery(qtbot, small_history, strip=True, size=(640, 160))
    grid_rows = {grid.list.visualRect(grid.model.index(row)).top() for row in range(30)}
    strip_rows = {strip.list.visualRect(strip.model.index(row)).top() for row in range(30)}
    assert len(grid_rows) > 1 and len(strip_rows) == 1
    assert strip.list.horizontalScrollBar().maximum() > 0  # the rest is a scroll to the right
    assert strip.model.data(strip.model.index(0), Qt.ItemDataRole.ToolTipRole).startswith("picture 29")


def test_clicking_selects_double_clicking_activates(qtbot, small_history, tmp_path):
    image = Image.new("RGB", (32, 32), "gray")
    older = record(small_history, tmp_path, 1, "older", "m", image)
    record(small_history, tmp_path, 2, "newer", "m", image)
    gallery = make_gallery(qtbot, small_history)
    centre = gallery.list.visualRect(gallery.model.index(1)).center()
    with qtbot.waitSignal(gallery.entry_selected) as selected:
        qtbot.mouseClick(gallery.list.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    assert selected.args == [older]
    with qtbot.waitSignal(gallery.entry_activated) as activated:
        qtbot.mouseDClick(gallery.list.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    assert activated.args == [older]


def test_the_context_menu_offers_the_details_actions(qtbot, small_history, tmp_path):
    revealed = []
    entry = record(small_history, tmp_path, 7, "a red fox", "m", Image.new("RGB", (32, 32), "gray"))
    gallery = GalleryView(small_history, reveal=revealed.append)
    qtbot.addWidget(gallery)
    menu = gallery.context_menu(entry)
    actions = {action.text(): action for action in menu.actions()}
    assert list(actions)[:3] == ["Reuse parameters", "Upscale…", "Send to"]

    with qtbot.waitSignal(gallery.reuse_requested) as reused:
        actions["Reuse parameters"].trigger()
    assert reused.args[0]["prompt"] == "a red fox" and reused.args[0]["seed"] == 7
    sent = []
    gallery.send_to_requested.connect(lambda mode, path: sent.append((mode, path)))
    for action in actions["Send to"].menu().actions():
        action.trigger()
    assert sent == [("img2img", entry.path), ("inpaint", entry.path), ("controlnet", entry.path),
                    ("extras", entry.path)]
    actions["Upscale…"].trigger()
    assert sent[-1] == ("extras", entry.path)
    actions["Copy infotext"].trigger()
    assert QGuiApplication.clipboard().text() == entry.infotext
    next(action for text, action in actions.items() if text.startswith(("Reveal", "Show"))).trigger()
    assert revealed == [entry.path]
    with qtbot.waitSignal(gallery.delete_requested) as deleted:
        actions["Delete…"].trigger()
    assert deleted.args == [entry.id]


def test_the_delete_key_asks_to_delete_the_current_image_and_remove_entry_drops_it(qtbot, small_history, tmp_path):
    image = Image.new("RGB", (32, 32), "gray")
    entry = record(small_history, tmp_path, 1, "a red fox", "m", image)
    record(small_history, tmp_path, 2, "a lighthouse", "m", image)
    gallery = make_gallery(qtbot, small_history)
    gallery.select_entry(entry.id)
    gallery.list.setFocus()
    with qtbot.waitSignal(gallery.delete_requested) as deleted:
        qtbot.keyClick(gallery.list, Qt.Key.Key_Delete)
    assert deleted.args == [entry.id]
    gallery.remove_entry(entry.id)
    assert [gallery.model.entry(row).prompt for row in range(gallery.model.rowCount())] == ["a lighthouse"]
    assert gallery.model.total() == 1


def test_a_right_click_on_an_image_opens_its_menu(qtbot, small_history, tmp_path):
    record(small_history, tmp_path, 1, "a red fox", "m", Image.new("RGB", (32, 32), "gray"))
    gallery = make_gallery(qtbot, small_history)
    gallery.list.customContextMenuRequested.emit(QPoint(600, 380))  # empty space: no menu
    assert QApplication.activePopupWidget() is None
    gallery.list.customContextMenuRequested.emit(gallery.list.visualRect(gallery.model.index(0)).center())
    qtbot.waitUntil(lambda: QApplication.activePopupWidget() is not None, timeout=2000)
    menu = QApplication.activePopupWidget()
    assert menu.actions()[0].text() == "Reuse parameters"
    menu.close()

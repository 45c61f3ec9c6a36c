"""The LoRA and embedding browser: real tiny files, their previews and hashes; a click puts the tag at the cursor."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from PIL import Image  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QTextCursor  # noqa: E402

from core.models.hashing import HashCache, autov2  # noqa: E402
from core.models.scan import ModelFolder, scan  # noqa: E402
from core.synthetic.embedding import write_tiny_embedding  # noqa: E402
from core.synthetic.lora import write_tiny_lora  # noqa: E402
from desktop.background import BackgroundTasks  # noqa: E402
from desktop.network_browser import (  # noqa: E402
    ENTRY_ROLE, HASH_ROLE, MISMATCH_ROLE, PREVIEW_ROLE, NetworkBrowser, find_preview,
)
from desktop.params_panel import ParamsPanel  # noqa: E402
from desktop.prompt_insert import insertion  # noqa: E402


@pytest.fixture(scope="module")
def model_folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("networks")
    write_tiny_lora(root / "loras" / "detail_tweaker.safetensors", "sd1")
    write_tiny_lora(root / "loras" / "film grain.safetensors", "sd1", seed=1)
    Image.new("RGB", (96, 64), (200, 40, 40)).save(root / "loras" / "detail_tweaker.preview.png")
    write_tiny_embedding(root / "embeddings" / "easynegative.safetensors", "sd1")
    write_tiny_embedding(root / "embeddings" / "xl_negative.safetensors", "sdxl")
    return root


@pytest.fixture
def entries(model_folders):
    return scan([ModelFolder(model_folders / "loras", "lora"), ModelFolder(model_folders / "embeddings", "embedding")])


@pytest.fixture
def browser(qtbot, entries, tmp_path):
    cache = HashCache(tmp_path / "hashes.json")
    tasks = BackgroundTasks()
    widget = NetworkBrowser(tasks, lambda path: cache.compute(path).autov2)
    tasks.setParent(widget)  # as the window's: a hash that arrives after the widget is gone is dropped
    qtbot.addWidget(widget)
    widget.resize(360, 480)
    widget.show()
    widget.set_entries(entries)
    return widget


def test_lists_loras_with_architecture_size_preview_and_a_background_hash(qtbot, browser, model_folders):
    assert browser.visible_names() == ["detail_tweaker", "film grain"]
    assert browser.kind_tabs.tabText(0) == "LoRA (2)" and browser.kind_tabs.tabText(1) == "Embeddings (2)"
    item = browser.item_for("detail_tweaker")
    entry = item.data(ENTRY_ROLE)
    assert (entry.kind, entry.architecture) == ("lora", "sd1") and entry.size > 0
    assert item.data(PREVIEW_ROLE) == model_folders / "loras" / "detail_tweaker.preview.png"
    assert browser.item_for("film grain").data(PREVIEW_ROLE) is None
    qtbot.waitUntil(browser.hashing_done, timeout=20_000)
    for name in ("detail_tweaker", "film grain"):
        path = browser.item_for(name).data(ENTRY_ROLE).path
        assert browser.item_for(name).data(HASH_ROLE) == autov2(path)
    assert autov2(entry.path) in item.toolTip()
    pixmap = browser.previews.get(item.data(PREVIEW_ROLE))
    assert pixmap is not None and max(pixmap.width(), pixmap.height()) <= 56  # scaled to the card
    assert not browser.list.grab().isNull()  # the cards paint (previews, badges, hash text)


def test_a1111_preview_names_are_found(tmp_path):
    model = tmp_path / "style.safetensors"
    model.write_bytes(b"x")
    assert find_preview(model) is None
    (tmp_path / "style.preview.jpg").write_bytes(b"jpg")
    assert find_preview(model) == tmp_path / "style.preview.jpg"
    (tmp_path / "style.png").write_bytes(b"png")
    assert find_preview(model) == tmp_path / "style.png"  # A1111 looks for name.png before name.preview.png


def test_the_filter_box_narrows_the_cards(qtbot, browser):
    qtbot.keyClicks(browser.filter_edit, "GRAIN")
    assert browser.visible_names() == ["film grain"]
    browser.filter_edit.setText("nothing like it")
    assert browser.visible_names() == [] and browser.empty_label.isVisible()
    browser.filter_edit.clear()
    assert len(browser.visible_names()) == 2


def test_networks_for_another_architecture_are_marked(browser):
    browser.set_checkpoint_architecture("sdxl")
    assert browser.item_for("detail_tweaker").data(MISMATCH_ROLE)
    assert "SDXL" in browser.item_for("detail_tweaker").toolTip()
    browser.set_checkpoint_architecture("sd1")
    assert not browser.item_for("detail_tweaker").data(MISMATCH_ROLE)
    browser.show_kind("embedding")
    assert browser.item_for("xl_negative").data(MISMATCH_ROLE)
    assert not browser.item_for("easynegative").data(MISMATCH_ROLE)  # the tiny SD1 width is not recognised


def test_the_tag_separators_follow_the_words_around_the_cursor():
    assert insertion("", 0, "<lora:a:1>") == "<lora:a:1>"
    assert insertion("a cat", 5, "<lora:a:1>") == ", <lora:a:1>"
    assert insertion("a cat,", 6, "x") == " x"
    assert insertion("a cat, ", 7, "x") == "x"
    assert insertion("a cat", 0, "x") == "x, "
    assert insertion("a cat, a dog", 7, "x") == "x, "


def test_a_click_inserts_the_lora_tag_at_the_prompt_cursor(qtbot, browser):
    panel = ParamsPanel()
    qtbot.addWidget(panel)
    browser.insert_requested.connect(panel.insert_at_cursor)
    panel.prompt_edit.setPlainText("a castle, oil painting")
    cursor = panel.prompt_edit.textCursor()
    cursor.setPosition(len("a castle,"))
    panel.prompt_edit.setTextCursor(cursor)
    browser.weight_spin.setValue(0.8)
    qtbot.mouseClick(browser.list.viewport(), Qt.MouseButton.LeftButton,
                     pos=browser.list.visualRect(browser.index_of("detail_tweaker")).center())
    assert panel.prompt_edit.toPlainText() == "a castle, <lora:detail_tweaker:0.8> oil painting"
    panel.prompt_edit.undo()  # one undo step takes it out again
    assert panel.prompt_edit.toPlainText() == "a castle, oil painting"


def test_an_embedding_goes_into_the_negative_prompt_when_it_was_typed_in_last(qtbot, browser):
    panel = ParamsPanel()
    qtbot.addWidget(panel)
    panel.show()
    browser.insert_requested.connect(panel.insert_at_cursor)
    panel.prompt_edit.setPlainText("a castle")
    panel.negative_edit.setPlainText("blurry")
    panel.negative_edit.setFocus()
    qtbot.waitUntil(panel.negative_edit.hasFocus)
    panel.negative_edit.moveCursor(QTextCursor.MoveOperation.End)
    browser.show_kind("embedding")
    assert not browser.weight_spin.isVisible()
    browser.list.clicked.emit(browser.index_of("easynegative"))
    assert panel.negative_edit.toPlainText() == "blurry, easynegative"
    assert panel.prompt_edit.toPlainText() == "a castle"


def test_without_networks_it_says_where_to_put_them(qtbot):
    widget = NetworkBrowser()
    qtbot.addWidget(widget)
    widget.set_entries([])
    assert "models/loras" in widget.empty_label.text()

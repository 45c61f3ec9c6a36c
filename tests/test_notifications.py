"""The non-modal message area: errors with hint and details, actions, stacking, info that hides itself."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QColor, QPalette  # noqa: E402
from PySide6.QtWidgets import QPushButton  # noqa: E402

from desktop.notifications import NotificationArea  # noqa: E402


@pytest.fixture
def area(qtbot):
    widget = NotificationArea()
    qtbot.addWidget(widget)
    widget.resize(600, 200)
    widget.show()
    return widget


def test_error_shows_message_and_hint_with_details_hidden_until_asked(qtbot, area):
    note = area.show_error("Out of memory while generating.", hint="Lower the width or batch size.",
                           details="Traceback (most recent call last):\n  RuntimeError: MPS backend out of memory")
    assert area.isVisible() and note.isVisible()
    assert note.message_label.text() == "Out of memory while generating."
    assert note.hint_label.isVisible() and note.hint_label.text() == "Lower the width or batch size."
    assert not note.details_view.isVisible()
    qtbot.mouseClick(note.details_button, Qt.MouseButton.LeftButton)
    assert note.details_view.isVisible()
    assert "MPS backend out of memory" in note.details_view.toPlainText()
    assert note.details_view.font().fixedPitch() or note.details_view.fontInfo().fixedPitch()
    assert note.details_view.textInteractionFlags() & Qt.TextInteractionFlag.TextSelectableByMouse
    qtbot.mouseClick(note.details_button, Qt.MouseButton.LeftButton)
    assert not note.details_view.isVisible()


def test_message_without_details_offers_no_details_button(area):
    note = area.show_warning("The width was rounded to 512.")
    assert not note.details_button.isVisible()
    assert not note.hint_label.isVisible()


def test_close_removes_the_message_and_an_empty_area_takes_no_space(qtbot, area):
    first = area.show_error("The model could not be loaded.")
    second = area.show_error("The image could not be saved.")
    assert area.messages() == [first, second]
    qtbot.mouseClick(first.close_button, Qt.MouseButton.LeftButton)
    assert area.messages() == [second] and not first.isVisible()
    qtbot.mouseClick(second.close_button, Qt.MouseButton.LeftButton)
    assert area.messages() == [] and not area.isVisible()


def test_action_button_calls_back_and_can_dismiss(qtbot, area):
    calls = []
    note = area.show_error("The image could not be saved to /Volumes/full.", hint="The image is kept in memory.")
    button = note.add_action("Save as…", lambda: calls.append("save"), closes=True)
    assert button.isVisible() and button.text() == "Save as…"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert calls == ["save"]
    assert area.messages() == []


def test_actions_given_with_the_error_stay_until_their_callback_succeeds(qtbot, area):
    results = [False, True]  # the first Save as… dialog was cancelled, the second saved
    first = area.show_error("The image could not be saved.", actions=[("Save as…", lambda: results.pop(0))])
    second = area.show_error("The image could not be saved.", actions=[("Save as…", lambda: True)])
    assert second is not first and len(area.messages()) == 2  # each keeps its own image
    save = next(b for b in first.findChildren(QPushButton) if b.text() == "Save as…")
    qtbot.mouseClick(save, Qt.MouseButton.LeftButton)
    assert first in area.messages()
    qtbot.mouseClick(save, Qt.MouseButton.LeftButton)
    assert area.messages() == [second]


def test_errors_stay_while_info_hides_itself(qtbot, area):
    error = area.show_error("Generation failed.")
    info = area.show_info("Queued: 2 jobs waiting.", timeout_ms=50)
    assert area.messages() == [error, info]
    qtbot.waitUntil(lambda: area.messages() == [error], timeout=2000)
    qtbot.wait(100)
    assert error.isVisible()


def test_the_same_error_again_is_counted_not_stacked(area):
    first = area.show_error("The model could not be loaded.")
    again = area.show_error("The model could not be loaded.")
    assert again is first and len(area.messages()) == 1
    assert first.message_label.text() == "The model could not be loaded. (×2)"



@pytest.mark.parametrize("base, dark", [("#1e1e1e", True), ("#ffffff", False)])
def test_banner_colours_follow_a_dark_or_light_palette(qtbot, area, base, dark):
    palette = QPalette(area.palette())
    for role in (QPalette.ColorRole.Base, QPalette.ColorRole.Window):
        palette.setColor(role, QColor(base))
    palette.setColor(QPalette.ColorRole.Text, QColor("#ffffff" if dark else "#000000"))
    area.setPalette(palette)
    note = area.show_error("Generation failed.")
    qtbot.waitUntil(lambda: note.width() > 100)
    pixel = note.grab().toImage().pixelColor(note.width() // 2, 3)
    assert (pixel.lightnessF() < 0.4) == dark
    assert pixel.red() > pixel.blue() + 15  # reads as an error (red), not as plain background

"""The queue panel shows the JobQueue and every edit in it reaches the queue and its file on disk."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QModelIndex, Qt  # noqa: E402
from PySide6.QtGui import QPalette  # noqa: E402

from core.job_queue import JobQueue  # noqa: E402
from core.request import GenerationRequest  # noqa: E402
from desktop.queue_panel import QueuePanel  # noqa: E402

PROMPTS = ["a lighthouse at dusk", "a red fox in snow", "an old map of the sea", "portrait of a knight"]


@pytest.fixture
def queue_file(easel_home):
    return easel_home / "queue.json"


@pytest.fixture
def queue(queue_file):
    queue = JobQueue(queue_file)
    for prompt in PROMPTS:
        queue.add(GenerationRequest(model="dreamshaper_8", prompt=prompt))
    return queue


@pytest.fixture
def panel(qtbot, queue):
    widget = QueuePanel(queue, confirm_clear=lambda parent, count: True)
    qtbot.addWidget(widget)
    widget.show()
    return widget


def shown_prompts(panel: QueuePanel) -> list[str]:
    return [panel.list.item(row).text().split("\n")[0] for row in range(panel.list.count())]


def saved_prompts(queue_file) -> list[str]:
    return [job.request.prompt for job in JobQueue(queue_file).jobs()]


def select(panel: QueuePanel, *rows: int) -> None:
    panel.list.clearSelection()
    for row in rows:
        panel.list.item(row).setSelected(True)


def test_panel_lists_queued_jobs_and_follows_programmatic_additions(panel, queue):
    assert shown_prompts(panel) == PROMPTS
    assert not panel.empty_label.isVisible()
    request = GenerationRequest(model="/models/Stable-diffusion/sd_xl_base_1.0.safetensors",
                                prompt="a very long prompt with many words that will not all fit in the list",
                                width=1024, height=768, steps=30, batch_size=2, batch_count=3)
    queue.add(request)
    text = panel.list.item(4).text()
    assert text == ("a very long prompt with many words that…\n"
                    "sd_xl_base_1.0 · 1024×768 · 30 steps · 6 images (3×2)")
    assert panel.list.item(4).toolTip() == request.prompt
    queue.take_next()
    assert shown_prompts(panel)[0] == PROMPTS[1]


def test_remove_button_and_delete_key_remove_from_the_saved_queue(qtbot, panel, queue_file):
    select(panel, 1)
    qtbot.mouseClick(panel.remove_button, Qt.MouseButton.LeftButton)
    assert saved_prompts(queue_file) == [PROMPTS[0], PROMPTS[2], PROMPTS[3]]
    select(panel, 0, 2)
    panel.list.setFocus()
    qtbot.keyClick(panel.list, Qt.Key.Key_Delete)
    assert saved_prompts(queue_file) == [PROMPTS[2]]
    assert shown_prompts(panel) == [PROMPTS[2]]


def test_move_buttons_reorder_the_saved_queue_and_keep_the_selection(qtbot, panel, queue_file):
    select(panel, 3)
    qtbot.mouseClick(panel.up_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(panel.up_button, Qt.MouseButton.LeftButton)
    assert saved_prompts(queue_file) == [PROMPTS[0], PROMPTS[3], PROMPTS[1], PROMPTS[2]]
    assert [item.text().split("\n")[0] for item in panel.list.selectedItems()] == [PROMPTS[3]]
    select(panel, 0, 1)
    qtbot.mouseClick(panel.down_button, Qt.MouseButton.LeftButton)
    assert saved_prompts(queue_file) == [PROMPTS[1], PROMPTS[0], PROMPTS[3], PROMPTS[2]]
    select(panel, 0)
    assert not panel.up_button.isEnabled() and panel.down_button.isEnabled()


def test_dropping_a_row_elsewhere_reorders_the_saved_queue(qtbot, panel, queue_file):
    # What QListWidget does on an internal drop: it moves the dragged rows in its model.
    assert panel.list.model().moveRow(QModelIndex(), 0, QModelIndex(), 3)
    qtbot.waitUntil(lambda: saved_prompts(queue_file) == [PROMPTS[1], PROMPTS[2], PROMPTS[0], PROMPTS[3]],
                    timeout=2000)
    assert shown_prompts(panel) == saved_prompts(queue_file)


def test_clear_queue_asks_first_and_empties_it(qtbot, queue, queue_file):
    answers = [False, True]
    panel = QueuePanel(queue, confirm_clear=lambda parent, count: answers.pop(0))
    qtbot.addWidget(panel)
    panel.show()
    qtbot.mouseClick(panel.clear_button, Qt.MouseButton.LeftButton)
    assert saved_prompts(queue_file) == PROMPTS
    qtbot.mouseClick(panel.clear_button, Qt.MouseButton.LeftButton)
    assert saved_prompts(queue_file) == [] and panel.list.count() == 0
    assert panel.empty_label.isVisible() and not panel.clear_button.isEnabled()


def test_running_job_shows_on_top_in_its_own_style(panel):
    assert not panel.running_frame.isVisible()
    panel.set_running(GenerationRequest(model="dreamshaper_8.safetensors", prompt="a castle on a hill", steps=12))
    assert panel.running_frame.isVisible()
    assert panel.running_label.text() == "Now: a castle on a hill\ndreamshaper_8 · 512×512 · 12 steps"
    assert panel.running_frame.backgroundRole() == QPalette.ColorRole.Highlight
    assert panel.running_frame.y() < panel.list.y()
    panel.set_running(None)
    assert not panel.running_frame.isVisible()

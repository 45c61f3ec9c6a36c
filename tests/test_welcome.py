"""The first-run view: finds A1111/ComfyUI installs, picks folders and files, downloads only on a click."""

from __future__ import annotations

import hashlib
import random
import threading
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt  # noqa: E402

from core.downloads import RecommendedModel, partial_path  # noqa: E402
from core.errors import EaselError  # noqa: E402
from core.paths import AppPaths  # noqa: E402
from core.settings import Settings  # noqa: E402
from desktop.download_worker import DownloadTask  # noqa: E402
from desktop.welcome import WelcomeView  # noqa: E402
from tests.fake_hub import FakeHub  # noqa: E402

GB = 1024**3
DATA = random.Random(7).randbytes(256 * 1024)
TINY = RecommendedModel(repo_id="tester/tiny-model", filename="tiny.safetensors", revision="main",
                        sha256=hashlib.sha256(DATA).hexdigest(), size=len(DATA), architecture="sd1",
                        title="Tiny test model", why="It is small.")


@pytest.fixture
def paths(easel_home):
    return AppPaths(easel_home).ensure()


@pytest.fixture
def home(tmp_path):
    """A user's home folder with an A1111 install holding two checkpoints."""
    checkpoints = tmp_path / "home" / "stable-diffusion-webui" / "models" / "Stable-diffusion"
    checkpoints.mkdir(parents=True)
    for name in ("dreamshaper_8.safetensors", "majicmix.ckpt"):
        (checkpoints / name).write_bytes(b"x")
    return tmp_path / "home"


def make_view(qtbot, paths, home, settings=None, **kwargs):
    kwargs.setdefault("recommendation", TINY)
    view = WelcomeView(paths, settings or Settings(), memory_bytes=8 * GB, system="Darwin", home=home, **kwargs)
    qtbot.addWidget(view)
    view.show()
    return view


def click(qtbot, button):
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_found_a1111_install_is_listed_and_use_emits_its_folder(qtbot, paths, home):
    view = make_view(qtbot, paths, home)
    install = home / "stable-diffusion-webui"
    assert [i.path for i in view.installs] == [install]
    labels = " ".join(label.text() for label in view.findChildren(type(view.why_label)))
    assert f"AUTOMATIC1111 — {install}" in labels and "2 checkpoints" in labels
    with qtbot.waitSignal(view.install_root_chosen, timeout=1000) as chosen:
        click(qtbot, view.use_buttons[0])
    assert chosen.args == [install]


def test_no_install_found_says_so(qtbot, paths, tmp_path):
    view = make_view(qtbot, paths, tmp_path / "empty-home")
    assert view.installs == [] and view.use_buttons == []
    assert any("None found" in label.text() for label in view.findChildren(type(view.why_label)))


def test_choose_folder_tells_an_install_from_a_plain_model_folder(qtbot, paths, home, tmp_path):
    plain = tmp_path / "my-models"
    plain.mkdir()
    picks = [str(home / "stable-diffusion-webui"), str(plain), ""]
    view = make_view(qtbot, paths, home, choose_folder=lambda parent, caption: picks.pop(0))
    with qtbot.waitSignal(view.install_root_chosen, timeout=1000) as install:
        click(qtbot, view.choose_folder_button)
    assert install.args == [home / "stable-diffusion-webui"]
    with qtbot.waitSignal(view.model_folder_chosen, timeout=1000) as folder:
        click(qtbot, view.choose_folder_button)
    assert folder.args == [plain]
    with qtbot.assertNotEmitted(view.model_folder_chosen), qtbot.assertNotEmitted(view.install_root_chosen):
        click(qtbot, view.choose_folder_button)  # the dialog was cancelled


def test_add_checkpoint_file_emits_the_chosen_file(qtbot, paths, home, tmp_path):
    asked = []

    def choose_file(parent, caption, file_filter):
        asked.append(file_filter)
        return str(tmp_path / "dreamshaper_8.safetensors")

    view = make_view(qtbot, paths, home, choose_file=choose_file)
    with qtbot.waitSignal(view.checkpoint_file_chosen, timeout=1000) as chosen:
        click(qtbot, view.add_file_button)
    assert chosen.args == [tmp_path / "dreamshaper_8.safetensors"]
    assert "*.safetensors" in asked[0] and "*.ckpt" in asked[0]


@pytest.mark.parametrize("memory_gb, expected", [(8, "Stable Diffusion 1.5"), (32, "Stable Diffusion XL")])
def test_download_card_recommends_by_memory_and_says_why(qtbot, paths, home, memory_gb, expected):
    view = WelcomeView(paths, Settings(), memory_bytes=memory_gb * GB, system="Darwin", home=home)
    qtbot.addWidget(view)
    view.show()
    assert view.model_title_label.text().startswith(expected)
    assert " GB" in view.model_title_label.text()
    assert f"{memory_gb} GB" in view.why_label.text()
    assert "huggingface.co" in view.endpoint_label.text()


def test_a_click_on_download_fetches_the_file_from_the_endpoint_and_nothing_before(qtbot, paths, home):
    with FakeHub() as hub:
        hub.add_file(TINY.repo_id, TINY.filename, DATA)
        view = make_view(qtbot, paths, home, settings=Settings(hub_endpoint=hub.endpoint))
        assert hub.endpoint in view.endpoint_label.text()
        qtbot.wait(200)
        assert hub.requests == []  # shown, but not asked for
        with qtbot.waitSignal(view.download_finished, timeout=30_000) as finished:
            click(qtbot, view.download_button)
        path = paths.models_dir / "checkpoints" / TINY.filename
        assert finished.args == [path] and path.read_bytes() == DATA
        assert hub.gets()
    assert view.download_bar.value() == view.download_bar.maximum()
    assert "Downloaded" in view.download_status.text() and not view.is_downloading()


def blocking_download(started: threading.Event, progress=(100_000, TINY.size)):
    """A download that reports some bytes, then waits until cancelled (as a slow network would)."""
    def download(model, dest_dir, endpoint, on_progress, cancel):
        on_progress(*progress)
        started.set()
        while not cancel():
            threading.Event().wait(0.01)
        raise EaselError("The download was stopped.")
    return download


def test_cancel_stops_the_download_while_the_window_stays_responsive(qtbot, paths, home):
    started = threading.Event()
    download = blocking_download(started)
    factory = lambda model, dest, endpoint: DownloadTask(model, dest, endpoint, download=download)  # noqa: E731
    view = make_view(qtbot, paths, home, task_factory=factory)
    click(qtbot, view.download_button)
    qtbot.waitUntil(started.is_set, timeout=5000)
    qtbot.waitUntil(lambda: view.download_status.text() == "100.0 KB of 262.1 KB", timeout=5000)
    assert view.cancel_button.isVisible() and not view.download_button.isEnabled()
    click(qtbot, view.cancel_button)  # the UI thread is free while the download runs
    qtbot.waitUntil(lambda: not view.is_downloading(), timeout=5000)
    assert view.download_status.text() == "Download stopped. 100.0 KB is kept: Resume continues from there."
    assert view.download_button.text() == "Resume download" and view.download_button.isEnabled()
    assert not view.cancel_button.isVisible()


def test_a_failed_download_shows_the_message_and_hint(qtbot, paths, home):
    def failing(model, dest_dir, endpoint, on_progress, cancel):
        raise EaselError("The downloaded tiny.safetensors is damaged.", "It was deleted. Download again.")

    factory = lambda model, dest, endpoint: DownloadTask(model, dest, endpoint, download=failing)  # noqa: E731
    view = make_view(qtbot, paths, home, task_factory=factory)
    click(qtbot, view.download_button)
    qtbot.waitUntil(lambda: not view.is_downloading(), timeout=5000)
    assert view.download_status.text() == "The downloaded tiny.safetensors is damaged. It was deleted. Download again."
    assert view.download_button.isEnabled()


def test_a_partial_download_from_an_earlier_run_is_offered_for_resume(qtbot, paths, home):
    partial = partial_path(TINY, paths.models_dir / "checkpoints")
    partial.parent.mkdir(parents=True, exist_ok=True)
    partial.write_bytes(DATA[:50_000])
    view = make_view(qtbot, paths, home)
    assert view.download_button.text() == "Resume download"
    assert view.download_status.text() == "50.0 KB is kept: Resume continues from there."


def test_download_task_reports_progress_at_most_every_tenth_of_a_second(qtbot, tmp_path):
    def chatty(model, dest_dir, endpoint, on_progress, cancel):
        for done in range(1, 10_001):
            on_progress(done, 10_000)
        return Path(dest_dir) / "model.safetensors"

    task = DownloadTask(TINY, tmp_path, None, download=chatty)
    reports = []
    task.progress.connect(lambda done, total: reports.append(done))
    with qtbot.waitSignal(task.finished, timeout=5000) as finished:
        task.start()
    assert finished.args == [tmp_path / "model.safetensors"]
    assert reports[-1] == 10_000 and len(reports) < 100
    assert not task.is_running()

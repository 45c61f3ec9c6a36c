"""The whole app with a tiny real model: generate, queue, cancel, gallery, history, reuse, drop, restart."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from PIL import Image, ImageFilter  # noqa: E402
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QTimer, QUrl  # noqa: E402
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QTextCursor  # noqa: E402
from PySide6.QtWidgets import QApplication, QPushButton  # noqa: E402

from core.events import Cancelled, Finished, Progress  # noqa: E402
from core.images import save_png_atomically  # noqa: E402
from core.infotext import parse_infotext  # noqa: E402
from core.job_queue import JobQueue  # noqa: E402
from core.paths import AppPaths  # noqa: E402
from core.settings import Settings  # noqa: E402
from desktop.app import start_session  # noqa: E402
from desktop.network_browser import HASH_ROLE, MISMATCH_ROLE  # noqa: E402

LONG = 120_000


def _install_tiny_model(paths: AppPaths, model, name: str = "tiny-sd1") -> Path:  # type: ignore[no-untyped-def]
    checkpoint = paths.models_dir / "checkpoints" / f"{name}.safetensors"
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(model.checkpoint, checkpoint)
    settings = Settings(model_configs={str(checkpoint.resolve()): str(model.config_dir)})
    settings.save(paths.settings_file)
    return checkpoint


TRASHED: list[Path] = []


def _trash(path: Path) -> None:
    TRASHED.append(path)
    path.unlink()


def _open(qtbot, paths: AppPaths):  # type: ignore[no-untyped-def]
    return start_session(paths, confirm=lambda question: True, trash=_trash)


@pytest.fixture
def paths(easel_home) -> AppPaths:  # type: ignore[no-untyped-def]
    return AppPaths(easel_home).ensure()


@pytest.fixture
def session(qtbot, paths, tiny_models):  # type: ignore[no-untyped-def]
    _install_tiny_model(paths, tiny_models["sd1"])
    opened = _open(qtbot, paths)
    qtbot.waitUntil(lambda: opened.window.params.model_picker.count() == 1, timeout=LONG)
    yield opened
    opened.close()


def _set_small(window, steps: int = 2, prompt: str = "a small boat") -> None:  # type: ignore[no-untyped-def]
    params = window.params
    params.prompt_edit.setPlainText(prompt)
    params.steps_spin.setValue(steps)
    params.size_editor.width_spin.setValue(64)
    params.size_editor.height_spin.setValue(64)
    params.sampler_box.setCurrentText("Euler")


def _history_rows(paths: AppPaths) -> list[tuple[str, str]]:
    with sqlite3.connect(paths.history_db) as db:
        return db.execute("SELECT path, infotext FROM images ORDER BY id").fetchall()


def _idle(window) -> bool:  # type: ignore[no-untyped-def]
    return not window._dispatcher.busy and len(window._dispatcher.queue) == 0


def test_generate_shows_progress_and_lands_in_gallery_and_history(qtbot, session, paths):
    window = session.window
    _set_small(window)
    window.params.seed_editor.spin.setValue(77)
    events = []
    session.worker.event.connect(events.append)
    qtbot.mouseClick(window.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: any(isinstance(e, Finished) for e in events) and _idle(window), timeout=LONG)
    qtbot.waitUntil(lambda: window.gallery.model.rowCount() == 1, timeout=10_000)

    assert [e.step for e in events if isinstance(e, Progress)] == [1, 2]
    rows = _history_rows(paths)
    assert len(rows) == 1
    path, infotext = rows[0]
    assert Path(path).is_file()
    params = parse_infotext(infotext).params
    assert (params["Steps"], params["Seed"], params["Size"], params["Model"]) == ("2", "77", "64x64", "tiny-sd1")
    assert window.image_view.has_image()


def test_ctrl_enter_in_the_prompt_generates(qtbot, session, paths):
    window = session.window
    _set_small(window)
    window.params.prompt_edit.setFocus()
    qtbot.keyClick(window.params.prompt_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: len(_history_rows(paths)) == 1 and _idle(window), timeout=LONG)
    assert "\n" not in window.params.prompt_edit.toPlainText()


def test_cancel_mid_run_then_generate_again(qtbot, session, paths):
    window = session.window
    _set_small(window, steps=40)
    events = []
    session.worker.event.connect(events.append)

    def cancel_on_first_step(event) -> None:  # type: ignore[no-untyped-def]
        if isinstance(event, Progress) and event.step == 1:
            qtbot.keyClick(window, Qt.Key.Key_Escape)

    session.worker.event.connect(cancel_on_first_step)
    window.generate()
    qtbot.waitUntil(lambda: any(isinstance(e, Cancelled) for e in events) and _idle(window), timeout=LONG)
    steps = [e.step for e in events if isinstance(e, Progress)]
    assert max(steps) < 40  # stopped well before the end
    assert _history_rows(paths) == []
    session.worker.event.disconnect(cancel_on_first_step)

    _set_small(window, steps=2)
    window.generate()
    qtbot.waitUntil(lambda: len(_history_rows(paths)) == 1 and _idle(window), timeout=LONG)


def test_generate_while_busy_queues_and_runs_both(qtbot, session, paths):
    window = session.window
    _set_small(window, steps=6, prompt="first")
    window.generate()
    _set_small(window, steps=2, prompt="second")
    window.generate()
    assert window._dispatcher.busy and len(window._dispatcher.queue) == 1
    assert "second" in window.queue_panel.list.item(0).text()
    qtbot.waitUntil(lambda: len(_history_rows(paths)) == 2 and _idle(window), timeout=LONG)
    prompts = [parse_infotext(text).prompt for _, text in _history_rows(paths)]
    assert prompts == ["first", "second"]


def test_queue_survives_a_restart_and_waits_for_the_person(qtbot, paths, tiny_models):
    _install_tiny_model(paths, tiny_models["sd1"])
    first = _open(qtbot, paths)
    qtbot.waitUntil(lambda: first.window.params.model_picker.count() == 1, timeout=LONG)
    first.window._dispatcher.resume = lambda: None  # keep it from starting, as if the app quit first
    first.window._dispatcher._paused = True
    _set_small(first.window, prompt="left for later")
    first.window.generate()
    first.window.close()
    first.close()

    second = _open(qtbot, paths)
    try:
        assert len(second.window._dispatcher.queue) == 1 and second.window._dispatcher.paused
        assert "left for later" in second.window.queue_panel.list.item(0).text()
        qtbot.waitUntil(lambda: second.window.params.model_picker.count() == 1, timeout=LONG)
        second.window._dispatcher.resume()
        qtbot.waitUntil(lambda: len(_history_rows(paths)) == 1 and _idle(second.window), timeout=LONG)
    finally:
        second.close()


def test_reuse_parameters_from_a_gallery_item(qtbot, session, paths):
    window = session.window
    _set_small(window, prompt="a lighthouse")
    window.params.seed_editor.spin.setValue(4242)
    window.generate()
    qtbot.waitUntil(lambda: window.gallery.model.rowCount() == 1 and _idle(window), timeout=LONG)
    window.params.prompt_edit.setPlainText("something else")
    window.params.seed_editor.spin.setValue(-1)
    window.params.steps_spin.setValue(30)

    entry = window.gallery.model.entry(0)
    window.show_entry(entry)
    window.details.reuse_button.click()
    assert window.params.prompt_edit.toPlainText() == "a lighthouse"
    assert window.params.seed_editor.spin.value() == 4242
    assert window.params.steps_spin.value() == 2


def _drop(window, path: Path) -> None:  # type: ignore[no-untyped-def]
    """What the platform sends for a drop: enter (the window accepts), then the drop itself."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    buttons, modifiers = Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(QPoint(50, 50), Qt.DropAction.CopyAction, mime, buttons, modifiers)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(window, QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime, buttons, modifiers))


def test_dropping_an_a1111_png_shows_and_reuses_its_parameters(qtbot, session, tmp_path):
    window = session.window
    infotext = ("a castle on a hill, (sunset:1.2)\nNegative prompt: fog\n"
                "Steps: 31, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 5.5, Seed: 123456, "
                "Size: 640x448, Model hash: 0123456789, Model: tiny-sd1, Clip skip: 2")
    png = save_png_atomically(Image.new("RGB", (32, 32), "red"), tmp_path / "from-a1111.png", infotext, None)
    _drop(window, png)
    assert "castle" in window.details.prompt.text.text()
    assert "DPM++ 2M" in window.details.parameters.text.text()
    window.details.reuse_button.click()
    params = window.params
    assert params.prompt_edit.toPlainText() == "a castle on a hill, (sunset:1.2)"
    assert params.negative_edit.toPlainText() == "fog"
    assert (params.steps_spin.value(), params.seed_editor.seed()) == (31, 123456)
    assert (params.size_editor.width_spin.value(), params.size_editor.height_spin.value()) == (640, 448)
    assert params.sampler_box.currentText() == "DPM++ 2M" and params.schedule_box.currentText() == "Karras"
    assert params.cfg_spin.value() == 5.5 and params.clip_skip_spin.value() == 2


def test_unwritable_output_folder_keeps_the_image_and_offers_save_as(qtbot, paths, tiny_models, tmp_path):
    _install_tiny_model(paths, tiny_models["sd1"])
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the output folder should be")
    settings = Settings.load(paths.settings_file)
    settings.outputs_dir = str(blocker / "outputs")
    settings.save(paths.settings_file)
    session = _open(qtbot, paths)
    try:
        window = session.window
        qtbot.waitUntil(lambda: window.params.model_picker.count() == 1, timeout=LONG)
        _set_small(window)
        window.generate()
        qtbot.waitUntil(lambda: bool(window.unsaved.images) and _idle(window), timeout=LONG)
        assert any("could not be saved" in m.message_label.text() for m in window.notifications.messages())
        saved = tmp_path / "rescued.png"
        window.unsaved.ask_path = lambda parent, name: str(saved)
        key = next(iter(window.unsaved.images))
        window.unsaved.save(key)
        assert saved.is_file() and not window.unsaved.images
        assert "Steps: 2" in Image.open(saved).text["parameters"]
    finally:
        session.close()


def test_first_run_without_models_shows_the_welcome_view(qtbot, paths):
    session = _open(qtbot, paths)
    try:
        qtbot.waitUntil(lambda: session.window.center_stack.currentWidget() is session.window.welcome_page,
                        timeout=LONG)
        assert session.window.welcome.isVisible()
    finally:
        session.close()


def test_restart_restores_parameters_and_geometry(qtbot, paths, tiny_models):
    _install_tiny_model(paths, tiny_models["sd1"])
    first = _open(qtbot, paths)
    qtbot.waitUntil(lambda: first.window.params.model_picker.count() == 1, timeout=LONG)
    _set_small(first.window, steps=13, prompt="remember me")
    first.window.params.cfg_spin.setValue(4.5)
    first.window.params.hires_group.setChecked(True)
    first.window.params.hires_group.steps_spin.setValue(7)
    first.window.extras.tile_spin.setValue(256)
    first.window.mode_tabs.setCurrentIndex(4)  # Extras
    first.window.resize(1111, 777)
    assert (first.window.width(), first.window.height()) == (1111, 777)
    first.window.close()
    first.close()

    second = _open(qtbot, paths)
    try:
        qtbot.waitUntil(lambda: second.window.params.model_picker.count() == 1, timeout=LONG)
        params = second.window.params
        assert params.prompt_edit.toPlainText() == "remember me"
        assert (params.steps_spin.value(), params.cfg_spin.value()) == (13, 4.5)
        assert params.model_picker.currentText().startswith("tiny-sd1")
        assert (second.window.width(), second.window.height()) == (1111, 777)
        assert params.to_request().hires.steps == 7
        assert second.window.extras.tile_spin.value() == 256 and second.window.extras.isVisible()
        assert second.window.generate_button.text() == "Upscale"
    finally:
        second.close()


def test_event_loop_stays_responsive_while_generating(qtbot, paths, tiny_models, capsys):
    _install_tiny_model(paths, tiny_models["sd1"])
    session = _open(qtbot, paths)
    with qtbot.waitSignal(session.worker.warmed_up, timeout=LONG):
        pass
    window = session.window
    qtbot.waitUntil(lambda: window.params.model_picker.count() == 1, timeout=LONG)
    _set_small(window, steps=8)
    gaps: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(tick)
    timer.start()
    try:
        window.generate()
        assert window._dispatcher.busy
        last[0] = time.perf_counter()
        gaps.clear()
        qtbot.waitUntil(lambda: _idle(window), timeout=LONG)
    finally:
        timer.stop()
        session.close()
    worst = max(gaps) * 1000
    with capsys.disabled():
        print(f"\n[event loop] {len(gaps)} ticks during a generation, worst gap {worst:.0f} ms")
    assert worst < 100


def test_window_is_shown_before_torch_is_imported(tmp_path, tiny_models):
    script = textwrap.dedent(f"""
        import os, sys
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        os.environ["EASEL_HOME"] = {str(tmp_path / "home")!r}
        from PySide6.QtWidgets import QApplication
        app = QApplication([])
        from core.paths import AppPaths
        from desktop import app as desktop_app
        seen = {{}}
        original_start = desktop_app.WorkerThread.start
        def start(thread):
            window = QApplication.topLevelWidgets()
            seen["visible"] = any(w.isVisible() and w.windowTitle() == "Easel" for w in window)
            seen["torch"] = "torch" in sys.modules or "diffusers" in sys.modules
            original_start(thread)
        desktop_app.WorkerThread.start = start
        session = desktop_app.start_session(AppPaths.from_environment().ensure())
        session.close()
        print(seen["visible"], seen["torch"])
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                            cwd=Path(__file__).resolve().parent.parent)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == ["True", "False"]


def test_dropping_a_model_file_adds_it_to_the_model_list(qtbot, session, tiny_models, tmp_path):
    window = session.window
    dropped = tmp_path / "dropped-sd2.safetensors"
    shutil.copy(tiny_models["sd2"].checkpoint, dropped)
    _drop(window, dropped)
    qtbot.waitUntil(lambda: window.params.model_picker.count() == 2, timeout=LONG)
    assert (session.paths.models_dir / "checkpoints" / dropped.name).is_file()


def test_an_image_saved_without_its_history_row_is_in_the_gallery_after_a_restart(qtbot, paths):
    # What a kill between writing the PNG and recording it leaves behind (also: images from `easel generate`).
    folder = paths.outputs_dir / "txt2img-images" / "2026-11-30"
    folder.mkdir(parents=True)
    infotext = "a kept image\nSteps: 2, Sampler: Euler, CFG scale: 7, Seed: 5, Size: 32x32, Model: tiny-sd1"
    save_png_atomically(Image.new("RGB", (32, 32), "blue"), folder / "00000-5.png", infotext, None)
    (folder / ".00001-6.png.1a2b3c4d.tmp").write_bytes(b"\x89PNG half an image")
    session = _open(qtbot, paths)
    try:
        qtbot.waitUntil(lambda: session.window.gallery.model.rowCount() == 1, timeout=LONG)
        assert session.window.gallery.model.entry(0).prompt == "a kept image"
        qtbot.waitUntil(lambda: not (folder / ".00001-6.png.1a2b3c4d.tmp").exists(), timeout=10_000)
    finally:
        session.close()


def test_delete_from_the_details_panel_trashes_the_file_and_forgets_it(qtbot, session, paths):
    window = session.window
    _set_small(window)
    window.generate()
    qtbot.waitUntil(lambda: window.gallery.model.rowCount() == 1 and _idle(window), timeout=LONG)
    entry = window.gallery.model.entry(0)
    window.show_entry(entry)
    window.details.delete_button.click()
    assert TRASHED[-1] == entry.path and not entry.path.exists()
    assert window.gallery.model.rowCount() == 0 and _history_rows(paths) == []
    assert not window.image_view.has_image()


def test_choosing_an_a1111_install_on_the_welcome_view_lists_its_models(qtbot, paths, tiny_models, tmp_path):
    webui = tmp_path / "stable-diffusion-webui"
    (webui / "models" / "Stable-diffusion").mkdir(parents=True)
    (webui / "webui.py").write_text("# A1111\n")
    shutil.copy(tiny_models["sd1"].checkpoint, webui / "models" / "Stable-diffusion" / "from-webui.safetensors")
    session = _open(qtbot, paths)
    try:
        window = session.window
        qtbot.waitUntil(lambda: window.center_stack.currentWidget() is window.welcome_page, timeout=LONG)
        window.welcome.install_root_chosen.emit(webui)
        qtbot.waitUntil(lambda: window.params.model_picker.count() == 1, timeout=LONG)
        assert window.center_stack.currentWidget() is window.image_view
        assert Settings.load(paths.settings_file).install_roots == [str(webui)]
    finally:
        session.close()


def test_closing_while_busy_cancels_and_keeps_the_waiting_requests(qtbot, paths, tiny_models):
    _install_tiny_model(paths, tiny_models["sd1"])
    session = _open(qtbot, paths)
    window = session.window
    qtbot.waitUntil(lambda: window.params.model_picker.count() == 1, timeout=LONG)
    _set_small(window, steps=200, prompt="long one")
    window.generate()
    _set_small(window, steps=200, prompt="waiting one")
    window.generate()
    started = time.perf_counter()
    window.close()
    session.close()
    assert time.perf_counter() - started < 30  # one step, not two whole generations
    assert [job.request.prompt for job in JobQueue(paths.home / "queue.json").jobs()] == ["waiting one"]


def _gradient(path: Path, size: int = 64) -> Path:
    import numpy as np

    ramp = np.linspace(0, 255, size, dtype=np.uint8)
    pixels = np.stack([np.tile(ramp, (size, 1)), np.tile(ramp[:, None], (1, size)), np.full((size, size), 90,
                                                                                              np.uint8)], -1)
    Image.fromarray(pixels).save(path)
    return path


def test_inpainting_on_the_canvas_keeps_everything_outside_the_mask(qtbot, session, paths, tmp_path):
    import numpy as np

    from core.mask import Brush

    window = session.window
    source = _gradient(tmp_path / "photo.png")
    window.params.size_editor.set_image_size(512, 512)
    window.send_to("inpaint", source)
    assert window.center_stack.currentWidget() is window.inpaint_page
    assert window.params.size_editor.image_size() == (64, 64)  # generates at the sent image's size
    document = window.inpaint_workspace.canvas.document
    document.begin_stroke(20, 32, Brush(size=12))
    document.stroke_to(44, 32)
    document.end_stroke()
    _set_small(window, steps=3, prompt="a red boat")
    window.generate()
    qtbot.waitUntil(lambda: len(_history_rows(paths)) == 1 and _idle(window), timeout=LONG)
    path, infotext = _history_rows(paths)[0]
    assert "Mask blur: 4" in infotext
    result = np.asarray(Image.open(path).convert("RGB")).astype(int)
    original = np.asarray(Image.open(source).convert("RGB")).astype(int)
    touched = np.asarray(Image.fromarray(np.asarray(document.mask)).filter(ImageFilter.MaxFilter(21)))  # blur + 2
    assert (result[touched == 0] == original[touched == 0]).all()
    assert (result[np.asarray(document.mask) == 255] != original[np.asarray(document.mask) == 255]).any()


def test_the_canvas_comes_back_after_a_restart(qtbot, paths, tiny_models, tmp_path):
    import numpy as np

    from core.mask import Brush

    _install_tiny_model(paths, tiny_models["sd1"])
    first = _open(qtbot, paths)
    first.window.send_to("inpaint", _gradient(tmp_path / "photo.png"))
    document = first.window.inpaint_workspace.canvas.document
    document.begin_stroke(10, 10, Brush(size=8))
    document.end_stroke()
    first.window.inpaint_workspace.canvas.mask_changed.emit()
    painted = np.array(document.mask)
    first.window.close()
    first.close()

    second = _open(qtbot, paths)
    try:
        restored = second.window.inpaint_workspace.canvas.document
        assert restored is not None and (np.asarray(restored.mask) == painted).all()
        assert second.window.current_mode.value == "inpaint"
    finally:
        second.close()


def test_the_pose_tab_steers_generation_with_the_edited_pose(qtbot, paths, tiny_models, tiny_controlnets):
    _install_tiny_model(paths, tiny_models["sd1"])
    control_dir = paths.models_dir / "controlnet"
    control_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(tiny_controlnets["sd1"], control_dir / "control_openpose_tiny.safetensors")
    session = _open(qtbot, paths)
    try:
        window = session.window
        qtbot.waitUntil(lambda: window.params.model_picker.count() == 1
                        and window.controlnet.editors[0].model_box.count() == 1, timeout=LONG)
        _set_small(window, steps=2, prompt="a dancer")
        window.mode_tabs.setCurrentIndex(3)
        assert window.center_stack.currentWidget() is window.pose_scroller
        assert window.controlnet.isChecked() and window.controlnet.editors[0].source == "pose"
        editor = window.pose_workspace.editor
        assert (editor.document.width, editor.document.height) == (64, 64)  # follows the generation size
        window.pose_workspace.editor.panel.add_template("standing")
        window.generate()
        qtbot.waitUntil(lambda: len(_history_rows(paths)) == 1 and _idle(window), timeout=LONG)
        infotext = _history_rows(paths)[0][1]
        assert 'ControlNet 0: "Module: none, Model: control_openpose_tiny' in infotext
    finally:
        session.close()


def test_detect_pose_without_weights_offers_the_download_then_detects(qtbot, session, tmp_path, monkeypatch):
    import dataclasses
    import hashlib
    import io

    import torch

    from core.openpose_body import BodyPoseNet
    from core.pose_detect import detector_download
    from tests.fake_hub import FakeHub
    from tests.test_pose_detect import SKELETON, _synthetic_maps

    buffer = io.BytesIO()
    torch.save(BodyPoseNet().state_dict(), buffer)  # random weights of the real architecture
    weights = buffer.getvalue()
    small = dataclasses.replace(detector_download(), size=len(weights), sha256=hashlib.sha256(weights).hexdigest())
    monkeypatch.setattr("core.pose_detect.detector_download", lambda: small)
    person = [(60 + dx, 15 + dy) for dx, dy in SKELETON]
    monkeypatch.setattr("core.pose_detect.network_maps", lambda net, image, device: _synthetic_maps([person], 200, 120))
    photo = tmp_path / "photo.png"
    Image.new("RGB", (120, 200)).save(photo)
    window = session.window
    window.mode_tabs.setCurrentIndex(3)
    with FakeHub() as hub:
        hub.add_file(small.repo_id, small.filename, weights)
        window.sources.settings.hub_endpoint = hub.endpoint
        window.pose_workspace.detect(photo)
        offer = window.notifications.messages()[-1]
        assert "body_pose_model.pth" in offer.message_label.text() and hub.requests == []  # asked, not fetched
        next(button for button in offer.findChildren(QPushButton) if button.text() == "Download").click()
        qtbot.waitUntil(lambda: len(window.pose_workspace.editor.document.people) == 1, timeout=LONG)
    assert (session.paths.models_dir / "annotators" / "body_pose_model.pth").read_bytes() == weights


def test_the_lora_browser_inserts_a_tag_that_the_generation_uses(qtbot, paths, tiny_models):
    from core.models.hashing import autov2
    from core.synthetic.lora import write_tiny_lora

    _install_tiny_model(paths, tiny_models["sd1"])
    lora = write_tiny_lora(paths.models_dir / "loras" / "detail.safetensors", "sd1")
    session = _open(qtbot, paths)
    try:
        window = session.window
        qtbot.waitUntil(lambda: window.networks.visible_names() == ["detail"], timeout=LONG)
        qtbot.waitUntil(window.networks.hashing_done, timeout=LONG)
        assert not window.networks.item_for("detail").data(MISMATCH_ROLE)  # an SD1 LoRA for an SD1 model
        _set_small(window, prompt="a boat")
        window.params.prompt_edit.moveCursor(QTextCursor.MoveOperation.End)
        window.networks.weight_spin.setValue(0.5)
        window.networks.list.clicked.emit(window.networks.index_of("detail"))
        assert window.params.prompt_edit.toPlainText() == "a boat, <lora:detail:0.5>"
        window.generate()
        qtbot.waitUntil(lambda: len(_history_rows(paths)) == 1 and _idle(window), timeout=LONG)
        params = parse_infotext(_history_rows(paths)[0][1]).params
        assert window.networks.item_for("detail").data(HASH_ROLE) == autov2(lora)
        assert params["Lora hashes"].startswith(f"detail: {autov2(lora)}")
    finally:
        session.close()


def test_a_scribble_on_a_new_blank_canvas_is_a_control_units_drawing(qtbot, session):
    import numpy as np

    from core.mask import Brush

    window = session.window
    window.params.size_editor.set_image_size(96, 64)
    window.controlnet.setChecked(True)
    editor = window.controlnet.editors[0]
    editor.enabled_box.setChecked(True)
    editor.source_box.setCurrentIndex(editor.source_box.findData("drawing"))
    assert window.build_request() is None  # nothing drawn yet: the person is told how to start
    assert "New Blank Canvas" in window.notifications.messages()[-1].message
    window.actions_.new_blank_canvas.trigger()
    assert window.center_stack.currentWidget() is window.inpaint_page
    document = window.inpaint_workspace.canvas.document
    assert (document.width, document.height) == (96, 64)
    document.begin_stroke(10, 32, Brush(size=6))
    document.stroke_to(80, 32)
    document.end_stroke()
    window.mode_tabs.setCurrentIndex(0)
    [unit] = window.build_request().controlnets
    drawing = np.asarray(Image.open(unit.image).convert("L"))
    assert drawing.shape == (64, 96) and drawing[32, 10:80].min() == 255 and drawing[5].max() == 0

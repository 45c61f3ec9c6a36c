"""The Extras mode in the whole app: "Upscale" on a gallery image, the real worker and a tiny ESRGAN; cancel."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from PIL import Image  # noqa: E402

from core.events import Cancelled, Finished, UpscaleProgress  # noqa: E402
from core.images import save_png_atomically  # noqa: E402
from core.infotext import parse_infotext  # noqa: E402
from core.paths import AppPaths  # noqa: E402
from desktop.app import start_session  # noqa: E402
from core.images import images_in_folder  # noqa: E402
from desktop.extras_panel import ExtrasPanel  # noqa: E402
from desktop.main_window import EXTRAS_TAB  # noqa: E402

LONG = 120_000
INFOTEXT = "a red fox\nSteps: 2, Sampler: Euler, CFG scale: 7, Seed: 77, Size: 48x32, Model: tiny-sd1"


@pytest.fixture
def paths(easel_home) -> AppPaths:  # type: ignore[no-untyped-def]
    return AppPaths(easel_home).ensure()


@pytest.fixture
def session(qtbot, paths, tiny_upscalers):  # type: ignore[no-untyped-def]
    folder = paths.models_dir / "upscalers"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(tiny_upscalers["esrgan"], folder / "4x-tiny-esrgan.safetensors")
    opened = start_session(paths, confirm=lambda question: True, trash=lambda path: None)
    qtbot.waitUntil(lambda: opened.window.extras.upscaler_box.count() == 3, timeout=LONG)
    yield opened
    opened.close()


def _history_rows(paths: AppPaths) -> list[tuple[str, str]]:
    with sqlite3.connect(paths.history_db) as db:
        return db.execute("SELECT path, infotext FROM images ORDER BY id").fetchall()


def _picture(path: Path, size: tuple[int, int] = (48, 32)) -> Path:
    image = Image.radial_gradient("L").resize(size).convert("RGB")
    return save_png_atomically(image, path, INFOTEXT, None)


def test_upscale_from_the_gallery_lands_in_the_gallery_with_its_parameters(qtbot, session, paths, tmp_path):
    window = session.window
    source = _picture(tmp_path / "fox.png")
    events: list = []
    session.worker.event.connect(events.append)
    window.send_to("extras", source)  # what "Upscale…" in the gallery and the Details panel send
    assert window.mode_tabs.currentIndex() == EXTRAS_TAB and window.extras.isVisible()
    assert not window.params.isVisible() and window.generate_button.text() == "Upscale"
    assert window.extras.images() == [source]
    assert window.extras.upscaler_box.currentText() == "4x-tiny-esrgan"  # the model, not a plain resize
    window.extras.tile_spin.setValue(64)
    window.generate_button.click()  # the one click left to the person
    qtbot.waitUntil(lambda: any(isinstance(e, Finished) for e in events) and not window.extras_runner.running,
                    timeout=LONG)
    qtbot.waitUntil(lambda: window.gallery.model.rowCount() == 1, timeout=10_000)

    tiles = [e for e in events if isinstance(e, UpscaleProgress)]
    assert tiles and tiles[-1].tile == tiles[-1].tiles and tiles[-1].image_count == 1
    path, infotext = _history_rows(paths)[0]
    assert Path(path).parent.parent == paths.outputs_dir / "extras-images"
    assert Image.open(path).size == (192, 128)  # the model's native 4x
    params = parse_infotext(infotext).params
    assert (params["Seed"], params["Postprocess upscaler"], params["Postprocess upscale by"]) == (
        "77", "4x-tiny-esrgan", "4")
    assert window.gallery.model.entry(0).prompt == "a red fox"
    assert window.image_view.has_image() and window.progress.status_label.text().startswith("Done")
    assert window.params.seed_editor.last_seed() != 77  # an upscale is not a new generation


def test_a_folder_upscales_as_a_batch_into_the_chosen_folder(qtbot, session, paths, tmp_path):
    window = session.window
    batch = tmp_path / "batch"
    batch.mkdir()
    for name in ("a.png", "b.png"):
        _picture(batch / name, (16, 16))
    (batch / "notes.txt").write_text("not an image")
    out = tmp_path / "upscaled"
    window.mode_tabs.setCurrentIndex(EXTRAS_TAB)
    window.extras._choose_folder = lambda parent, caption: str(batch)
    window.extras.add_folder()
    assert [path.name for path in window.extras.images()] == ["a.png", "b.png"]
    window.extras.choose_upscaler("Lanczos")
    window.extras.scale_spin.setValue(2.0)
    window.extras.out_edit.setText(str(out))
    events: list = []
    session.worker.event.connect(events.append)
    window.generate()
    qtbot.waitUntil(lambda: any(isinstance(e, Finished) for e in events), timeout=LONG)
    qtbot.waitUntil(lambda: window.gallery.model.rowCount() == 2, timeout=10_000)
    assert sorted(path.name for path in out.iterdir()) == ["a.png", "b.png"]
    assert all(Image.open(path).size == (32, 32) for path in out.iterdir())
    assert {e.image_index for e in events if isinstance(e, UpscaleProgress)} == {0, 1}


def test_cancel_stops_an_upscale_between_tiles(qtbot, session, paths, tmp_path):
    window = session.window
    window.send_to("extras", _picture(tmp_path / "big.png", (256, 256)))
    window.extras.tile_spin.setValue(64)  # 16 tiles
    events: list = []
    session.worker.event.connect(events.append)

    def cancel_on_first_tile(event) -> None:  # type: ignore[no-untyped-def]
        if isinstance(event, UpscaleProgress) and event.tile == 1:
            window.progress.cancel_button.click()

    session.worker.event.connect(cancel_on_first_tile)
    window.generate()
    assert window.progress.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: any(isinstance(e, Cancelled) for e in events) and not window.extras_runner.running,
                    timeout=LONG)
    assert max(e.tile for e in events if isinstance(e, UpscaleProgress)) < 16
    assert _history_rows(paths) == [] and window.progress.status_label.text().startswith("Cancelled")


def test_nothing_to_upscale_says_what_to_do(qtbot, session):
    window = session.window
    window.mode_tabs.setCurrentIndex(EXTRAS_TAB)
    window.generate()
    assert "Nothing to upscale" in window.notifications.messages()[-1].message_label.text()
    assert not window.extras_runner.running


def test_the_panel_builds_the_request_and_remembers_its_settings(qtbot, tmp_path):
    untouched = ExtrasPanel()  # a first run, before any upscaler model was found
    qtbot.addWidget(untouched)
    panel = ExtrasPanel()
    qtbot.addWidget(panel)
    panel.restore(untouched.state())
    assert panel.request() is None
    panel.set_upscalers(["4x-UltraSharp"])  # the default Lanczos was no choice: the model found is taken
    assert panel.upscaler_box.currentText() == "4x-UltraSharp"
    panel.set_images([tmp_path / "a.png", tmp_path / "a.png", tmp_path / "b.png"])
    request = panel.request()
    assert request.images == (tmp_path / "a.png", tmp_path / "b.png") and request.scale is None
    assert (request.upscaler, request.tile, request.out_dir) == ("4x-UltraSharp", 512, None)
    panel.choose_upscaler("Nearest")
    panel.scale_spin.setValue(3)
    panel.tile_spin.setValue(0)
    state = panel.state()

    again = ExtrasPanel()
    qtbot.addWidget(again)
    again.restore(state)
    again.set_upscalers(["4x-UltraSharp"])  # the model list arrives later; the choice stays
    again.set_images([tmp_path / "c.png"])
    request = again.request()
    assert (request.upscaler, request.scale, request.tile) == ("Nearest", 3.0, 0)


def test_images_in_folder_are_the_images_only(tmp_path):
    for name in ("b.PNG", "a.jpg", ".hidden.png", "c.txt"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sub.png").mkdir()
    assert [path.name for path in images_in_folder(tmp_path)] == ["a.jpg", "b.PNG"]

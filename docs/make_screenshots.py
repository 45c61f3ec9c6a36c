"""Render screenshots of Easel's main views into docs/screenshots/ (offscreen; no display needed).

    .venv/bin/python docs/make_screenshots.py [--out docs/screenshots]

It builds a tiny random-weight checkpoint (its images are noise: no real weights can be downloaded
here), generates a few images through the app as a person would, and grabs each view.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCREEN = ROOT / "tests" / "offscreen-screen.json"
A1111_INFOTEXT = (
    "a lighthouse on a cliff at dusk, (dramatic sky:1.2), <lora:film_grain:0.6>, BREAK oil painting\n"
    "Negative prompt: blurry, [lowres]\n"
    "Steps: 28, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 1234567, Size: 512x768, "
    "Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Clip skip: 2"
)


def _wait(app, condition, seconds: float = 300.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not get there in time")
        app.processEvents()
        time.sleep(0.01)


def _settle(app, seconds: float = 0.5) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)


def _grab(widget, path: Path) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QApplication

    _settle(QApplication.instance())  # thumbnails decode once scrolling has paused
    widget.grab().save(str(path))
    print(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("QT_QPA_PLATFORM", f"offscreen:configfile={SCREEN}")
    scratch = Path(tempfile.mkdtemp(prefix="easel-screens-"))
    try:
        return _render(args.out, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _render(out: Path, scratch: Path) -> int:
    os.environ["EASEL_HOME"] = str(scratch / "home")
    sys.path.insert(0, str(ROOT))
    from PIL import Image
    from PySide6.QtWidgets import QApplication

    from core.images import save_png_atomically
    from core.paths import AppPaths
    from core.settings import Settings
    from core.synthetic import write_tiny_checkpoint
    from desktop.app import start_session

    app = QApplication.instance() or QApplication([])
    paths = AppPaths.from_environment().ensure()

    empty = start_session(paths)
    _wait(app, lambda: empty.window.center_stack.currentWidget() is empty.window.welcome_page)
    empty.window.resize(1280, 820)
    _grab(empty.window, out / "welcome.png")
    empty.window.close()
    empty.close()

    model = write_tiny_checkpoint(scratch / "model", "sd1", seed=1)
    checkpoint = paths.models_dir / "checkpoints" / "dreamshaper-tiny.safetensors"
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(model.checkpoint, checkpoint)
    Settings(model_configs={str(checkpoint.resolve()): str(model.config_dir)}).save(paths.settings_file)
    from core.synthetic.controlnet import write_tiny_controlnet

    write_tiny_controlnet(paths.models_dir / "controlnet", "sd1", seed=7, name="control_v11p_openpose-tiny")
    _install_networks_and_upscaler(paths.models_dir)

    session = start_session(paths)
    window = session.window
    window.resize(1280, 820)
    _wait(app, lambda: window.params.model_picker.count() == 1)
    params = window.params
    params.negative_edit.setPlainText("blurry, [lowres], (watermark:1.3)")
    params.steps_spin.setValue(6)
    params.size_editor.set_image_size(128, 128)
    for prompt in ("a red fox in the snow", "a lighthouse at dusk, (dramatic sky:1.2)",
                   "portrait of an astronaut, [studio:outdoor:0.5], BREAK film grain"):
        params.prompt_edit.setPlainText(prompt)
        window.generate()
    _wait(app, lambda: window.gallery.model.rowCount() == 3 and not window._dispatcher.busy)
    window.details_dock.raise_()
    _grab(window, out / "main-window.png")

    params.prompt_edit.setPlainText("a castle on a hill")
    params.steps_spin.setValue(40)
    steps: list[int] = []
    session.worker.event.connect(lambda event: steps.append(getattr(event, "step", 0)))
    window.generate()
    window.generate()  # the second one waits in the queue
    _wait(app, lambda: max(steps, default=0) >= 10)
    window.queue_dock.raise_()
    app.processEvents()
    _grab(window, out / "generating-with-queue.png")
    window.cancel()
    window._dispatcher.queue.take_next()
    _wait(app, lambda: not window._dispatcher.busy)

    png = save_png_atomically(Image.new("RGB", (512, 768), (40, 60, 90)), scratch / "from-a1111.png",
                              A1111_INFOTEXT, None)
    window.open_dropped([png])
    window.details_dock.raise_()
    app.processEvents()
    _grab(window, out / "dropped-a1111-png.png")

    from desktop.settings_dialog import SettingsDialog

    dialog = SettingsDialog(Settings.load(paths.settings_file), paths, devices=("cpu",), parent=window,
                            checkpoints=window.sources.names("checkpoint"), vaes=window.sources.names("vae"))
    dialog.show()
    app.processEvents()
    _grab(dialog, out / "settings.png")
    dialog.close()

    _networks_screenshot(app, window, out)
    _extras_screenshot(app, window, scratch, out)
    _inpaint_screenshot(app, window, scratch, out)
    _pose_screenshot(app, window, out)

    window.open_history_browser()
    app.processEvents()
    browsers = [w for w in app.topLevelWidgets() if w.windowTitle() == "Easel — History" and w.isVisible()]
    _grab(browsers[0], out / "history-browser.png")
    window.close()
    session.close()
    from tests.test_mask_canvas import render_screenshot as render_mask_canvas
    from tests.test_pose_editor import render_screenshot as render_pose_editor

    for name, render in (("mask-canvas.png", render_mask_canvas), ("pose-editor.png", render_pose_editor)):
        render(out / name)
        print(out / name)
    return 0


def _sample_picture(path: Path) -> Path:
    """A dusk landscape to paint on (the tiny model's own images are noise)."""
    from PIL import Image, ImageDraw

    picture = Image.new("RGB", (512, 384))
    draw = ImageDraw.Draw(picture)
    for y in range(384):
        draw.line([(0, y), (512, y)], fill=(40 + y // 3, 50 + y // 5, 120 - y // 6))
    draw.ellipse((330, 90, 410, 170), fill=(250, 200, 90))
    draw.polygon([(0, 300), (140, 220), (300, 290), (512, 240), (512, 384), (0, 384)], fill=(30, 60, 40))
    draw.rectangle((120, 250, 180, 310), fill=(120, 80, 60))
    picture.save(path)
    return path


def _preview_picture(path: Path, hue: int) -> None:
    """A civitai-style preview card beside a LoRA (A1111's `name.preview.png`)."""
    from PIL import Image, ImageDraw

    picture = Image.new("HSV", (192, 256), (hue, 120, 90)).convert("RGB")
    draw = ImageDraw.Draw(picture)
    draw.ellipse((46, 40, 146, 140), fill=(240, 220, 200))
    draw.rectangle((36, 150, 156, 256), fill=((hue * 7) % 255, 90, 140))
    picture.save(path)


def _install_networks_and_upscaler(models: Path) -> None:
    from core.synthetic.embedding import write_tiny_embedding
    from core.synthetic.lora import write_tiny_lora
    from core.synthetic.upscaler import write_tiny_upscaler

    for index, name in enumerate(("add_detail", "film_grain_v2", "ghibli_style", "watercolor_wash")):
        write_tiny_lora(models / "loras" / f"{name}.safetensors", "sd1", seed=index)
        if index != 1:
            _preview_picture(models / "loras" / f"{name}.preview.png", 40 + 60 * index)
    write_tiny_lora(models / "loras" / "xl_more_art.safetensors", "sdxl", seed=9)
    write_tiny_embedding(models / "embeddings" / "easynegative.safetensors", "sd1")
    write_tiny_embedding(models / "embeddings" / "badhandv4.safetensors", "sd1", seed=1)
    write_tiny_upscaler(models / "upscalers", "esrgan", seed=1, name="4x-UltraSharp-tiny")


def _networks_screenshot(app, window, out: Path) -> None:  # type: ignore[no-untyped-def]
    """The LoRA browser beside the parameters, a tag just clicked into the prompt, hires fix open."""
    window.networks_dock.raise_()
    _wait(app, window.networks.hashing_done)
    window.params.prompt_edit.setPlainText("a lighthouse at dusk, (dramatic sky:1.2)")
    window.params.prompt_edit.moveCursor(window.params.prompt_edit.textCursor().MoveOperation.End)
    window.networks.weight_spin.setValue(0.7)
    window.networks.list.clicked.emit(window.networks.index_of("ghibli_style"))
    window.params.hires_group.setChecked(True)
    window.params.hires_group.upscaler_box.setCurrentText("4x-UltraSharp-tiny")
    _grab(window, out / "lora-browser.png")
    window.params.hires_group.setChecked(False)
    window.details_dock.raise_()


def _extras_screenshot(app, window, scratch: Path, out: Path) -> None:  # type: ignore[no-untyped-def]
    """Extras after "Upscale" on a picture: the tiny 4x model, tiled, the result in the gallery."""
    window.send_to("extras", _sample_picture(scratch / "to-upscale.png"))
    window.extras.tile_spin.setValue(128)
    window.generate()
    _wait(app, lambda: not window.extras_runner.running)
    _grab(window, out / "extras.png")
    window.mode_tabs.setCurrentIndex(0)


def _pose_screenshot(app, window, out: Path) -> None:  # type: ignore[no-untyped-def]
    window.resize(1600, 900)
    window.details_dock.hide()
    window.params.size_editor.set_image_size(192, 128)
    window.mode_tabs.setCurrentIndex(3)
    window.params.prompt_edit.setPlainText("two dancers on a stage, spotlight")
    for template in ("arms-up", "walking"):
        window.pose_workspace.editor.panel.add_template(template)
    window.generate()
    _wait(app, lambda: not window._dispatcher.busy and window.pose_result.has_image())
    _grab(window, out / "pose-tab.png")
    window.details_dock.show()
    window.resize(1280, 820)


def _inpaint_screenshot(app, window, scratch: Path, out: Path) -> None:  # type: ignore[no-untyped-def]
    from core.mask import Brush

    window.send_to("inpaint", _sample_picture(scratch / "dusk.png"))
    document = window.inpaint_workspace.canvas.document
    document.begin_stroke(340, 100, Brush(size=70, hardness=0.8))
    for x, y in ((400, 110), (395, 160), (345, 165), (350, 120)):
        document.stroke_to(x, y)
    document.end_stroke()
    window.inpaint_workspace.canvas.set_document(document)
    window.params.prompt_edit.setPlainText("a full moon, (glowing:1.2)")
    window.params.size_editor.set_image_size(128, 96)
    window.params.steps_spin.setValue(6)
    window.generate()
    _wait(app, lambda: not window._dispatcher.busy and window.inpaint_result.has_image())
    _grab(window, out / "inpaint.png")


if __name__ == "__main__":
    sys.exit(main())

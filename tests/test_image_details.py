"""The details of an image: what made it, reusing it, sending it on, copying, revealing and deleting it."""

from __future__ import annotations

import json
from pathlib import Path, PureWindowsPath

import pytest

pytest.importorskip("PySide6")

from PIL import Image  # noqa: E402
from PIL.PngImagePlugin import PngInfo  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication  # noqa: E402

from core.history import HistoryEntry  # noqa: E402
from core.images import save_png_atomically  # noqa: E402
from core.infotext import parse_infotext  # noqa: E402
from core.metadata.reader import read_generation_metadata  # noqa: E402
from core.request import GenerationRequest, Mode  # noqa: E402
from desktop.image_details import ImageDetails  # noqa: E402
from desktop.platform_actions import reveal_command, reveal_in_file_manager  # noqa: E402

A1111_TEXT = """\
a lighthouse on a cliff, (storm:1.2)
Negative prompt: blurry, lowres
Steps: 28, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 2736401836, Size: 512x768, \
Model hash: 7f96a1a9ca, Model: AnythingV5_v5PrtRE, Clip skip: 2, Hires upscale: 2, Version: v1.10.1"""

COMFY_PROMPT = {
    "3": {"class_type": "KSampler", "inputs": {
        "seed": 42, "steps": 24, "cfg": 6.5, "sampler_name": "dpmpp_2m", "scheduler": "karras", "denoise": 1.0,
        "model": ["10", 0], "positive": ["6", 0], "negative": ["7", 0], "latent_image": ["5", 0]}},
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "dreamshaper_8.safetensors"}},
    "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 512, "height": 768, "batch_size": 1}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "purple galaxy in a bottle", "clip": ["10", 1]}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "text, watermark", "clip": ["10", 1]}},
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
    "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}},
    "10": {"class_type": "LoraLoader", "inputs": {"lora_name": "add_detail.safetensors", "strength_model": 0.6,
                                                  "strength_clip": 0.6, "model": ["4", 0], "clip": ["4", 1]}},
}
LEFT = Qt.MouseButton.LeftButton


def make_entry(tmp_path: Path, request: dict | None = None, infotext: str = A1111_TEXT, seed: int = 1234,
               entry_id: int = 17) -> HistoryEntry:
    path = tmp_path / f"00003-{seed}.png"
    Image.new("RGB", (8, 8)).save(path)
    if request is None:
        request = GenerationRequest(model="/models/dreamshaper_8.safetensors", prompt="a red fox in the snow",
                                    negative_prompt="blurry", steps=30, cfg_scale=5.5, sampler="DPM++ 2M",
                                    schedule="Karras", seed=-1, width=640, height=448, batch_size=2,
                                    clip_skip=2).to_json_dict()
    return HistoryEntry(entry_id, path, str(request.get("prompt", "")), str(request.get("negative_prompt", "")),
                        "dreamshaper_8", "879db523c3", seed, 640, 448, infotext, request, 1_700_000_000.0)


@pytest.fixture
def details(qtbot):
    revealed: list[Path] = []
    widget = ImageDetails(reveal=revealed.append)
    widget.revealed = revealed
    qtbot.addWidget(widget)
    widget.resize(360, 600)
    widget.show()
    return widget


def shown_text(details: ImageDetails) -> str:
    return "\n".join(label.text() for label in (details.summary, details.prompt.text, details.negative.text,
                                                details.parameters.text) if label.isVisible())


def test_reuse_emits_the_request_that_made_the_image_with_its_own_seed(qtbot, details, tmp_path):
    entry = make_entry(tmp_path)
    details.show_entry(entry)
    with qtbot.waitSignal(details.reuse_requested) as reused:
        qtbot.mouseClick(details.reuse_button, LEFT)
    fields = reused.args[0]
    expected = GenerationRequest.from_json_dict(entry.request).replace(seed=1234)
    assert GenerationRequest(**fields) == expected  # seed -1 in the request: this image got 1234
    assert fields["sampler"] == "DPM++ 2M" and fields["schedule"] == "Karras" and fields["mode"] == Mode.TXT2IMG


def test_an_entry_without_a_stored_request_reuses_its_infotext(qtbot, details, tmp_path):
    details.show_entry(make_entry(tmp_path, request={}, seed=2736401836))
    with qtbot.waitSignal(details.reuse_requested) as reused:
        details.reuse_button.click()
    fields = reused.args[0]
    assert fields["prompt"] == "a lighthouse on a cliff, (storm:1.2)" and fields["negative_prompt"] == "blurry, lowres"
    assert (fields["steps"], fields["cfg_scale"], fields["width"], fields["height"]) == (28, 6.5, 512, 768)
    assert fields["seed"] == 2736401836 and fields["model"] == "AnythingV5_v5PrtRE"


def test_the_panel_shows_prompt_negative_and_parameters(details, tmp_path):
    details.show_entry(make_entry(tmp_path))
    text = shown_text(details)
    assert "a red fox in the snow" in text and "blurry" in text
    assert "Sampler: DPM++ 2M" in text and "Size: 512x768" in text and "dreamshaper_8" in text
    assert "Size-1" not in text


def test_copy_infotext_puts_the_text_on_the_clipboard(qtbot, details, tmp_path):
    details.show_entry(make_entry(tmp_path))
    QGuiApplication.clipboard().setText("something else")
    qtbot.mouseClick(details.copy_button, LEFT)
    assert QGuiApplication.clipboard().text() == A1111_TEXT


def test_send_to_emits_the_mode_and_the_file(qtbot, details, tmp_path):
    entry = make_entry(tmp_path)
    details.show_entry(entry)
    sent = []
    details.send_to_requested.connect(lambda mode, path: sent.append((mode, path)))
    for mode in ("img2img", "inpaint", "controlnet", "extras"):
        details.send_to_actions[mode].trigger()
    assert sent == [("img2img", entry.path), ("inpaint", entry.path), ("controlnet", entry.path),
                    ("extras", entry.path)]
    assert [action.text() for action in details.send_to_button.menu().actions()] == [
        "Img2img", "Inpaint", "ControlNet", "Extras (upscale)"]
    details.upscale_button.click()
    assert sent[-1] == ("extras", entry.path)


def test_delete_emits_the_entry_id_and_reveal_shows_the_file(qtbot, details, tmp_path):
    entry = make_entry(tmp_path, entry_id=99)
    details.show_entry(entry)
    with qtbot.waitSignal(details.delete_requested) as deleted:
        qtbot.mouseClick(details.delete_button, LEFT)
    assert deleted.args == [99]
    qtbot.mouseClick(details.reveal_button, LEFT)
    assert details.revealed == [entry.path]


def test_a_reveal_that_fails_says_so(qtbot, tmp_path):
    def broken(path: Path) -> None:
        raise FileNotFoundError("xdg-open not found")

    widget = ImageDetails(reveal=broken)
    qtbot.addWidget(widget)
    widget.show()
    widget.show_entry(make_entry(tmp_path))
    widget.reveal_button.click()
    assert widget.message.isVisible() and "xdg-open not found" in widget.message.text()


def test_an_empty_panel_offers_no_actions(details):
    assert not details.reuse_button.isEnabled() and not details.copy_button.isEnabled()
    assert not details.send_to_button.isEnabled() and not details.delete_button.isVisible()
    assert "Select an image" in details.summary.text()


def test_an_opened_a1111_png_names_the_tool_and_can_be_reused(qtbot, details, tmp_path):
    path = save_png_atomically(Image.new("RGB", (16, 16)), tmp_path / "from-a1111.png", A1111_TEXT, None)
    details.show_metadata(path, read_generation_metadata(path))
    summary = details.summary.text()
    assert summary.startswith("Made with A1111") and "these settings can be reused:" in summary
    reusable, not_reusable = summary.split("these cannot:")
    assert "steps" in reusable and "hires fix" in reusable and "Hires upscale" not in not_reusable
    assert "Steps: 28" in details.parameters.text.text()
    assert not details.delete_button.isVisible()  # not Easel's own image: nothing to delete from history
    with qtbot.waitSignal(details.reuse_requested) as reused:
        details.reuse_button.click()
    assert reused.args[0]["steps"] == 28 and reused.args[0]["clip_skip"] == 2
    assert reused.args[0]["hires"]["scale"] == 2.0
    details.copy_button.click()
    assert QGuiApplication.clipboard().text() == A1111_TEXT
    sent = []
    details.send_to_requested.connect(lambda mode, file: sent.append((mode, file)))
    details.send_to_actions["inpaint"].trigger()
    assert sent == [("inpaint", path)]


def test_an_opened_comfyui_png_says_what_can_and_cannot_be_reused(qtbot, details, tmp_path):
    info = PngInfo()
    info.add_text("prompt", json.dumps(COMFY_PROMPT))
    path = tmp_path / "ComfyUI_00001_.png"
    Image.new("RGB", (16, 16)).save(path, pnginfo=info)
    details.show_metadata(path, read_generation_metadata(path))
    reusable, cannot = details.summary.text().split("; these cannot: ")
    assert reusable.startswith("Made with ComfyUI: these settings can be reused:")
    assert "prompt" in reusable and "CFG scale" in reusable and "sampler" in reusable
    assert "add_detail.safetensors" in cannot
    assert "purple galaxy in a bottle" in details.prompt.text.text()
    details.copy_button.click()  # as A1111 infotext, which A1111 and Easel both paste
    copied = parse_infotext(QGuiApplication.clipboard().text())
    assert copied.prompt == "purple galaxy in a bottle" and copied.negative_prompt == "text, watermark"
    assert copied.params["Steps"] == "24" and copied.params["Sampler"] == "DPM++ 2M"
    assert copied.params["Schedule type"] == "Karras" and copied.params["Size"] == "512x768"
    with qtbot.waitSignal(details.reuse_requested) as reused:
        details.reuse_button.click()
    assert reused.args[0]["seed"] == 42 and reused.args[0]["model"] == "dreamshaper_8.safetensors"


def test_an_image_without_settings_says_so(details, tmp_path):
    path = tmp_path / "photo.png"
    Image.new("RGB", (16, 16)).save(path)
    details.show_metadata(path, read_generation_metadata(path))
    assert "no generation settings" in details.summary.text()
    assert not details.reuse_button.isEnabled() and details.send_to_button.isEnabled()


# --- revealing in the file manager ---------------------------------------------------------------------


@pytest.mark.parametrize(("system", "expected"), [
    ("Darwin", lambda p: ["open", "-R", str(p)]),
    ("Windows", lambda p: ["explorer", "/select,", str(PureWindowsPath(p))]),
    ("Linux", lambda p: ["xdg-open", str(p.parent)]),
])
def test_reveal_runs_the_file_manager_of_each_system(tmp_path, system, expected):
    path = tmp_path / "my pictures" / "00001-42.png"
    ran = []
    reveal_in_file_manager(path, system=system, runner=ran.append, show_items=lambda uri: False)
    assert ran == [expected(path)] == [reveal_command(path, system)]


def test_on_linux_the_desktop_file_manager_selects_the_file_over_dbus(tmp_path):
    path = tmp_path / "my pictures" / "00001-42.png"
    asked, ran = [], []

    def show_items(uri: str) -> bool:
        asked.append(uri)
        return True

    reveal_in_file_manager(path, system="Linux", runner=ran.append, show_items=show_items)
    assert asked == [path.as_uri()] and "my%20pictures" in asked[0] and ran == []
    reveal_in_file_manager(path, system="Darwin", runner=ran.append, show_items=show_items)
    assert len(asked) == 1 and ran == [["open", "-R", str(path)]]  # no D-Bus on a Mac

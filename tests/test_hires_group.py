"""Hires fix in the Generate mode: the group builds the request's HiresFix, infotext and Reuse fill it, it comes back."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from core.hires import HiresFix  # noqa: E402
from core.infotext import parse_infotext, request_fields_from_infotext  # noqa: E402
from core.request import GenerationRequest, Mode  # noqa: E402
from desktop.hires_group import BUILT_IN_UPSCALERS, SAME_SAMPLER  # noqa: E402
from desktop.params_panel import ParamsPanel  # noqa: E402
from tests.test_params_panel import model_entry  # noqa: E402

HIRES_INFOTEXT = """a lighthouse at dusk
Negative prompt: blurry
Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 42, Size: 512x768, Model: dreamshaper_8, \
Denoising strength: 0.45, Hires upscale: 1.5, Hires steps: 12, Hires upscaler: 4x-UltraSharp"""
OLD_RESIZE_INFOTEXT = """a cat
Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x512, Denoising strength: 0.6, \
Hires resize-1: 1024, Hires resize-2: 768, Hires upscaler: Latent (nearest-exact)"""


@pytest.fixture
def panel(qtbot, tmp_path):
    widget = ParamsPanel()
    qtbot.addWidget(widget)
    widget.set_models([model_entry(tmp_path, "dreamshaper_8", "sd1")])
    widget.set_upscalers(["4x-UltraSharp", "RealESRGAN_x4plus"])
    widget.show()
    return widget


def test_hires_is_off_until_checked_and_folded_away(panel):
    group = panel.hires_group
    assert not group.isChecked() and not group.body.isVisible()
    assert panel.to_request().hires is None
    group.setChecked(True)
    assert group.body.isVisible() and panel.to_request().hires == HiresFix()


def test_the_group_builds_the_hires_fix_the_person_set(panel):
    group = panel.hires_group
    group.setChecked(True)
    assert [group.upscaler_box.itemText(i) for i in range(group.upscaler_box.count())] == [
        *BUILT_IN_UPSCALERS, "4x-UltraSharp", "RealESRGAN_x4plus"]
    assert {"Latent", "Latent (nearest-exact)", "Lanczos", "Nearest"} <= set(BUILT_IN_UPSCALERS)
    group.upscaler_box.setCurrentText("4x-UltraSharp")
    group.scale_spin.setValue(1.5)
    group.steps_spin.setValue(12)
    group.denoise_spin.setValue(0.4)
    group.sampler_box.setCurrentText("DPM++ 2M")
    group.prompt_edit.setText("a lighthouse, sharp details")
    panel.size_editor.set_image_size(512, 768)
    assert group.size_label.text() == "512×768 → 768×1152"
    assert panel.to_request().hires == HiresFix(scale=1.5, steps=12, denoise=0.4, upscaler="4x-UltraSharp",
                                                sampler="DPM++ 2M", prompt="a lighthouse, sharp details")
    group.width_spin.setValue(1024)
    group.height_spin.setValue(1536)
    assert (panel.to_request().hires.resize_width, panel.to_request().hires.resize_height) == (1024, 1536)
    assert group.size_label.text() == "512×768 → 1024×1536"


class _NoControlNet:
    def units(self, pose_file, drawing_file):  # type: ignore[no-untyped-def]
        return ()


def test_hires_goes_only_into_txt2img_requests(qtbot, panel, tmp_path):
    from types import SimpleNamespace

    from PIL import Image

    from desktop.img2img_panel import Img2imgPanel
    from desktop.request_builder import RequestBuilder

    panel.hires_group.setChecked(True)
    img2img = Img2imgPanel(tmp_path / "init-images")
    qtbot.addWidget(img2img)
    Image.new("RGB", (64, 64)).save(tmp_path / "init.png")
    img2img.set_init_image(tmp_path / "init.png")
    files = SimpleNamespace(pose_file=None, drawing_file=None)
    builder = RequestBuilder(panel, img2img, None, files, _NoControlNet(), files)  # type: ignore[arg-type]
    assert builder.build(Mode.TXT2IMG).hires == HiresFix()
    assert builder.build(Mode.IMG2IMG).hires is None  # a txt2img feature, as in A1111


def test_infotext_with_hires_fills_the_group(panel):
    failed = panel.apply_fields(request_fields_from_infotext(parse_infotext(HIRES_INFOTEXT)))
    group = panel.hires_group
    assert failed == [] and group.isChecked()
    assert panel.to_request().hires == HiresFix(scale=1.5, steps=12, denoise=0.45, upscaler="4x-UltraSharp")
    assert group.sampler_box.currentText() == SAME_SAMPLER and group.prompt_edit.text() == ""

    panel.apply_fields(request_fields_from_infotext(parse_infotext(OLD_RESIZE_INFOTEXT)))
    hires = panel.to_request().hires
    assert (hires.resize_width, hires.resize_height, hires.upscaler, hires.denoise) == (
        1024, 768, "Latent (nearest-exact)", 0.6)


def test_an_image_without_hires_switches_it_off_and_an_unknown_upscaler_is_reported(panel):
    panel.hires_group.setChecked(True)
    plain = "a cat\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x512"
    panel.apply_fields(request_fields_from_infotext(parse_infotext(plain)))
    assert not panel.hires_group.isChecked()
    failed = panel.apply_fields({"hires": HiresFix(upscaler="4x-NotInstalled").to_json_dict()})
    assert failed == ["hires upscaler"] and panel.hires_group.isChecked()
    panel.set_upscalers(["4x-NotInstalled"])  # it turns up once the model list names it
    assert panel.to_request().hires.upscaler == "4x-NotInstalled"


def test_reuse_of_a_recorded_request_restores_the_hires_fix(panel):
    recorded = GenerationRequest(model="dreamshaper_8", prompt="x",
                                 hires=HiresFix(scale=2.0, steps=5, denoise=0.3, upscaler="Lanczos"))
    fields = {name: value for name, value in vars(GenerationRequest.from_json_dict(recorded.to_json_dict())).items()}
    panel.apply_fields(fields)
    assert panel.to_request().hires == recorded.hires


def test_hires_settings_come_back_on_restart_also_while_switched_off(qtbot, panel, tmp_path):
    group = panel.hires_group
    group.setChecked(True)
    group.upscaler_box.setCurrentText("RealESRGAN_x4plus")
    group.steps_spin.setValue(9)
    group.negative_edit.setText("jpeg artifacts")
    group.setChecked(False)
    state = panel.state()

    restored = ParamsPanel()
    qtbot.addWidget(restored)
    restored.restore(state)
    assert not restored.hires_group.isChecked()
    restored.set_upscalers(["4x-UltraSharp", "RealESRGAN_x4plus"])  # the model list arrives after the restore
    restored.hires_group.setChecked(True)
    assert restored.to_request().hires == HiresFix(steps=9, upscaler="RealESRGAN_x4plus",
                                                   negative_prompt="jpeg artifacts")

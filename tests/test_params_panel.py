"""The settings panel: what a person sets is what gets generated, infotext fills it in, and it comes back next run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt  # noqa: E402

from core.infotext import parse_infotext, request_fields_from_infotext  # noqa: E402
from core.models.scan import ModelEntry  # noqa: E402
from core.request import GenerationRequest  # noqa: E402
from desktop.model_picker import BADGES_ROLE  # noqa: E402
from desktop.params_panel import ParamsPanel  # noqa: E402

A1111_INFOTEXT = """masterpiece, (a lighthouse at dusk:1.2), dramatic sky
Negative prompt: blurry, lowres,
bad hands
Steps: 32, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 3735928559, Size: 832x1216, \
Model hash: 0123456789, Model: juggernautXL_v9, Clip skip: 2, Version: v1.10.1"""


def model_entry(folder: Path, name: str, architecture: str, *, inpaint: bool = False, hash: str | None = None,
                supported: bool = True, kind: str = "checkpoint") -> ModelEntry:
    path = folder / f"{name}.safetensors"
    path.write_bytes(b"\0" * 16)
    return ModelEntry(path=path, name=name, kind=kind, architecture=architecture, inpaint=inpaint,
                      prediction="epsilon", size=2_132_000_000, hash=hash, supported=supported,
                      reason="" if supported else "Easel does not support Flux models yet.",
                      relative_path=path.name)


@pytest.fixture
def entries(tmp_path):
    return {
        "sd1": model_entry(tmp_path, "dreamshaper_8", "sd1", hash="879db523c3"),
        "sdxl": model_entry(tmp_path, "sdxl_base", "sdxl", hash="31e35c80fc"),
        "inpaint": model_entry(tmp_path, "dreamshaper_8_inpainting", "sd1", inpaint=True),
        "flux": model_entry(tmp_path, "flux_dev", "flux", supported=False),
        "lora": model_entry(tmp_path, "detail_tweaker", "sd1", kind="lora"),
    }


@pytest.fixture
def panel(qtbot, entries):
    widget = ParamsPanel()
    qtbot.addWidget(widget)
    widget.resize(380, 760)
    widget.set_models(list(entries.values()))
    widget.set_vaes(["vae-ft-mse-840000-ema-pruned.safetensors", "sdxl_vae.safetensors"])
    widget.show()
    return widget


def choose_model(panel: ParamsPanel, entry: ModelEntry) -> None:
    """As a person picking from the list: the combo's current row changes."""
    names = [panel.model_picker.itemText(i) for i in range(panel.model_picker.count())]
    panel.model_picker.setCurrentIndex(names.index(entry.name))


def test_model_list_shows_checkpoints_with_badges_and_details(panel, entries):
    picker = panel.model_picker
    names = [picker.itemText(i) for i in range(picker.count())]
    assert names == ["dreamshaper_8", "sdxl_base", "dreamshaper_8_inpainting", "flux_dev"]  # no LoRA
    assert [picker.itemData(i, BADGES_ROLE) for i in range(3)] == [["SD1"], ["SDXL"], ["SD1", "inpaint"]]
    tooltip = picker.itemData(0, Qt.ItemDataRole.ToolTipRole)
    assert str(entries["sd1"].path) in tooltip and "879db523c3" in tooltip and "2.0 GB" in tooltip
    flux_item = picker.model().item(3)
    assert not flux_item.isEnabled() and "does not support Flux" in flux_item.toolTip()
    assert picker.current_entry() == entries["sd1"]


def test_request_reflects_what_was_set(panel, qtbot, entries):
    with qtbot.waitSignal(panel.changed, timeout=1000):
        qtbot.keyClicks(panel.prompt_edit, "a red fox")
    panel.negative_edit.setPlainText("blurry")
    panel.sampler_box.setCurrentText("DPM++ 2M SDE")
    panel.schedule_box.setCurrentText("Exponential")
    panel.steps_spin.setValue(28)
    panel.cfg_spin.setValue(5.5)
    panel.seed_editor.set_seed(4_000_000_000)  # beyond a 32-bit signed spin box
    panel.size_editor.width_spin.setValue(640)
    panel.size_editor.height_spin.setValue(448)
    panel.batch_size_spin.setValue(2)
    panel.batch_count_spin.setValue(3)
    panel.clip_skip_spin.setValue(2)
    panel.vae_box.setCurrentText("vae-ft-mse-840000-ema-pruned.safetensors")
    assert panel.to_request() == GenerationRequest(
        model=str(entries["sd1"].path), prompt="a red fox", negative_prompt="blurry", sampler="DPM++ 2M SDE",
        schedule="Exponential", steps=28, cfg_scale=5.5, seed=4_000_000_000, width=640, height=448,
        batch_size=2, batch_count=3, clip_skip=2, vae="vae-ft-mse-840000-ema-pruned.safetensors")


def test_a_typed_size_is_rounded_to_a_multiple_of_8(panel, qtbot):
    spin = panel.size_editor.width_spin
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin.lineEdit(), "517")
    qtbot.keyClick(spin, Qt.Key.Key_Return)
    assert spin.value() == 520 and panel.to_request().width == 520


def test_a1111_infotext_fills_the_panel_and_reports_the_missing_model(panel, entries):
    fields = request_fields_from_infotext(parse_infotext(A1111_INFOTEXT))
    not_applied = panel.apply_fields(fields)
    assert not_applied == ["model"]
    request = panel.to_request()
    assert request.prompt == "masterpiece, (a lighthouse at dusk:1.2), dramatic sky"
    assert request.negative_prompt == "blurry, lowres,\nbad hands"
    assert (request.steps, request.sampler, request.schedule, request.cfg_scale) == (32, "DPM++ 2M", "Karras", 6.5)
    assert (request.seed, request.width, request.height, request.clip_skip) == (3735928559, 832, 1216, 2)
    assert request.model == str(entries["sd1"].path)  # the current model stays


def test_infotext_model_is_found_by_name_or_by_hash(panel, entries):
    assert panel.apply_fields({"model": "sdxl_base"}) == []
    assert panel.to_request().model == str(entries["sdxl"].path)
    # Renamed on disk, but the AutoV2 hash still finds it.
    assert panel.apply_fields({"model": "dreamshaper_8_renamed", "model_hash": "879db523c3"}) == []
    assert panel.to_request().model == str(entries["sd1"].path)
    assert panel.apply_fields({"model": "flux_dev"}) == ["model"]  # listed, but not usable
    # A saved request from another machine names a path there; the same file name here is that model.
    assert panel.apply_fields({"model": "C:\\sd\\models\\sdxl_base.safetensors"}) == []
    assert panel.to_request().model == str(entries["sdxl"].path)


def test_unknown_sampler_and_out_of_range_values_are_reported_and_left_alone(panel):
    panel.sampler_box.setCurrentText("Heun")
    not_applied = panel.apply_fields({"sampler": "Restart", "steps": 0, "seed": "abc", "cfg_scale": 8,
                                      "vae": "missing_vae.pt", "hires_fix": True})
    assert sorted(not_applied) == ["sampler", "seed", "steps", "vae"]
    request = panel.to_request()
    assert (request.sampler, request.steps, request.seed, request.cfg_scale, request.vae) == ("Heun", 20, -1, 8.0, None)


def test_old_combined_sampler_names_are_split(panel):
    assert panel.apply_fields({"sampler": "DPM++ 2M Karras"}) == []
    assert (panel.sampler_box.currentText(), panel.schedule_box.currentText()) == ("DPM++ 2M", "Karras")


def test_state_round_trips_through_json(panel, qtbot, entries):
    choose_model(panel, entries["sdxl"])
    panel.apply_fields({"prompt": "castle", "negative_prompt": "fog", "steps": 12, "sampler": "UniPC",
                        "seed": 99, "width": 896, "height": 1152, "vae": "sdxl_vae.safetensors"})
    panel.set_last_seed(1234)
    saved = json.loads(json.dumps(panel.state()))
    fresh = ParamsPanel()
    qtbot.addWidget(fresh)
    fresh.set_models(list(entries.values()))
    fresh.set_vaes(["sdxl_vae.safetensors"])
    fresh.restore(saved)
    assert fresh.to_request() == panel.to_request()
    fresh.seed_editor.reuse_button.click()
    assert fresh.to_request().seed == 1234


def test_restore_keeps_the_other_fields_when_the_model_is_gone(panel, qtbot, entries):
    choose_model(panel, entries["sdxl"])
    panel.apply_fields({"prompt": "castle", "steps": 12})
    saved = panel.state()
    fresh = ParamsPanel()
    qtbot.addWidget(fresh)
    fresh.set_models([entries["sd1"]])
    fresh.restore(saved)
    request = fresh.to_request()
    assert (request.model, request.prompt, request.steps) == (str(entries["sd1"].path), "castle", 12)


def test_restore_before_the_model_scan_chooses_the_model_once_it_is_listed(qtbot, entries):
    panel = ParamsPanel()
    qtbot.addWidget(panel)
    panel.set_models(list(entries.values()))
    choose_model(panel, entries["sdxl"])
    saved = panel.state()
    fresh = ParamsPanel()
    qtbot.addWidget(fresh)
    fresh.restore(saved)  # the window restores at start; models arrive from the worker later
    fresh.set_models(list(entries.values()))
    assert fresh.to_request().model == str(entries["sdxl"].path)
    assert fresh.size_editor.image_size() == panel.size_editor.image_size()


def test_swap_exchanges_width_and_height(panel):
    panel.size_editor.set_image_size(512, 768)
    panel.size_editor.swap_button.click()
    assert panel.size_editor.image_size() == (768, 512)
    assert (panel.to_request().width, panel.to_request().height) == (768, 512)


def test_presets_set_the_size(panel):
    actions = panel.size_editor.preset_actions()
    assert {(512, 768), (640, 448), (1024, 1024), (832, 1216), (1536, 640)} <= set(actions)
    actions[(832, 1216)].trigger()
    assert panel.size_editor.image_size() == (832, 1216)


def test_choosing_sdxl_switches_a_default_size_and_says_so(panel, entries):
    assert panel.size_editor.image_size() == (512, 512)
    choose_model(panel, entries["sdxl"])
    assert panel.size_editor.image_size() == (1024, 1024)
    note = panel.size_editor.note
    assert not note.isHidden() and "1024×1024" in note.text() and "SDXL" in note.text()
    assert "SDXL" in panel.size_editor.width_spin.toolTip()
    choose_model(panel, entries["sd1"])
    assert panel.size_editor.image_size() == (512, 512)


def test_a_size_the_user_chose_is_kept_when_the_model_changes(panel, qtbot, entries):
    panel.size_editor.width_spin.setValue(640)
    panel.size_editor.height_spin.setValue(448)
    with qtbot.waitSignal(panel.changed, timeout=1000):
        choose_model(panel, entries["sdxl"])
    assert panel.size_editor.image_size() == (640, 448)
    assert panel.size_editor.note.isHidden()


def test_random_and_reuse_seed_buttons(panel):
    seed = panel.seed_editor
    seed.set_seed(42)
    seed.random_button.click()
    assert panel.to_request().seed == -1
    assert not seed.reuse_button.isEnabled()
    panel.set_last_seed(3_000_000_001)
    seed.reuse_button.click()
    assert panel.to_request().seed == 3_000_000_001


def test_ctrl_return_in_the_prompt_asks_to_generate(panel, qtbot):
    with qtbot.waitSignal(panel.generate_requested, timeout=1000):
        qtbot.keyClick(panel.prompt_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)


def test_token_counter_reaches_both_prompts(panel, qtbot):
    panel.set_token_counter(lambda text: [len(text.split())])
    panel.prompt_edit.setPlainText("one two three")
    panel.negative_edit.setPlainText("four")
    qtbot.waitUntil(lambda: panel.prompt_edit.token_label.text() == "3/75"
                    and panel.negative_edit.token_label.text() == "1/75", timeout=2000)


def test_panel_fits_a_narrow_side_panel(panel):
    assert panel.minimumSizeHint().width() <= 380


def test_changed_fires_for_edits_but_not_when_only_colours_change(panel, qtbot):
    palette = panel.prompt_edit.palette()
    palette.setColor(palette.ColorRole.Base, Qt.GlobalColor.black)
    panel.prompt_edit.setPlainText("(red:1.2) cat")
    with qtbot.assertNotEmitted(panel.changed):
        panel.prompt_edit.setPalette(palette)  # dark mode switched on: the prompt is recoloured, not edited
    with qtbot.waitSignal(panel.changed, timeout=1000):
        panel.steps_spin.setValue(31)


def test_the_vae_box_offers_automatic_none_and_the_files(panel):
    box = panel.vae_box
    assert [box.itemText(i) for i in range(box.count())] == [
        "Automatic", "None", "vae-ft-mse-840000-ema-pruned.safetensors", "sdxl_vae.safetensors"]
    assert panel.to_request().vae is None  # Automatic: the settings (global or per model) decide
    assert panel.apply_fields({"vae": "None"}) == []
    assert panel.to_request().vae == "None"  # the checkpoint's own, whatever the settings say

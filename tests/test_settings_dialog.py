"""The Settings dialog saves what the user set on OK, nothing on Cancel, and refuses values that cannot work."""

from __future__ import annotations

import datetime

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt  # noqa: E402

from core.paths import AppPaths  # noqa: E402
from core.settings import Settings  # noqa: E402
from desktop.settings_dialog import SettingsDialog, example_file_name  # noqa: E402


@pytest.fixture
def paths(easel_home):
    return AppPaths(easel_home).ensure()


@pytest.fixture
def saved(paths):
    settings = Settings(model_folders=["/old/models"], model_configs={"/m/a.safetensors": "/configs/a"})
    settings.save(paths.settings_file)
    return Settings.load(paths.settings_file)


def open_dialog(qtbot, settings, paths, picks=()):
    picks = list(picks)
    dialog = SettingsDialog(settings, paths, devices=["cuda", "cpu"],
                            choose_folder=lambda parent, caption: picks.pop(0))
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def click_ok(qtbot, dialog):
    qtbot.mouseClick(dialog.buttons.button(dialog.buttons.StandardButton.Ok), Qt.MouseButton.LeftButton)


def test_edited_fields_are_saved_on_ok(qtbot, paths, saved, tmp_path):
    dialog = open_dialog(qtbot, saved, paths, picks=[str(tmp_path / "sd-models"), str(tmp_path / "webui"),
                                                     str(tmp_path / "pictures")])
    dialog.model_folders.list.item(0).setSelected(True)
    qtbot.mouseClick(dialog.model_folders.remove_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(dialog.model_folders.add_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(dialog.install_roots.add_button, Qt.MouseButton.LeftButton)
    dialog._choose_outputs()
    dialog.pattern_edit.setText("[date]-[seed]-[model_name]")
    dialog.device_box.setCurrentIndex(dialog.device_box.findData("cuda"))
    dialog.precision_box.setCurrentIndex(dialog.precision_box.findData("bf16"))
    dialog.slicing_box.setCurrentIndex(dialog.slicing_box.findData("on"))
    dialog.preview_spin.setValue(5)
    dialog.endpoint_edit.setText("https://hf-mirror.com/")
    dialog.offline_check.setChecked(False)
    with qtbot.waitSignal(dialog.accepted, timeout=1000):
        click_ok(qtbot, dialog)

    on_disk = Settings.load(paths.settings_file)
    assert on_disk.model_folders == [str(tmp_path / "sd-models")]
    assert on_disk.install_roots == [str(tmp_path / "webui")]
    assert on_disk.outputs_dir == str(tmp_path / "pictures")
    assert on_disk.file_name_pattern == "[date]-[seed]-[model_name]"
    assert (on_disk.device, on_disk.precision, on_disk.attention_slicing) == ("cuda", "bf16", "on")
    assert on_disk.preview_every == 5
    assert on_disk.hub_endpoint == "https://hf-mirror.com"
    assert on_disk.offline is False
    assert on_disk.model_configs == {"/m/a.safetensors": "/configs/a"}  # not on any page, kept
    assert dialog.result_settings() == on_disk


def test_cancel_leaves_the_file_untouched(qtbot, paths, saved):
    before = paths.settings_file.read_bytes()
    dialog = open_dialog(qtbot, saved, paths)
    dialog.endpoint_edit.setText("https://hf-mirror.com")
    dialog.offline_check.setChecked(False)
    dialog.preview_spin.setValue(0)
    with qtbot.waitSignal(dialog.rejected, timeout=1000):
        qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert paths.settings_file.read_bytes() == before
    assert dialog.result_settings() is saved


@pytest.mark.parametrize("endpoint", ["ftp://mirror.example/hf", "hf-mirror.com", "file:///etc/passwd",
                                      "https://"])
def test_endpoint_that_is_not_http_is_refused_with_a_message(qtbot, paths, saved, endpoint):
    before = paths.settings_file.read_bytes()
    dialog = open_dialog(qtbot, saved, paths)
    dialog.endpoint_edit.setText(endpoint)
    click_ok(qtbot, dialog)
    assert dialog.isVisible() and dialog.result() == 0
    assert dialog.error_label.isVisible() and "http:// or https://" in dialog.error_label.text()
    assert dialog.tabs.currentWidget().isAncestorOf(dialog.endpoint_edit)
    assert paths.settings_file.read_bytes() == before
    dialog.endpoint_edit.setText("http://127.0.0.1:8080")
    click_ok(qtbot, dialog)
    assert not dialog.isVisible() and Settings.load(paths.settings_file).hub_endpoint == "http://127.0.0.1:8080"


def test_file_name_pattern_shows_a_live_example_and_unknown_tokens_are_refused(qtbot, paths, saved):
    dialog = open_dialog(qtbot, saved, paths)
    assert dialog.example_label.text() == "Example: 00012-618633303.png"
    dialog.pattern_edit.setText("[number]-[model_name]-[prompt_words]")
    assert dialog.example_label.text() == "Example: 00012-dreamshaper_8-a lighthouse at dusk oil painting.png"
    dialog.pattern_edit.setText("[number]-[sede]")
    assert "unknown tokens [sede]" in dialog.example_label.text()
    click_ok(qtbot, dialog)
    assert dialog.isVisible() and "[sede]" in dialog.error_label.text()
    assert Settings.load(paths.settings_file).file_name_pattern == "[number]-[seed]"


def test_example_uses_the_date_token():
    assert example_file_name("[date]-[seed]", datetime.date(2024, 5, 1)) == "2024-05-01-618633303.png"


def test_device_list_comes_from_the_caller_and_keeps_an_unavailable_choice(qtbot, paths):
    dialog = open_dialog(qtbot, Settings(device="mps"), paths)
    assert [dialog.device_box.itemData(i) for i in range(dialog.device_box.count())] == [None, "cuda", "cpu", "mps"]
    assert "not found" in dialog.device_box.currentText()
    dialog.device_box.setCurrentIndex(0)
    click_ok(qtbot, dialog)
    assert Settings.load(paths.settings_file).device is None


def test_relative_output_folder_is_refused(qtbot, paths, saved):
    dialog = open_dialog(qtbot, saved, paths)
    dialog.outputs_edit.setText("pictures")
    click_ok(qtbot, dialog)
    assert dialog.isVisible() and "full path" in dialog.error_label.text()


def test_vae_choices_global_per_model_and_tiling_are_saved_and_shown_again(qtbot, paths):
    settings = Settings(vae="None", model_vaes={"old_model": "kl-f8-anime2"})
    checkpoints, vaes = ["dreamshaper_8", "sdxl_base"], ["vae-ft-mse-840000", "sdxl-vae-fp16-fix"]
    dialog = SettingsDialog(settings, paths, checkpoints=checkpoints, vaes=vaes)
    qtbot.addWidget(dialog)
    assert dialog.vae_box.choice() == "None"
    assert [dialog.vae_box.itemData(i) for i in range(dialog.vae_box.count())] == ["Automatic", "None", *vaes]
    table = dialog.model_vaes
    assert table.rowCount() == 3 and "not found" in table.item(2, 0).text()  # kept, though the file is gone
    assert table.box("dreamshaper_8").choice() is None  # follows the global choice
    assert "kl-f8-anime2" in table.box("old_model").currentText()

    dialog.vae_box.choose("vae-ft-mse-840000")
    table.box("sdxl_base").choose("sdxl-vae-fp16-fix")
    table.box("dreamshaper_8").choose("None")
    dialog.vae_tiling_box.setCurrentIndex(dialog.vae_tiling_box.findData("on"))
    click_ok(qtbot, dialog)
    on_disk = Settings.load(paths.settings_file)
    assert on_disk.vae == "vae-ft-mse-840000" and on_disk.vae_tiling == "on"
    assert on_disk.model_vaes == {"dreamshaper_8": "None", "sdxl_base": "sdxl-vae-fp16-fix",
                                  "old_model": "kl-f8-anime2"}

    again = SettingsDialog(on_disk, paths, checkpoints=checkpoints, vaes=vaes)
    qtbot.addWidget(again)
    assert again.vae_box.choice() == "vae-ft-mse-840000"
    assert again.model_vaes.box("sdxl_base").choice() == "sdxl-vae-fp16-fix"
    assert again.vae_tiling_box.currentData() == "on"
    again.model_vaes.box("sdxl_base").choose(None)  # back to the global choice: the override goes
    again.accept()
    assert "sdxl_base" not in Settings.load(paths.settings_file).model_vaes

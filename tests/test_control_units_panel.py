"""The ControlNet units panel builds the units a person set up, and remembers them."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from core.models.scan import ModelEntry  # noqa: E402
from desktop.control_units_panel import ControlUnitsPanel  # noqa: E402


def _controlnet(name: str) -> ModelEntry:
    return ModelEntry(path=Path(f"/models/controlnet/{name}.safetensors"), name=name, kind="controlnet",
                      architecture="sd1", inpaint=False, prediction=None, size=1, hash=None, supported=True,
                      reason="")


@pytest.fixture
def panel(qtbot, tmp_path):
    chosen = tmp_path / "edges.png"
    widget = ControlUnitsPanel(choose_file=lambda parent: str(chosen))
    qtbot.addWidget(widget)
    widget.set_models([_controlnet("control_openpose"), _controlnet("control_canny")])
    return widget


def test_nothing_runs_until_the_panel_and_a_unit_are_enabled(panel):
    assert panel.units(lambda: None) == ()
    panel.setChecked(True)
    assert panel.units(lambda: None) == ()


def test_a_pose_unit_and_a_file_unit_with_a_preprocessor(panel, tmp_path):
    panel.setChecked(True)
    pose_unit, canny_unit = panel.editors[0], panel.editors[1]
    pose_unit.enabled_box.setChecked(True)
    pose_unit.weight_spin.setValue(0.8)
    canny_unit.enabled_box.setChecked(True)
    canny_unit.model_box.setCurrentText("control_canny")
    canny_unit.choose_image()
    canny_unit.preprocessor_box.setCurrentText("canny")
    canny_unit.end_spin.setValue(0.5)
    written = []
    units = panel.units(lambda: written.append(1) or tmp_path / "pose.json")
    assert len(units) == 2 and written == [1]
    assert (units[0].model, units[0].pose, units[0].weight, units[0].preprocessor) == (
        "control_openpose", tmp_path / "pose.json", 0.8, "none")
    assert (units[1].model, units[1].image, units[1].preprocessor, units[1].guidance_end) == (
        "control_canny", tmp_path / "edges.png", "canny", 0.5)


def test_state_survives_a_restart_even_before_the_models_are_listed(panel, qtbot):
    panel.setChecked(True)
    panel.editors[2].enabled_box.setChecked(True)
    panel.editors[2].model_box.setCurrentText("control_canny")
    panel.editors[2].mode_box.setCurrentText("ControlNet is more important")
    state = panel.state()

    restored = ControlUnitsPanel()
    qtbot.addWidget(restored)
    restored.restore(state)
    restored.set_models([_controlnet("control_openpose"), _controlnet("control_canny")])
    unit = restored.units(lambda: None)[0]
    assert (unit.model, unit.control_mode) == ("control_canny", "ControlNet is more important")


def test_a_drawing_on_the_canvas_is_a_scribble_control_image(panel, tmp_path):
    panel.setChecked(True)
    editor = panel.editors[0]
    editor.enabled_box.setChecked(True)
    editor.source_box.setCurrentIndex(editor.source_box.findData("drawing"))
    editor.preprocessor_box.setCurrentText("invert")
    [unit] = panel.units(lambda: None, lambda: tmp_path / "strokes.png")
    assert (unit.image, unit.preprocessor) == (tmp_path / "strokes.png", "invert")


# ---------------------------------------------------------------- preprocessor weights


def _panel_with_weights(qtbot, tmp_path, **places):  # type: ignore[no-untyped-def]
    from desktop.control_units_panel import AnnotatorPlaces

    widget = ControlUnitsPanel(annotators=AnnotatorPlaces(tmp_path / "models", **places))
    qtbot.addWidget(widget)
    widget.setChecked(True)
    return widget, widget.editors[0]


def test_a_preprocessor_without_its_weights_says_so_and_a_chosen_file_is_taken(qtbot, tmp_path):
    mine = tmp_path / "downloads" / "my-hed.pth"
    mine.parent.mkdir()
    mine.write_bytes(b"weights")
    panel, editor = _panel_with_weights(qtbot, tmp_path, choose_weights=lambda parent, file: str(mine))
    editor.preprocessor_box.setCurrentText("canny")
    assert editor.weights_row.isHidden()
    editor.preprocessor_box.setCurrentText("softedge")
    assert not editor.weights_row.isHidden()
    assert "ControlNetHED.pth" in editor.weights_row.label.text()
    assert str(tmp_path / "models" / "annotators") in editor.weights_row.label.text()

    editor.weights_row.choose_button.click()
    assert (tmp_path / "models" / "annotators" / "ControlNetHED.pth").read_bytes() == b"weights"
    assert editor.weights_row.isHidden()


def test_weights_an_a1111_install_has_count_as_present(qtbot, tmp_path):
    a1111_models = tmp_path / "webui" / "models"
    kept = tmp_path / "webui" / "extensions/sd-webui-controlnet/annotator/downloads/lineart/sk_model.pth"
    kept.parent.mkdir(parents=True)
    kept.write_bytes(b"x")
    a1111_models.mkdir()
    panel, editor = _panel_with_weights(qtbot, tmp_path, more_models_dirs=lambda: [a1111_models])
    editor.preprocessor_box.setCurrentText("lineart")
    assert editor.weights_row.isHidden()
    editor.preprocessor_box.setCurrentText("lineart_coarse")
    assert "sk_model2.pth" in editor.weights_row.label.text()


def test_download_fetches_the_missing_file_from_the_hub_endpoint(qtbot, tmp_path):
    from tests.fake_hub import FakeHub

    with FakeHub() as hub:
        hub.add_file("lllyasviel/Annotators", "sk_model.pth", b"line art weights" * 1000)
        panel, editor = _panel_with_weights(qtbot, tmp_path, endpoint=lambda: hub.endpoint)
        editor.preprocessor_box.setCurrentText("lineart")
        assert not editor.weights_row.isHidden()
        editor.weights_row.download_button.click()
        qtbot.waitUntil(lambda: editor.weights_row.isHidden(), timeout=20_000)
    assert (tmp_path / "models" / "annotators" / "sk_model.pth").read_bytes() == b"line art weights" * 1000
    panel.shutdown()

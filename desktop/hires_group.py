"""Hires fix controls, as A1111's txt2img has them: a collapsible group that builds a HiresFix (or none)."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox, QLabel, QLineEdit, QSpinBox, QVBoxLayout,
    QWidget,
)

from core.hires import LATENT_UPSCALERS, MAX_RESIZE, MAX_SCALE, MAX_STEPS, MIN_SCALE, PIXEL_UPSCALERS, HiresFix
from core.samplers import SAMPLER_NAMES
from desktop.form_rows import form_row

# A1111's hires upscaler names that need no model file, in its order.
BUILT_IN_UPSCALERS = (*LATENT_UPSCALERS, *PIXEL_UPSCALERS)
SAME_SAMPLER = "Same as first pass"


def _spin(minimum: int, maximum: int, value: int, step: int = 1, special: str = "") -> QSpinBox:
    spin = QSpinBox(minimum=minimum, maximum=maximum, value=value, singleStep=step)
    if special:
        spin.setSpecialValueText(special)
    return spin


def _as_hires(value: Any) -> HiresFix | None:
    """A HiresFix from what a request, an infotext or a saved state holds; None for none or nonsense."""
    if isinstance(value, HiresFix):
        return value
    if isinstance(value, Mapping):
        try:
            return HiresFix.from_json_dict(dict(value))
        except (TypeError, ValueError, KeyError):
            return None
    return None


class HiresGroup(QGroupBox):
    """Checked: the request gets `hires`; unchecked it folds away and the request gets none."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Hires. fix", parent, checkable=True, checked=False)
        self._base_size = (512, 512)
        self._wanted_upscaler: str | None = None  # restored before the model list named it
        self._build()
        self.toggled.connect(self._on_toggled)
        self._on_toggled(False)

    def _build(self) -> None:
        defaults = HiresFix()
        self.upscaler_box = QComboBox(toolTip="Latent: upscale the latents (fast); a model: upscale the image")
        self.upscaler_box.addItems(list(BUILT_IN_UPSCALERS))
        self.upscaler_box.setCurrentText(defaults.upscaler)
        self.scale_spin = QDoubleSpinBox(minimum=MIN_SCALE, maximum=MAX_SCALE, singleStep=0.05, decimals=2, value=defaults.scale)
        self.width_spin = _spin(0, MAX_RESIZE, 0, 8, "from scale")
        self.height_spin = _spin(0, MAX_RESIZE, 0, 8, "from scale")
        self.steps_spin = _spin(0, MAX_STEPS, defaults.steps, special="same as first pass")
        self.denoise_spin = QDoubleSpinBox(minimum=0.0, maximum=1.0, singleStep=0.05, decimals=2,
                                           value=defaults.denoise)
        self.sampler_box = QComboBox()
        self.sampler_box.addItems([SAME_SAMPLER, *SAMPLER_NAMES])
        self.prompt_edit = QLineEdit(placeholderText="Same prompt as the first pass")
        self.negative_edit = QLineEdit(placeholderText="Same negative prompt")
        self.size_label = QLabel()
        for name, widget in (("Hires upscaler", self.upscaler_box), ("Hires scale", self.scale_spin),
                             ("Hires resize width", self.width_spin), ("Hires resize height", self.height_spin),
                             ("Hires steps", self.steps_spin), ("Hires denoising strength", self.denoise_spin),
                             ("Hires sampler", self.sampler_box), ("Hires prompt", self.prompt_edit),
                             ("Hires negative prompt", self.negative_edit)):
            widget.setAccessibleName(name)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Upscaler", self.upscaler_box)
        form.addRow("Scale", form_row(self.scale_spin, QLabel("Steps"), self.steps_spin))
        form.addRow("Resize to", form_row(self.width_spin, QLabel("×"), self.height_spin))
        form.addRow("Denoising", form_row(self.denoise_spin, QLabel("Sampler"), self.sampler_box))
        form.addRow("Prompt", self.prompt_edit)
        form.addRow("Negative", self.negative_edit)
        form.addRow("", self.size_label)
        self.body = QWidget()
        self.body.setLayout(form)
        column = QVBoxLayout(self)
        column.setContentsMargins(6, 2, 6, 2)
        column.addWidget(self.body)
        for signal in (self.upscaler_box.currentIndexChanged, self.scale_spin.valueChanged,
                       self.width_spin.valueChanged, self.height_spin.valueChanged, self.steps_spin.valueChanged,
                       self.denoise_spin.valueChanged, self.sampler_box.currentIndexChanged,
                       self.prompt_edit.textChanged, self.negative_edit.textChanged):
            signal.connect(self._on_edited)

    # ---------------------------------------------------------------- inputs

    def set_upscalers(self, names: Sequence[str]) -> None:
        """The upscaler models found, listed after the built-in choices; the current choice is kept."""
        current = self._wanted_upscaler or self.upscaler_box.currentText()
        self.upscaler_box.blockSignals(True)
        self.upscaler_box.clear()
        self.upscaler_box.addItems([*BUILT_IN_UPSCALERS, *names])
        index = self.upscaler_box.findText(current)
        self.upscaler_box.setCurrentIndex(max(0, index))
        self.upscaler_box.blockSignals(False)
        if index >= 0:
            self._wanted_upscaler = None
        self._update_size_label()

    def set_base_size(self, width: int, height: int) -> None:
        self._base_size = (width, height)
        self._update_size_label()

    # ---------------------------------------------------------------- the request

    def settings(self) -> HiresFix:
        """What the fields say, checked or not."""
        sampler = self.sampler_box.currentText()
        return HiresFix(
            scale=self.scale_spin.value(), steps=self.steps_spin.value(), denoise=self.denoise_spin.value(),
            upscaler=self.upscaler_box.currentText(), resize_width=self.width_spin.value(),
            resize_height=self.height_spin.value(), sampler=None if sampler == SAME_SAMPLER else sampler,
            prompt=self.prompt_edit.text() or None, negative_prompt=self.negative_edit.text() or None)

    def hires(self) -> HiresFix | None:
        """The request's `hires`: None when the group is unchecked."""
        return self.settings() if self.isChecked() else None

    def apply(self, value: Any) -> list[str]:
        """Fill in a HiresFix (or its JSON dict); None unchecks. Returns what could not be applied."""
        fix = _as_hires(value)
        if fix is None:
            self.setChecked(False)
            return [] if value is None else ["hires"]
        failed = self._set_fields(fix)
        self.setChecked(True)
        return failed

    def _set_fields(self, fix: HiresFix) -> list[str]:
        failed: list[str] = []
        index = self.upscaler_box.findText(fix.upscaler)
        if index >= 0:
            self.upscaler_box.setCurrentIndex(index)
        else:
            failed.append("hires upscaler")
            self._wanted_upscaler = fix.upscaler
        for name, spin, value in (("hires scale", self.scale_spin, fix.scale),
                                  ("hires steps", self.steps_spin, fix.steps),
                                  ("hires denoising strength", self.denoise_spin, fix.denoise),
                                  ("hires resize", self.width_spin, fix.resize_width),
                                  ("hires resize", self.height_spin, fix.resize_height)):
            if spin.minimum() <= value <= spin.maximum():
                spin.setValue(value)
            else:
                failed.append(name)
        sampler = self.sampler_box.findText(fix.sampler or SAME_SAMPLER)
        if sampler < 0:
            failed.append("hires sampler")
        self.sampler_box.setCurrentIndex(max(0, sampler))
        self.prompt_edit.setText(fix.prompt or "")
        self.negative_edit.setText(fix.negative_prompt or "")
        return failed

    # ---------------------------------------------------------------- persistence

    def state(self) -> dict[str, Any]:
        return {"enabled": self.isChecked(), "settings": self.settings().to_json_dict()}

    def restore(self, state: Any) -> None:
        if not isinstance(state, Mapping):
            return
        fix = _as_hires(state.get("settings"))
        if fix is not None:
            self._set_fields(fix)
        self.setChecked(bool(state.get("enabled")))

    # ---------------------------------------------------------------- reactions

    def _on_toggled(self, checked: bool) -> None:
        self.body.setVisible(checked)
        self.changed.emit()

    def _on_edited(self) -> None:
        self._update_size_label()
        self.changed.emit()

    def _update_size_label(self) -> None:
        width, height = self._base_size
        size = self.settings().target_size(width, height)
        self.size_label.setText(f"{width}×{height} → {size.width}×{size.height}")

"""The Inpaint mode's options, named and ordered as A1111's inpaint tab has them."""

from __future__ import annotations

from typing import Any, Mapping

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QFormLayout, QHBoxLayout, QSpinBox, QWidget

from core.request import INPAINT_AREAS, MASK_MODES, MASKED_CONTENTS, GenerationRequest

AREA_LABELS = {"whole": "Whole picture", "masked": "Only masked"}
MODE_LABELS = {"masked": "Inpaint masked", "not masked": "Inpaint not masked"}
MAX_OUTPAINT = 2048


def _choices(values: tuple[str, ...], labels: Mapping[str, str] | None = None) -> QComboBox:
    box = QComboBox()
    for value in values:
        box.addItem((labels or {}).get(value, value.capitalize()), value)
    return box


class InpaintPanel(QWidget):
    changed = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.strength_spin = QDoubleSpinBox(minimum=0.0, maximum=1.0, singleStep=0.05, value=0.75, decimals=2)
        self.mask_blur_spin = QSpinBox(minimum=0, maximum=64, value=4, suffix=" px")
        self.mask_mode_box = _choices(MASK_MODES, MODE_LABELS)
        self.masked_content_box = _choices(MASKED_CONTENTS)
        self.masked_content_box.setCurrentIndex(MASKED_CONTENTS.index("original"))
        self.area_box = _choices(INPAINT_AREAS, AREA_LABELS)
        self.padding_spin = QSpinBox(minimum=0, maximum=256, value=32, suffix=" px")
        self.padding_spin.setToolTip("Only masked: context kept around the masked area")
        self.outpaint_spins = {side: QSpinBox(minimum=0, maximum=MAX_OUTPAINT, singleStep=64, suffix=" px")
                               for side in ("left", "right", "top", "bottom")}
        outpaint_row = QHBoxLayout()
        for side, spin in self.outpaint_spins.items():
            spin.setToolTip(f"Extend the canvas on the {side}; the new area is masked and pre-filled")
            outpaint_row.addWidget(spin)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Denoising strength", self.strength_spin)
        form.addRow("Mask blur", self.mask_blur_spin)
        form.addRow("Mask mode", self.mask_mode_box)
        form.addRow("Masked content", self.masked_content_box)
        form.addRow("Inpaint area", self.area_box)
        form.addRow("Only masked padding", self.padding_spin)
        form.addRow("Outpaint L R T B", outpaint_row)
        for spin in (self.strength_spin, self.mask_blur_spin, self.padding_spin, *self.outpaint_spins.values()):
            spin.valueChanged.connect(self.changed)
        for box in (self.mask_mode_box, self.masked_content_box, self.area_box):
            box.currentIndexChanged.connect(self.changed)

    @property
    def mask_blur(self) -> int:
        return self.mask_blur_spin.value()

    def outpaint(self) -> tuple[int, int, int, int] | None:
        sides = tuple(spin.value() for spin in self.outpaint_spins.values())
        return sides if any(sides) else None  # type: ignore[return-value]

    def apply_to(self, request: GenerationRequest) -> GenerationRequest:
        return request.replace(
            denoising_strength=self.strength_spin.value(), mask_blur=self.mask_blur,
            mask_mode=self.mask_mode_box.currentData(), masked_content=self.masked_content_box.currentData(),
            inpaint_area=self.area_box.currentData(), padding=self.padding_spin.value(), outpaint=self.outpaint())

    def state(self) -> dict[str, Any]:
        request = self.apply_to(GenerationRequest(model=""))
        return {key: getattr(request, key) for key in
                ("denoising_strength", "mask_blur", "mask_mode", "masked_content", "inpaint_area", "padding")}

    def restore(self, state: Mapping[str, Any]) -> None:
        """Fields from `state()` or a reused request; unknown values are left as they are."""
        self._set_number(self.strength_spin, state.get("denoising_strength"))
        self._set_number(self.mask_blur_spin, state.get("mask_blur"))
        self._set_number(self.padding_spin, state.get("padding"))
        for box, key in ((self.mask_mode_box, "mask_mode"), (self.masked_content_box, "masked_content"),
                         (self.area_box, "inpaint_area")):
            index = box.findData(state.get(key))
            if index >= 0:
                box.setCurrentIndex(index)

    @staticmethod
    def _set_number(spin: QSpinBox | QDoubleSpinBox, value: Any) -> None:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            spin.setValue(value)

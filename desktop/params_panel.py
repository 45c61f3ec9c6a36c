"""The generation settings side panel: model, prompts, sampler, steps, CFG, seed, size, batch, clip skip, VAE,
hires fix.

It builds a GenerationRequest, takes fields back from an image's infotext (`apply_fields`) and
remembers the last settings between runs (`state`/`restore`).
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any, Callable, Mapping, Sequence

from PySide6.QtCore import QEvent, QObject, Signal
from PySide6.QtWidgets import (
    QComboBox, QDoubleSpinBox, QFormLayout, QLabel, QSpinBox, QVBoxLayout, QWidget,
)

from core.errors import RequestError
from core.models.scan import ModelEntry
from core.request import GenerationRequest
from core.samplers import AUTOMATIC, SAMPLER_NAMES, SCHEDULE_TYPES, parse_sampler_name
from desktop.form_rows import form_row
from desktop.hires_group import HiresGroup
from desktop.model_picker import ModelPicker
from desktop.prompt_editor import PromptEditor
from desktop.prompt_insert import insert_at_cursor
from desktop.seed_editor import SeedEditor
from desktop.size_editor import DEFAULT_SIDES, SizeEditor, default_size_note

AUTOMATIC_VAE = "Automatic"  # the request names none: the settings decide (global or per model)
CHECKPOINT_VAE = "None"  # the checkpoint's own VAE, whatever the settings say (A1111's "None")
STATE_VERSION = 1
# Request fields that belong to other parts of the window (canvas, img2img), not to this panel.
_NOT_PANEL_FIELDS = frozenset({"mode", "init_image", "denoising_strength", "model_config"})
# field -> (widget attribute, value type); each is applied by _apply_number.
_NUMBER_FIELDS: dict[str, tuple[str, type]] = {
    "steps": ("steps_spin", int),
    "cfg_scale": ("cfg_spin", float),
    "batch_size": ("batch_size_spin", int),
    "batch_count": ("batch_count_spin", int),
    "clip_skip": ("clip_skip_spin", int),
}


class ParamsPanel(QWidget):
    changed = Signal()  # any edit, by the user or by apply_fields/restore (once per call)
    generate_requested = Signal()  # Ctrl/Cmd+Return in a prompt, when no window shortcut took it

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._loading = 0
        self._previous_model: ModelEntry | None = None
        self._wanted_model: str | None = None  # from restore(), until set_models lists it
        self._wanted_vae: str | None = None
        self._build_widgets()
        self._last_prompt_editor = self.prompt_edit  # where a clicked LoRA or embedding goes
        self._build_layout()
        self._connect()

    # ---------------------------------------------------------------- building

    def _build_widgets(self) -> None:
        self.model_picker = ModelPicker()
        self.model_picker.setAccessibleName("Model")
        self.prompt_edit = PromptEditor("Prompt")
        self.prompt_edit.setAccessibleName("Prompt")
        self.negative_edit = PromptEditor("Negative prompt")
        self.negative_edit.setAccessibleName("Negative prompt")
        self.sampler_box = QComboBox()
        self.sampler_box.addItems(list(SAMPLER_NAMES))
        self.sampler_box.setCurrentText("Euler a")
        self.schedule_box = QComboBox(toolTip="Schedule type; Automatic is each sampler's A1111 default")
        self.schedule_box.addItems(list(SCHEDULE_TYPES))
        self.steps_spin = QSpinBox(minimum=1, maximum=500, value=20)
        self.cfg_spin = QDoubleSpinBox(minimum=1.0, maximum=30.0, singleStep=0.5, decimals=1, value=7.0)
        self.seed_editor = SeedEditor()
        self.size_editor = SizeEditor()
        self.batch_size_spin = QSpinBox(minimum=1, maximum=8, value=1, toolTip="Images generated together")
        self.batch_count_spin = QSpinBox(minimum=1, maximum=100, value=1, toolTip="Batches generated one after another")
        self.clip_skip_spin = QSpinBox(minimum=1, maximum=12, value=1,
                                       toolTip="Clip skip: 2 for many anime models (SD 1.x only, as in A1111)")
        self.vae_box = QComboBox(toolTip="Automatic: as set in Settings → Models (a VAE named like the checkpoint, "
                                         "else the checkpoint's own); None: the checkpoint's own")
        self.vae_box.addItems([AUTOMATIC_VAE, CHECKPOINT_VAE])
        # VAE file names are long; the popup shows them whole, the closed box elides.
        self.vae_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.vae_box.setMinimumContentsLength(10)
        for name, widget in (("Sampler", self.sampler_box), ("Schedule type", self.schedule_box),
                             ("Steps", self.steps_spin), ("CFG scale", self.cfg_spin),
                             ("Batch size", self.batch_size_spin), ("Batch count", self.batch_count_spin),
                             ("Clip skip", self.clip_skip_spin), ("VAE", self.vae_box)):
            widget.setAccessibleName(name)
        self.hires_group = HiresGroup()

    def _build_layout(self) -> None:
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Sampler", form_row(self.sampler_box, self.schedule_box))
        form.addRow("Steps", form_row(self.steps_spin, QLabel("CFG"), self.cfg_spin))
        form.addRow("Size", self.size_editor)
        form.addRow("Seed", self.seed_editor)
        form.addRow("Batch", form_row(self.batch_size_spin, QLabel("×"), self.batch_count_spin))
        form.addRow("Clip skip", form_row(self.clip_skip_spin, QLabel("VAE"), self.vae_box))
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.model_picker)
        column.addWidget(self.prompt_edit, 3)
        column.addWidget(self.negative_edit, 2)
        column.addLayout(form)
        column.addWidget(self.hires_group)
        for editor in (self.prompt_edit, self.negative_edit):
            editor.setMinimumHeight(64)
        self._set_tab_order()

    def _set_tab_order(self) -> None:
        seed, size = self.seed_editor, self.size_editor
        chain = [self.model_picker, self.prompt_edit, self.negative_edit, self.sampler_box, self.schedule_box,
                 self.steps_spin, self.cfg_spin, size.width_spin, size.swap_button, size.height_spin,
                 size.preset_button, seed.spin, seed.random_button, seed.reuse_button, self.batch_size_spin,
                 self.batch_count_spin, self.clip_skip_spin, self.vae_box]
        for first, second in zip(chain, chain[1:]):
            QWidget.setTabOrder(first, second)

    def _connect(self) -> None:
        self.model_picker.currentIndexChanged.connect(self._on_model_changed)
        for signal in (self.prompt_edit.prompt_changed, self.negative_edit.prompt_changed,
                       self.sampler_box.currentIndexChanged, self.schedule_box.currentIndexChanged,
                       self.steps_spin.valueChanged, self.cfg_spin.valueChanged, self.seed_editor.changed,
                       self.size_editor.changed, self.batch_size_spin.valueChanged,
                       self.batch_count_spin.valueChanged, self.clip_skip_spin.valueChanged,
                       self.vae_box.currentIndexChanged, self.hires_group.changed):
            signal.connect(self._emit_changed)
        for editor in (self.prompt_edit, self.negative_edit):
            editor.submitted.connect(self.generate_requested)
            editor.installEventFilter(self)
        self.size_editor.changed.connect(lambda: self.hires_group.set_base_size(*self.size_editor.image_size()))
        self.hires_group.set_base_size(*self.size_editor.image_size())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.FocusIn and watched in (self.prompt_edit, self.negative_edit):
            self._last_prompt_editor = watched  # type: ignore[assignment]
        return super().eventFilter(watched, event)

    # ---------------------------------------------------------------- inputs from the window

    def set_models(self, entries: Sequence[ModelEntry]) -> None:
        """The checkpoints to choose from (other kinds are left out); the current choice is kept."""
        with self._batch():
            self.model_picker.set_entries(entries)
            if self._wanted_model:
                entry = self.model_picker.match(self._wanted_model)
                if entry is not None:
                    self.model_picker.select_path(entry.path)
                    self._wanted_model = None
            self._previous_model = self.model_picker.current_entry()

    def set_vaes(self, names: Sequence[str]) -> None:
        with self._batch():
            current = self._wanted_vae or self.vae_box.currentText()
            self.vae_box.clear()
            self.vae_box.addItems([AUTOMATIC_VAE, CHECKPOINT_VAE, *names])
            index = self._vae_index(current)
            self.vae_box.setCurrentIndex(max(0, index))
            if index > 0:
                self._wanted_vae = None

    def set_upscalers(self, names: Sequence[str]) -> None:
        """Upscaler models for the hires fix, after A1111's latent and plain-resize choices."""
        self.hires_group.set_upscalers(names)

    def set_hires_available(self, available: bool) -> None:
        """Hires fix is a txt2img feature: the window hides it in the other modes."""
        self.hires_group.setVisible(available)

    def insert_at_cursor(self, tag: str) -> None:
        """Into the prompt (or the negative prompt, when it was the last one typed in), at its cursor."""
        insert_at_cursor(self._last_prompt_editor, tag)
        self._last_prompt_editor.setFocus()

    def set_last_seed(self, seed: int) -> None:
        self.seed_editor.set_last_seed(seed)

    def set_token_counter(self, counter: Callable[[str], list[int]] | None) -> None:
        self.prompt_edit.set_token_counter(counter)
        self.negative_edit.set_token_counter(counter)

    # ---------------------------------------------------------------- the request

    def to_request(self) -> GenerationRequest:
        entry = self.model_picker.current_entry()
        width, height = self.size_editor.image_size()
        vae = self.vae_box.currentText()
        return GenerationRequest(
            model=str(entry.path) if entry else "",
            prompt=self.prompt_edit.toPlainText(),
            negative_prompt=self.negative_edit.toPlainText(),
            steps=self.steps_spin.value(),
            cfg_scale=self.cfg_spin.value(),
            sampler=self.sampler_box.currentText(),
            schedule=self.schedule_box.currentText(),
            seed=self.seed_editor.seed(),
            width=width,
            height=height,
            batch_size=self.batch_size_spin.value(),
            batch_count=self.batch_count_spin.value(),
            clip_skip=self.clip_skip_spin.value(),
            vae=None if vae == AUTOMATIC_VAE else vae,
            hires=self.hires_group.hires(),
        )

    def apply_fields(self, fields: Mapping[str, Any]) -> list[str]:
        """Fill in what `fields` (GenerationRequest names, e.g. from an image's infotext) say.

        `model` is matched to a loaded checkpoint by path, name or A1111 title, and by `model_hash`
        when given. Returns the fields that could not be applied (a model that is not installed, a
        sampler Easel lacks, a value out of range). Keys that are not request fields are ignored, and
        so are mode, init_image, denoising_strength and model_config, which belong to the window.
        `hires` (a HiresFix or its JSON dict; None: off) fills the hires fix group; a whole image's
        settings without it switch hires fix off, as pasting into A1111 does.
        """
        failed: list[str] = []
        with self._batch():
            if fields.get("model") or fields.get("model_hash"):
                self._apply_model(str(fields.get("model") or ""), fields.get("model_hash"), failed)
            if "prompt" in fields:
                self.prompt_edit.setPlainText(str(fields["prompt"] or ""))
            if "negative_prompt" in fields:
                self.negative_edit.setPlainText(str(fields["negative_prompt"] or ""))
            self._apply_sampler(fields, failed)
            for name, (attribute, kind) in _NUMBER_FIELDS.items():
                if name in fields and not _set_number(getattr(self, attribute), fields[name], kind):
                    failed.append(name)
            self._apply_seed(fields, failed)
            self._apply_size(fields, failed)
            self._apply_vae(fields, failed)
            if "hires" in fields:
                failed.extend(self.hires_group.apply(fields["hires"]))
            elif {"prompt", "steps"} <= fields.keys():
                self.hires_group.setChecked(False)  # a whole image's settings without one: as A1111's paste
        return failed

    def _apply_model(self, model: str, model_hash: Any, failed: list[str]) -> None:
        entry = self.model_picker.match(model, str(model_hash) if model_hash else None)
        if entry is None:
            failed.append("model")
        else:
            self.model_picker.select_path(entry.path)

    def _apply_sampler(self, fields: Mapping[str, Any], failed: list[str]) -> None:
        if "sampler" not in fields and "schedule" not in fields:
            return
        sampler = fields.get("sampler") or self.sampler_box.currentText()
        try:
            sampler, schedule = parse_sampler_name(str(sampler), str(fields.get("schedule") or AUTOMATIC))
        except RequestError:
            failed.append("sampler" if "sampler" in fields else "schedule")
            return
        self.sampler_box.setCurrentText(sampler)
        self.schedule_box.setCurrentText(schedule)

    def _apply_seed(self, fields: Mapping[str, Any], failed: list[str]) -> None:
        if "seed" not in fields:
            return
        seed = _as_number(fields["seed"], int)
        if seed is None or not self.seed_editor.accepts(seed):
            failed.append("seed")
        else:
            self.seed_editor.set_seed(seed)

    def _apply_size(self, fields: Mapping[str, Any], failed: list[str]) -> None:
        current_width, current_height = self.size_editor.image_size()
        width = _as_number(fields.get("width", current_width), int)
        height = _as_number(fields.get("height", current_height), int)
        spin = self.size_editor.width_spin
        for name, value in (("width", width), ("height", height)):
            if name in fields and (value is None or not spin.minimum() <= value <= spin.maximum()):
                failed.append(name)
        if ("width" in fields or "height" in fields) and not {"width", "height"} & set(failed):
            self.size_editor.set_image_size(width, height)

    def _apply_vae(self, fields: Mapping[str, Any], failed: list[str]) -> None:
        if "vae" not in fields:
            return
        index = self._vae_index(fields["vae"] or AUTOMATIC_VAE)
        if index < 0:
            failed.append("vae")
        else:
            self.vae_box.setCurrentIndex(index)

    def _vae_index(self, vae: str) -> int:
        """A VAE named by its listed name, file name, stem or path."""
        wanted = {str(vae), PurePath(str(vae)).name, PurePath(str(vae)).stem}
        for index in range(self.vae_box.count()):
            name = self.vae_box.itemText(index)
            if name in wanted or PurePath(name).stem in wanted:
                return index
        return -1

    # ---------------------------------------------------------------- persistence

    def state(self) -> dict[str, Any]:
        """The panel's settings as JSON-serialisable data, for `restore` on the next run."""
        entry = self.model_picker.current_entry()
        request = self.to_request().to_json_dict()
        for name in _NOT_PANEL_FIELDS:
            request.pop(name, None)
        request.pop("hires", None)  # kept whole below, also while unchecked
        return {"version": STATE_VERSION, "request": request, "model_name": entry.name if entry else None,
                "last_seed": self.seed_editor.last_seed(), "hires": self.hires_group.state()}

    def restore(self, state: Mapping[str, Any]) -> None:
        """Settings saved by `state`. A model or VAE not listed (yet) is chosen once set_models/set_vaes
        list it; the other fields are restored either way, and broken values are skipped."""
        if not isinstance(state, Mapping):
            return
        request = dict(state.get("request") or {})
        request.pop("hires", None)
        model, name = request.pop("model", None), state.get("model_name")
        with self._batch():
            failed = self.apply_fields(request)
            self.hires_group.restore(state.get("hires"))
            if model or name:
                self._restore_model(str(model or ""), str(name) if name else None)
            if "vae" in failed:
                self._wanted_vae = str(request["vae"])
            last_seed = _as_number(state.get("last_seed"), int)
            if last_seed is not None:
                self.seed_editor.set_last_seed(last_seed)

    def _restore_model(self, path: str, name: str | None) -> None:
        entry = self.model_picker.match(path) if path else None
        entry = entry or (self.model_picker.match(name) if name else None)
        if entry is None:
            self._wanted_model = name or path
            return
        self.model_picker.select_path(entry.path)
        self._previous_model = entry

    # ---------------------------------------------------------------- reactions

    def _on_model_changed(self) -> None:
        entry, previous = self.model_picker.current_entry(), self._previous_model
        self._previous_model = entry
        if self._loading or entry is None:
            return
        self._wanted_model = None  # the user chose; a remembered model no longer applies
        self._switch_default_size(entry, previous)
        self.changed.emit()

    def _switch_default_size(self, entry: ModelEntry, previous: ModelEntry | None) -> None:
        """SD 1.x at 512² and SDXL at 1024²: follow the model, unless the user chose another size."""
        if entry.architecture not in DEFAULT_SIDES:
            return
        side = DEFAULT_SIDES[entry.architecture]
        width, height = self.size_editor.image_size()
        other_defaults = {DEFAULT_SIDES.get(previous.architecture or "")} if previous else set(DEFAULT_SIDES.values())
        if width == height and width != side and width in other_defaults:
            self.size_editor.set_image_size(side, side, note=default_size_note(entry.architecture))

    def _emit_changed(self) -> None:
        if not self._loading:
            self.changed.emit()

    def _batch(self) -> "_Batch":
        return _Batch(self)


class _Batch:
    """Programmatic edits: no size switching on model change, and one `changed` at the end."""

    def __init__(self, panel: ParamsPanel) -> None:
        self._panel = panel

    def __enter__(self) -> None:
        self._panel._loading += 1

    def __exit__(self, *exc: object) -> None:
        self._panel._loading -= 1
        if not self._panel._loading:
            self._panel.changed.emit()



def _as_number(value: Any, kind: type) -> Any:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = kind(value)
    except (TypeError, ValueError):
        return None
    if kind is int and isinstance(value, float) and not value.is_integer():
        return None
    return number


def _set_number(spin: QSpinBox | QDoubleSpinBox, value: Any, kind: type) -> bool:
    number = _as_number(value, kind)
    if number is None or not spin.minimum() <= number <= spin.maximum():
        return False
    spin.setValue(number)
    return True

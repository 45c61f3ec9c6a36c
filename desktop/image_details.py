"""How an image was made: prompt, negative prompt and settings, with the actions that reuse them."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any, Callable, Mapping

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import (
    QFrame, QHBoxLayout, QLabel, QMenu, QPushButton, QScrollArea, QToolButton, QVBoxLayout, QWidget,
)

from core.history import HistoryEntry
from core.infotext import format_infotext, parse_infotext, request_fields_from_infotext
from core.metadata.imported import ImportedMetadata
from core.request import GenerationRequest
from core.samplers import infotext_sampler_fields
from desktop.platform_actions import reveal_in_file_manager, reveal_label

# Mode id -> menu text. The ids are what send_to_requested carries.
SEND_TO_MODES: dict[str, str] = {"img2img": "Img2img", "inpaint": "Inpaint", "controlnet": "ControlNet",
                                 "extras": "Extras (upscale)"}
UPSCALE_MODE = "extras"  # "Upscale" sends the image to the Extras mode, ready to run

# GenerationRequest field -> how a person calls it, for "these settings can be reused".
FIELD_LABELS: dict[str, str] = {
    "model": "model", "prompt": "prompt", "negative_prompt": "negative prompt", "steps": "steps",
    "sampler": "sampler", "schedule": "schedule type", "cfg_scale": "CFG scale", "seed": "seed",
    "width": "width", "height": "height", "clip_skip": "clip skip", "denoising_strength": "denoising strength",
    "batch_size": "batch size", "batch_count": "batch count", "vae": "VAE", "hires": "hires fix",
}
# Tool names as a sentence needs them ("Made with A1111 / Forge"), where SOURCE_NAMES says more.
_TOOL_NAMES = {"a1111": "A1111 / Forge"}
EMPTY_TEXT = "Select an image to see how it was made."


def reuse_fields(entry: HistoryEntry) -> dict[str, Any]:
    """The request that made `entry`, as GenerationRequest fields, with the seed this very image got.

    Entries recorded without a readable request fall back to what their infotext says.
    """
    try:
        request = GenerationRequest.from_json_dict(entry.request) if entry.request.get("model") else None
    except (TypeError, ValueError, KeyError):
        request = None
    if request is None:
        fields = request_fields_from_infotext(parse_infotext(entry.infotext))
    else:
        fields = {field.name: getattr(request, field.name) for field in dataclasses.fields(request)}
    if entry.seed >= 0:
        fields["seed"] = entry.seed  # the request may say -1 (random) or the first seed of a batch
    return fields


def infotext_from_fields(fields: Mapping[str, Any]) -> str:
    """A1111 infotext for settings read from another tool, so they paste into A1111 or Easel."""
    params: dict[str, object] = {"Steps": fields.get("steps")}
    if fields.get("sampler"):
        params.update(infotext_sampler_fields(str(fields["sampler"]), str(fields.get("schedule", "Automatic"))))
    params["CFG scale"] = fields.get("cfg_scale")
    params["Seed"] = fields.get("seed")
    if "width" in fields and "height" in fields:
        params["Size"] = f"{fields['width']}x{fields['height']}"
    params["Model"] = fields.get("model") or None
    params["Denoising strength"] = fields.get("denoising_strength")
    params["Clip skip"] = fields["clip_skip"] if fields.get("clip_skip", 1) > 1 else None
    return format_infotext(str(fields.get("prompt", "")), str(fields.get("negative_prompt", "")), params)


def describe_import(metadata: ImportedMetadata) -> str:
    """ "Made with ComfyUI: these settings can be reused: …; these cannot: …" """
    tool = _TOOL_NAMES.get(metadata.source, metadata.tool_name)
    reusable = [FIELD_LABELS.get(name, name) for name, value in metadata.request_fields.items() if value != ""]
    text = f"Made with {tool}: these settings can be reused: {', '.join(reusable) or 'none'}"
    if metadata.unmapped:
        text += f"; these cannot: {', '.join(map(_unmapped_item, metadata.unmapped.items()))}"
    return text + "."


def _unmapped_item(item: tuple[str, Any]) -> str:
    """`loras (add_detail.safetensors)`: a list is named by its items, each by its first text."""
    key, value = item
    if not isinstance(value, list):
        return key
    names = [_first_text(element) for element in value]
    return f"{key} ({', '.join(name for name in names if name)})"


def _first_text(value: Any) -> str:
    if isinstance(value, dict):
        return next((str(v) for v in value.values() if isinstance(v, str)), "")
    return str(value)


def _one_line(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _parameter_lines(params: Mapping[str, object]) -> str:
    return "\n".join(f"{key}: {value}" for key, value in params.items())


def _infotext_parameters(infotext: str) -> dict[str, str]:
    """The `Key: value` pairs, without parse_infotext's `Size-1`/`Size-2` split of `Size: WxH`."""
    params = parse_infotext(infotext).params
    return {key: value for key, value in params.items() if not (key[-2:] in ("-1", "-2") and key[:-2] in params)}


def _field_parameters(fields: Mapping[str, Any]) -> dict[str, object]:
    labels = {name: FIELD_LABELS.get(name, name) for name in fields if name not in ("prompt", "negative_prompt")}
    return {label[:1].upper() + label[1:]: fields[name] for name, label in labels.items()}


def _imported_parameters(metadata: ImportedMetadata) -> dict[str, object]:
    unmapped = {f"{key} (not reusable)": _one_line(value) for key, value in metadata.unmapped.items()}
    return {**_field_parameters(metadata.request_fields), **unmapped}


def _entry_summary(entry: HistoryEntry) -> str:
    """What is known of it: an upscaled picture without parameters has no model and no seed."""
    made = time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.created))
    seed = f"seed {entry.seed}" if entry.seed >= 0 else ""
    parts = (entry.path.name, entry.model_name, f"{entry.width}×{entry.height}", seed, made)
    return " · ".join(part for part in parts if part)


class _Section(QWidget):
    """A heading over selectable, wrapping text."""

    def __init__(self, title: str) -> None:
        super().__init__()
        self.title = QLabel(title)
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.text = QLabel(wordWrap=True, textFormat=Qt.TextFormat.PlainText)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.text)

    def set_text(self, text: str) -> None:
        self.text.setText(text)
        self.setVisible(bool(text))


class ImageDetails(QWidget):
    """The settings of a history entry or an opened/dropped image, and what can be done with them."""

    reuse_requested = Signal(dict)
    send_to_requested = Signal(str, object)  # mode id, Path
    delete_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None,
                 reveal: Callable[[Path], None] = reveal_in_file_manager) -> None:
        super().__init__(parent)
        self._reveal = reveal
        self._fields: dict[str, Any] = {}
        self._infotext = ""
        self._path: Path | None = None
        self._entry_id: int | None = None
        self._build()
        self.clear()

    def _build(self) -> None:
        self.summary = QLabel(wordWrap=True, textFormat=Qt.TextFormat.PlainText)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.prompt = _Section("Prompt")
        self.negative = _Section("Negative prompt")
        self.parameters = _Section("Parameters")
        content = QWidget()
        column = QVBoxLayout(content)
        for widget in (self.summary, self.prompt, self.negative, self.parameters):
            column.addWidget(widget)
        column.addStretch()
        scroll = QScrollArea(widgetResizable=True, frameShape=QFrame.Shape.NoFrame)
        scroll.setWidget(content)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll, 1)
        layout.addLayout(self._build_buttons())

    def _build_buttons(self) -> QVBoxLayout:
        self.reuse_button = QPushButton("Reuse parameters", clicked=self._reuse)
        self.reuse_button.setToolTip("Fill the parameters panel with these settings")
        self.send_to_button = QToolButton(text="Send to", popupMode=QToolButton.ToolButtonPopupMode.InstantPopup)
        self.send_to_actions: dict[str, QAction] = {}
        menu = QMenu(self.send_to_button)
        for mode, title in SEND_TO_MODES.items():
            self.send_to_actions[mode] = menu.addAction(title, lambda mode=mode: self._send_to(mode))
        self.send_to_button.setMenu(menu)
        self.upscale_button = QPushButton("Upscale", clicked=lambda: self._send_to(UPSCALE_MODE))
        self.upscale_button.setToolTip("Open this image in the Extras mode, ready to upscale")
        self.copy_button = QPushButton("Copy infotext", clicked=self.copy_infotext)
        self.reveal_button = QPushButton(reveal_label(), clicked=self._reveal_file)
        self.delete_button = QPushButton("Delete…", clicked=self._delete)
        first, second = QHBoxLayout(), QHBoxLayout()
        first.addWidget(self.reuse_button, 1)
        first.addWidget(self.upscale_button)
        first.addWidget(self.send_to_button)
        for button in (self.copy_button, self.reveal_button, self.delete_button):
            second.addWidget(button)
        self.message = QLabel(wordWrap=True, textFormat=Qt.TextFormat.PlainText, visible=False)
        rows = QVBoxLayout()
        rows.addLayout(first)
        rows.addLayout(second)
        rows.addWidget(self.message)
        return rows

    def clear(self) -> None:
        self._show(EMPTY_TEXT, {}, "", None, None)
        self._set_sections("", "", {})

    def show_entry(self, entry: HistoryEntry) -> None:
        """A recorded image: its request for reuse, its infotext for the text shown and copied."""
        fields = reuse_fields(entry)
        self._show(_entry_summary(entry), fields, entry.infotext, entry.path, entry.id)
        params = _infotext_parameters(entry.infotext) if entry.infotext else _field_parameters(fields)
        self._set_sections(entry.prompt, entry.negative_prompt, params)

    def show_metadata(self, path: Path, metadata: ImportedMetadata | None) -> None:
        """An opened or dropped image and what its metadata says (None: it carries no settings)."""
        path = Path(path)
        if metadata is None:
            self._show(f"{path.name} carries no generation settings Easel can read.", {}, "", path, None)
            self._set_sections("", "", {})
            return
        fields = dict(metadata.request_fields)
        from_a1111 = metadata.source == "a1111"
        infotext = metadata.raw if from_a1111 else infotext_from_fields(fields)
        self._show(describe_import(metadata), fields, infotext, path, None)
        params = _infotext_parameters(metadata.raw) if from_a1111 else _imported_parameters(metadata)
        self._set_sections(str(fields.get("prompt", "")), str(fields.get("negative_prompt", "")), params)

    def _set_sections(self, prompt: str, negative: str, params: Mapping[str, object]) -> None:
        self.prompt.set_text(prompt)
        self.negative.set_text(negative)
        self.parameters.set_text(_parameter_lines(params))

    def _show(self, summary: str, fields: dict[str, Any], infotext: str, path: Path | None,
              entry_id: int | None) -> None:
        self.summary.setText(summary)
        self.message.hide()
        self._fields, self._infotext, self._path, self._entry_id = fields, infotext, path, entry_id
        self.reuse_button.setEnabled(bool(fields))
        self.send_to_button.setEnabled(path is not None)
        self.upscale_button.setEnabled(path is not None)
        self.copy_button.setEnabled(bool(infotext))
        self.reveal_button.setEnabled(path is not None)
        self.delete_button.setVisible(entry_id is not None)  # only Easel's own history entries are deleted here

    def copy_infotext(self) -> None:
        QGuiApplication.clipboard().setText(self._infotext)

    def _reuse(self) -> None:
        self.reuse_requested.emit(dict(self._fields))

    def _send_to(self, mode: str) -> None:
        if self._path is not None:
            self.send_to_requested.emit(mode, self._path)

    def _reveal_file(self) -> None:
        if self._path is None:
            return
        try:
            self._reveal(self._path)
        except OSError as error:
            self.message.setText(f"The file manager could not be opened: {error}")
            self.message.show()

    def _delete(self) -> None:
        if self._entry_id is not None:
            self.delete_requested.emit(self._entry_id)

"""The pose editor's side panel: people, templates, hands and face, reference image, files, undo.

It drives the `PoseCanvas` it is given and follows it: every change goes through the canvas, so it is
one undo step there, and the panel redraws itself from the canvas's signals.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from PIL import Image, UnidentifiedImageError
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QFileDialog, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QListWidget,
                               QListWidgetItem, QMenu, QPushButton, QSlider, QVBoxLayout, QWidget)

from core.errors import EaselError
from core.pose import Part, Person, PoseDocument, is_hidden, render
from core.pose_ops import center, translate
from core.pose_templates import TEMPLATE_NAMES, add_template, fit_face, fit_hand, load_template
from desktop.palette_colors import dimmed_text, warning
from desktop.pose_canvas import PoseCanvas, Selection

POSE_FILES = "OpenPose JSON (*.json);;All files (*)"
IMAGE_FILES = "Images (*.png *.jpg *.jpeg *.webp *.bmp);;All files (*)"
_TEMPLATE_LABELS = {"standing": "Standing", "walking": "Walking", "sitting": "Sitting", "arms-up": "Arms up",
                    "t-pose": "T-pose"}
_PART_LABELS = {Part.LEFT_HAND: "Left hand", Part.RIGHT_HAND: "Right hand", Part.FACE: "Face"}
_TIPS = ("Drag a joint to move it, a limb to move the person; the selected person's corners scale it, the "
         "round handle turns it (Shift: 15° steps). Arrows nudge (Shift: 10 px), Delete removes, right-click "
         "hides or shows a joint. Drag empty space to pan.")
_SAME_PLACE = 0.25  # of a new person's height: a centre this close to another's is moved aside


def _ask_open(parent: QWidget, title: str, filters: str) -> str:
    return QFileDialog.getOpenFileName(parent, title, "", filters)[0]


def _ask_save(parent: QWidget, title: str, suggested: str, filters: str) -> str:
    return QFileDialog.getSaveFileName(parent, title, suggested, filters)[0]


@dataclass(frozen=True)
class FileDialogs:
    """Where the panel asks for file names; tests pass functions that answer without a dialog."""

    open_file: Callable[[QWidget, str, str], str] = _ask_open  # (parent, title, filters) -> path or ""
    save_file: Callable[[QWidget, str, str, str], str] = _ask_save  # (parent, title, suggested, filters)


class PosePanel(QWidget):
    def __init__(self, canvas: PoseCanvas, dialogs: FileDialogs | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas = canvas
        self._dialogs = dialogs or FileDialogs()
        self._part_templates: dict[str, Person] = {}  # the hand and face templates, read on first use
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        for group in (self._people_group(), self._person_group(), self._editing_group(), self._reference_group(),
                      self._file_group()):
            layout.addWidget(group)
        self.message_label = QLabel(wordWrap=True)
        self.message_label.setVisible(False)
        layout.addWidget(self.message_label)
        layout.addStretch(1)
        layout.addWidget(self._tips())
        self._connect()
        self._refresh()

    # --- building ---------------------------------------------------------------------------------

    def _people_group(self) -> QGroupBox:
        self.people_list = QListWidget()
        self.people_list.setToolTip("Click to select; untick to leave a person out of the control image")
        self.people_list.setFixedHeight(self.people_list.fontMetrics().height() * 7)
        self.add_button = _button("Add person", "Add a person from a template")
        menu = QMenu(self.add_button)
        for name in TEMPLATE_NAMES:
            menu.addAction(_TEMPLATE_LABELS.get(name, name), lambda n=name: self.add_template(n))
        self.add_button.setMenu(menu)
        self.duplicate_button = _button("Duplicate", "Add a copy of the selected person")
        self.delete_button = _button("Delete", "Delete the selected person (Delete)")
        group = QGroupBox("People")
        column = QVBoxLayout(group)
        column.addWidget(self.people_list)
        column.addLayout(_row(self.add_button, self.duplicate_button, self.delete_button))
        return group

    def _person_group(self) -> QGroupBox:
        self.part_boxes = {part: QCheckBox(label) for part, label in _PART_LABELS.items()}
        self.part_boxes[Part.LEFT_HAND].setToolTip("Add a hand fitted to the left wrist, or remove it")
        self.part_boxes[Part.RIGHT_HAND].setToolTip("Add a hand fitted to the right wrist, or remove it")
        self.part_boxes[Part.FACE].setToolTip("Add a face fitted to the head, or remove it")
        self.mirror_button = _button("Mirror", "Flip the selected person, swapping left and right")
        group = QGroupBox("Selected person")
        grid = QGridLayout(group)
        grid.addWidget(self.part_boxes[Part.LEFT_HAND], 0, 0)
        grid.addWidget(self.part_boxes[Part.RIGHT_HAND], 0, 1)
        grid.addWidget(self.part_boxes[Part.FACE], 1, 0)
        grid.addWidget(self.mirror_button, 1, 1)
        return group

    def _editing_group(self) -> QGroupBox:
        self.keep_lengths_box = QCheckBox("Keep limb lengths")
        self.keep_lengths_box.setToolTip("A dragged joint swings about the joint it hangs from; the joints "
                                         "below it move along")
        self.undo_button = _button("Undo", "Undo (Ctrl+Z)")
        self.redo_button = _button("Redo", "Redo (Ctrl+Shift+Z or Ctrl+Y)")
        self.size_label = QLabel()
        self.size_label.setToolTip("The canvas follows the generation size; zoom with the wheel or a pinch")
        self.fit_button = _button("Fit", "Fit the canvas into the view")
        group = QGroupBox("Canvas")
        column = QVBoxLayout(group)
        column.addLayout(_row(self.size_label, self.fit_button))
        column.addWidget(self.keep_lengths_box)
        column.addLayout(_row(self.undo_button, self.redo_button))
        return group

    def _reference_group(self) -> QGroupBox:
        self.open_reference_button = _button("Open…", "Show a photo under the pose to trace it")
        self.clear_reference_button = _button("Clear", "Take the reference image away")
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=100)
        self.opacity_slider.setValue(round(self.canvas.reference_opacity * 100))
        self.opacity_slider.setToolTip("Reference opacity (display only: never part of the control image)")
        self.opacity_label = QLabel()
        self.opacity_label.setMinimumWidth(self.opacity_label.fontMetrics().horizontalAdvance("100 %"))
        group = QGroupBox("Reference image")
        column = QVBoxLayout(group)
        column.addLayout(_row(self.open_reference_button, self.clear_reference_button))
        column.addLayout(_row(QLabel("Opacity"), self.opacity_slider, self.opacity_label))
        return group

    def _file_group(self) -> QGroupBox:
        self.import_button = _button("Import JSON…", "Replace the people with those of an OpenPose JSON file")
        self.export_button = _button("Export JSON…", "Save the people as OpenPose JSON")
        self.save_png_button = _button("Save PNG…", "Save the control image ControlNet receives")
        group = QGroupBox("Files")
        column = QVBoxLayout(group)
        column.addLayout(_row(self.import_button, self.export_button))
        column.addWidget(self.save_png_button)
        return group

    def _tips(self) -> QLabel:
        tips = QLabel(_TIPS, wordWrap=True)
        palette = tips.palette()
        palette.setColor(tips.foregroundRole(), dimmed_text(self.palette()))
        tips.setPalette(palette)
        return tips

    def _connect(self) -> None:
        canvas = self.canvas
        canvas.pose_changed.connect(self._pose_changed)
        canvas.selection_changed.connect(lambda _selection: self._refresh())
        canvas.history_changed.connect(self._refresh)
        canvas.zoom_changed.connect(lambda _zoom: self._refresh())
        self.people_list.currentRowChanged.connect(self._row_chosen)
        self.people_list.itemChanged.connect(self._item_ticked)
        self.duplicate_button.clicked.connect(lambda: self._on_selected(canvas.duplicate_person))
        self.delete_button.clicked.connect(lambda: self._on_selected(canvas.delete_person))
        self.mirror_button.clicked.connect(lambda: self._on_selected(canvas.mirror_person))
        for part, box in self.part_boxes.items():
            box.clicked.connect(lambda checked, p=part: self.set_part(p, checked))
        self.keep_lengths_box.toggled.connect(canvas.set_keep_limb_lengths)
        self.undo_button.clicked.connect(canvas.undo)
        self.redo_button.clicked.connect(canvas.redo)
        self.open_reference_button.clicked.connect(self._choose_reference)
        self.clear_reference_button.clicked.connect(self.clear_reference)
        self.opacity_slider.valueChanged.connect(self._opacity_moved)
        self.fit_button.clicked.connect(canvas.fit)
        self.import_button.clicked.connect(self._choose_import)
        self.export_button.clicked.connect(self._choose_export)
        self.save_png_button.clicked.connect(self._choose_png)

    # --- people -----------------------------------------------------------------------------------

    def add_template(self, name: str) -> None:
        """Add the people of template `name`, fitted to the canvas, beside anyone already standing there."""
        try:
            template = load_template(name)
        except EaselError as error:
            self._report(error)
            return
        before = self.canvas.document
        document = add_template(before, template)
        for index in range(len(before.people), len(document.people)):
            document = document.replace_person(index, _moved_aside(document, index))
        self.canvas.edit(document, Selection(len(document.people) - 1))

    def set_part(self, part: Part, present: bool) -> None:
        """Give the selected person a hand or face fitted to its wrist or head, or take it away."""
        index = self.canvas.selected_person
        if index is None:
            return
        try:
            if present:
                self.canvas.edit_person(index, lambda person: self._fitted(person, part))
            else:
                self.canvas.remove_part(index, part)
        except EaselError as error:
            self._report(error)
        self._refresh()

    def _fitted(self, person: Person, part: Part) -> Person:
        if part is Part.FACE:
            return fit_face(person, self._part_template("face"))
        return fit_hand(person, part, self._part_template("hand"))

    def _part_template(self, name: str) -> Person:
        if name not in self._part_templates:
            self._part_templates[name] = load_template(name).people[0]
        return self._part_templates[name]

    def _on_selected(self, action: Callable[[int], None]) -> None:
        if self.canvas.selected_person is not None:
            action(self.canvas.selected_person)

    def _row_chosen(self, row: int) -> None:
        self.canvas.select_person(row if row >= 0 else None)

    def _item_ticked(self, item: QListWidgetItem) -> None:
        row = self.people_list.row(item)
        self.canvas.set_person_hidden(row, item.checkState() != Qt.CheckState.Checked)

    # --- reference image -----------------------------------------------------------------------------

    def open_reference(self, path: Path | str) -> None:
        try:
            with Image.open(path) as image:
                self.canvas.set_reference(image.convert("RGB"))
        except (OSError, UnidentifiedImageError) as error:
            self._report(f"The reference image could not be opened: {error}")
            return
        self._refresh()

    def clear_reference(self) -> None:
        self.canvas.set_reference(None)
        self._refresh()

    def _opacity_moved(self, value: int) -> None:
        self.canvas.set_reference_opacity(value / 100)
        self.opacity_label.setText(f"{value} %")

    def _choose_reference(self) -> None:
        path = self._dialogs.open_file(self, "Open a reference image", IMAGE_FILES)
        if path:
            self.open_reference(path)

    # --- files ---------------------------------------------------------------------------------------

    def import_json(self, path: Path | str) -> None:
        """Replace the people with those in an OpenPose JSON file, fitted inside the canvas (undoable)."""
        try:
            imported = PoseDocument.from_openpose_json(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            self._report(f"{Path(path).name} is not a pose file: {error}")
            return
        except EaselError as error:
            self._report(error)
            return
        current = self.canvas.document
        empty = PoseDocument(current.width, current.height, (), imported.extras)
        self.canvas.edit(add_template(empty, imported), Selection())

    def export_json(self, path: Path | str) -> None:
        """Every person, hidden ones too (they stay hidden when the file is imported again)."""
        text = json.dumps(self.canvas.document.to_openpose_json())
        self._write(path, lambda target: Path(target).write_text(text, encoding="utf-8"))

    def save_png(self, path: Path | str) -> None:
        """The control image: the people shown, drawn as ControlNet's annotator draws them."""
        image = render(self.canvas.document)  # hidden people are left out
        self._write(path, lambda target: image.save(target, "PNG"))

    def _write(self, path: Path | str, write: Callable[[Path | str], None]) -> None:
        try:
            write(path)
        except OSError as error:
            self._report(f"{Path(path).name} could not be saved: {error}")

    def _choose_import(self) -> None:
        path = self._dialogs.open_file(self, "Import an OpenPose pose", POSE_FILES)
        if path:
            self.import_json(path)

    def _choose_export(self) -> None:
        path = self._dialogs.save_file(self, "Export the pose", "pose.json", POSE_FILES)
        if path:
            self.export_json(path)

    def _choose_png(self) -> None:
        path = self._dialogs.save_file(self, "Save the control image", "pose.png", "PNG images (*.png)")
        if path:
            self.save_png(path)

    # --- showing the canvas's state -------------------------------------------------------------------

    def _pose_changed(self, _document: PoseDocument) -> None:
        self.message_label.setVisible(False)
        self._refresh()

    def _report(self, problem: EaselError | str) -> None:
        palette = self.message_label.palette()
        palette.setColor(self.message_label.foregroundRole(), warning(self.palette()))
        self.message_label.setPalette(palette)
        self.message_label.setText(str(problem))
        self.message_label.setVisible(True)

    def _refresh(self) -> None:
        document, selected = self.canvas.document, self.canvas.selected_person
        self._show_people(document, selected)
        person = None if selected is None else document.people[selected]
        for part, box in self.part_boxes.items():
            box.setEnabled(person is not None)
            box.setChecked(person is not None and person.points(part) is not None)
        for button in (self.duplicate_button, self.delete_button, self.mirror_button):
            button.setEnabled(person is not None)
        self.mirror_button.setEnabled(person is not None and bool(person.present_points()))
        self.undo_button.setEnabled(self.canvas.can_undo)
        self.redo_button.setEnabled(self.canvas.can_redo)
        self.clear_reference_button.setEnabled(self.canvas.has_reference)
        self.opacity_label.setText(f"{self.opacity_slider.value()} %")
        self.size_label.setText(f"{document.width} × {document.height} px · {self.canvas.zoom:.0%}")

    def _show_people(self, document: PoseDocument, selected: int | None) -> None:
        self.people_list.blockSignals(True)
        if self.people_list.count() != len(document.people):
            self.people_list.clear()
            for _ in document.people:
                item = QListWidgetItem()
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                self.people_list.addItem(item)
        for row, person in enumerate(document.people):
            item = self.people_list.item(row)
            item.setText(person_label(row, person))
            item.setCheckState(Qt.CheckState.Unchecked if is_hidden(person) else Qt.CheckState.Checked)
        self.people_list.setCurrentRow(-1 if selected is None else selected)
        self.people_list.blockSignals(False)


def person_label(row: int, person: Person) -> str:
    """"Person 2 · hands, face": what each entry of the people list says."""
    hands = [part for part in (Part.LEFT_HAND, Part.RIGHT_HAND) if person.points(part) is not None]
    extras = ["hands" if len(hands) == 2 else f"{_PART_LABELS[hands[0]].lower()}"] if hands else []
    if person.face is not None:
        extras.append("face")
    label = f"Person {row + 1}"
    if is_hidden(person):
        extras.append("hidden")
    return f"{label} · {', '.join(extras)}" if extras else label


def _moved_aside(document: PoseDocument, index: int) -> Person:
    """Person `index`, shifted sideways until its centre is clear of everyone's before it."""
    person = document.people[index]
    if not person.present_points():
        return person
    others = [center(p) for p in document.people[:index] if p.present_points()]
    ys = [y for _, y in person.present_points()]
    near = _SAME_PLACE * (max(ys) - min(ys))
    step = document.width / 5
    x, y = center(person)
    for offset in [0.0] + [sign * step * k for k in range(1, 6) for sign in (1, -1)]:
        if all(math.dist((x + offset, y), other) >= near for other in others):
            return translate(person, offset, 0.0)
    return person


def _button(text: str, tip: str) -> QPushButton:
    button = QPushButton(text)
    button.setToolTip(tip)
    return button


def _row(*widgets: QWidget) -> QHBoxLayout:
    row = QHBoxLayout()
    row.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        row.addWidget(widget)
    return row

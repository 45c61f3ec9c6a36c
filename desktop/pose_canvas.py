"""The pose canvas: OpenPose skeletons drawn live over an optional reference image, edited by dragging.

The canvas is thin: an edit is a `core.pose_ops` function applied to the document as it was when the
gesture began, so a drag never drifts and is one undo step; undo is a list of immutable documents.
Handles are sized and hit-tested in screen pixels, so they are as easy to grab at any zoom.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Callable

from PIL import Image
from PySide6.QtCore import QEvent, QLineF, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (QAction, QColor, QContextMenuEvent, QImage, QKeyEvent, QKeySequence, QMouseEvent,
                           QPainter, QPalette, QPen, QPixmap)
from PySide6.QtWidgets import QApplication, QGraphicsPixmapItem, QGraphicsView, QMenu, QWidget

from core.pose import BODY_KEYPOINTS, DEFAULT_CANVAS, Keypoint, Part, Person, PoseDocument, is_hidden, with_hidden
from core.pose_ops import center, mirror, move_keypoint, rotate, scale, set_visible, translate, without_part
from core.pose_render import COLORS, HAND_EDGES, HAND_KEYPOINT_COLOR, LIMBS, STICK_WIDTH, hand_edge_color
from desktop.editing_view import EditingView, has_no_command_modifier
from desktop.image_view import to_qimage
from desktop.palette_colors import mix

HIT_RADIUS = 10.0  # screen pixels from a joint or handle that still grab it, at any zoom
JOINT_RADIUS = 5.0  # screen pixels
SMALL_POINT_RADIUS = 3.0  # hand and face keypoints: many, close together
FRAME_MARGIN = 12.0  # screen pixels between a person's outermost keypoints and its frame
ROTATE_HANDLE_OFFSET = 28.0  # screen pixels above the frame
HANDLE_HALF = 4.5
MIN_SCALE = 0.05  # a scale drag through the centre must not collapse the person to a point
ROTATE_SNAP = 15.0  # degrees, with Shift
NUDGE, BIG_NUDGE = 1.0, 10.0  # image pixels per arrow key, without and with Shift
DUPLICATE_OFFSET = 24.0
DEFAULT_REFERENCE_OPACITY = 0.5
_BODY_LINE_RANGE = (3.0, 10.0)  # screen pixels: as the control image draws limbs, but always visible
_HAND_LINE_RANGE = (1.5, 4.0)
_HIDDEN_OPACITY = 0.3
_SELECTION_LIGHTNESS = 0.66
_NUDGES = {Qt.Key.Key_Left: (-1, 0), Qt.Key.Key_Right: (1, 0), Qt.Key.Key_Up: (0, -1), Qt.Key.Key_Down: (0, 1)}


# --- the document's people ----------------------------------------------------------------------------

def refit(document: PoseDocument, width: int, height: int) -> PoseDocument:
    """The document on a `width` x `height` canvas: people keep their place around the centre and scale
    with the shorter side, so a new aspect ratio keeps their size and 512 -> 1024 doubles it; going back
    restores them."""
    factor = min(width, height) / min(document.width, document.height)

    def moved(x: float, y: float) -> tuple[float, float]:
        return (width / 2 + (x - document.width / 2) * factor, height / 2 + (y - document.height / 2) * factor)

    people = tuple(person.map_points(moved) for person in document.people)
    return dataclasses.replace(document, width=width, height=height, people=people)


@dataclass(frozen=True)
class KeypointRef:
    person: int
    part: Part
    index: int


@dataclass(frozen=True)
class Selection:
    person: int | None = None
    keypoint: KeypointRef | None = None


@dataclass(frozen=True)
class _Snapshot:
    document: PoseDocument
    selection: Selection


@dataclass(frozen=True)
class Hit:
    """What is under the pointer: "keypoint", "person", "scale" (a frame corner) or "rotate"."""

    kind: str
    person: int
    keypoint: KeypointRef | None = None


@dataclass
class _Gesture:
    kind: str  # a Hit kind, "pan", or "empty" (pressed on nothing: a click deselects, a drag pans)
    button: Qt.MouseButton
    press: QPointF  # viewport position
    last: QPointF
    start: _Snapshot
    hit: Hit | None = None
    pivot: QPointF | None = None  # image point scales and turns are about
    moved: bool = False


class PoseCanvas(EditingView):
    """The pose on a black canvas of the generation size, with a reference image under it.

    Left-drag a joint to move it, a limb or the area inside a person to move the person, the corner
    handles of the selected person to scale it about its centre, the round handle above it to turn it
    (Shift snaps to 15 degrees). Dragging empty canvas, the middle button or Space+drag pan; the wheel
    and pinch zoom. Arrows nudge the selected joint or person (Shift: 10 px), Delete removes the selected
    person, Escape deselects. `pose_changed` fires once an edit is done, not for every pointer event.
    """

    pose_changed = Signal(object)  # PoseDocument
    selection_changed = Signal(object)  # Selection
    history_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, placeholder="")
        self._document = PoseDocument(*DEFAULT_CANVAS)
        self._selection = Selection()
        self._undo: list[_Snapshot] = []
        self._redo: list[_Snapshot] = []
        self._gesture: _Gesture | None = None
        self._hover: Hit | None = None
        self._keep_lengths = False
        self._reference = QGraphicsPixmapItem()
        self._reference.setZValue(1)
        self._reference.setOpacity(DEFAULT_REFERENCE_OPACITY)
        self._reference.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._reference.setVisible(False)
        self.scene().addItem(self._reference)
        self.setDragMode(QGraphicsView.DragMode.NoDrag)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)
        self.viewport().setMouseTracking(True)
        self._show_canvas()

    # --- the document and its history -------------------------------------------------------------

    @property
    def document(self) -> PoseDocument:
        return self._document

    def set_document(self, document: PoseDocument) -> None:
        """Start over with `document`: the undo history is cleared."""
        self._cancel_gesture()
        self._undo.clear()
        self._redo.clear()
        self._set_state(_Snapshot(document, self._clamped(self._selection, document)))
        self.history_changed.emit()
        self.pose_changed.emit(document)

    def edit(self, document: PoseDocument, selection: Selection | None = None) -> None:
        """Replace the document as one undo step (and the selection, if given)."""
        self._cancel_gesture()
        if document == self._document and selection in (None, self._selection):
            return
        self._push(_Snapshot(self._document, self._selection))
        chosen = self._selection if selection is None else selection
        self._set_state(_Snapshot(document, self._clamped(chosen, document)))
        self.pose_changed.emit(document)

    def undo(self) -> None:
        self._step_history(self._undo, self._redo)

    def redo(self) -> None:
        self._step_history(self._redo, self._undo)

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def set_canvas_size(self, width: int, height: int) -> None:
        """Follow the generation size; the pose and every undo step are refitted, not distorted."""
        if (width, height) == (self._document.width, self._document.height):
            return
        self._cancel_gesture()
        self._undo = [dataclasses.replace(s, document=refit(s.document, width, height)) for s in self._undo]
        self._redo = [dataclasses.replace(s, document=refit(s.document, width, height)) for s in self._redo]
        self._set_state(_Snapshot(refit(self._document, width, height), self._selection))
        self.pose_changed.emit(self._document)

    def _push(self, snapshot: _Snapshot) -> None:
        self._undo.append(snapshot)
        self._redo.clear()
        self.history_changed.emit()

    def _step_history(self, source: list[_Snapshot], target: list[_Snapshot]) -> None:
        if not source or self._gesture is not None:
            return
        target.append(_Snapshot(self._document, self._selection))
        self._set_state(source.pop())
        self.history_changed.emit()
        self.pose_changed.emit(self._document)

    def _set_state(self, snapshot: _Snapshot) -> None:
        size_changed = (snapshot.document.width, snapshot.document.height) != self.image_size()
        self._document = snapshot.document
        self._hover = None
        if size_changed:
            self._show_canvas()
        self._set_selection(snapshot.selection)
        self.viewport().update()

    # --- selection ------------------------------------------------------------------------------------

    @property
    def selection(self) -> Selection:
        return self._selection

    @property
    def selected_person(self) -> int | None:
        return self._selection.person

    def select(self, selection: Selection) -> None:
        self._set_selection(self._clamped(selection, self._document))

    def select_person(self, index: int | None) -> None:
        if index != self._selection.person or self._selection.keypoint is not None:
            self.select(Selection(index))

    def _set_selection(self, selection: Selection) -> None:
        if selection == self._selection:
            return
        self._selection = selection
        self.viewport().update()
        self.selection_changed.emit(selection)

    @staticmethod
    def _clamped(selection: Selection, document: PoseDocument) -> Selection:
        if selection.person is None or selection.person >= len(document.people):
            return Selection()
        ref = selection.keypoint
        if ref is not None and not _keypoint_shown(document.people[ref.person], ref):
            return Selection(selection.person)
        return selection

    # --- edits of one person (each one undo step) --------------------------------------------------------

    def edit_person(self, index: int, change: Callable[[Person], Person]) -> None:
        """Apply `change` to person `index` and select it; what `change` raises (a core `PoseEditError`,
        say) is raised here, and nothing changes."""
        person = change(self._document.people[index])
        selection = self._selection if self._selection.person == index else Selection(index)
        self.edit(self._document.replace_person(index, person), selection)

    def delete_person(self, index: int) -> None:
        selection = self._selection.person
        after = None if selection is None or selection == index else selection - (selection > index)
        self.edit(self._document.remove_person(index), Selection(after))

    def duplicate_person(self, index: int) -> None:
        copy = translate(self._document.people[index], DUPLICATE_OFFSET, DUPLICATE_OFFSET)
        self.edit(self._document.add_person(copy), Selection(len(self._document.people)))

    def set_person_hidden(self, index: int, hidden: bool) -> None:
        if is_hidden(self._document.people[index]) != hidden:
            self.edit_person(index, lambda person: with_hidden(person, hidden))

    def mirror_person(self, index: int) -> None:
        self.edit_person(index, mirror)

    def set_keypoint_shown(self, ref: KeypointRef, shown: bool) -> None:
        self.edit_person(ref.person, lambda person: set_visible(person, ref.part, ref.index, shown))

    def remove_part(self, index: int, part: Part) -> None:
        self.edit_person(index, lambda person: without_part(person, part))

    def nudge(self, dx: float, dy: float) -> None:
        """Move the selected joint, else the selected person, by (dx, dy) image pixels."""
        ref, index = self._selection.keypoint, self._selection.person
        if ref is not None:
            point = self._document.people[ref.person].keypoint(ref.part, ref.index)
            self.edit_person(ref.person, lambda person: move_keypoint(
                person, ref.part, ref.index, point.x + dx, point.y + dy, self._keep_lengths))
        elif index is not None:
            self.edit_person(index, lambda person: translate(person, dx, dy))

    @property
    def keep_limb_lengths(self) -> bool:
        return self._keep_lengths

    def set_keep_limb_lengths(self, keep: bool) -> None:
        """While on, a dragged joint swings about its parent and the joints below it move along."""
        self._keep_lengths = keep

    # --- the reference image ---------------------------------------------------------------------------

    @property
    def has_reference(self) -> bool:
        return self._reference.isVisible()

    @property
    def reference_opacity(self) -> float:
        return self._reference.opacity()

    def set_reference(self, image: Image.Image | QImage | None) -> None:
        """Show `image` under the pose, fitted inside the canvas and centred; None takes it away."""
        if image is None:
            self._reference.setPixmap(QPixmap())
            self._reference.setVisible(False)
        else:
            self._reference.setPixmap(QPixmap.fromImage(to_qimage(image)))
            self._reference.setVisible(True)
            self._place_reference()
        self.viewport().update()

    def set_reference_opacity(self, opacity: float) -> None:
        self._reference.setOpacity(max(0.0, min(1.0, opacity)))

    def _place_reference(self) -> None:
        pixmap = self._reference.pixmap()
        if pixmap.isNull():
            return
        width, height = self._document.width, self._document.height
        factor = min(width / pixmap.width(), height / pixmap.height())
        self._reference.setScale(factor)
        self._reference.setPos((width - pixmap.width() * factor) / 2, (height - pixmap.height() * factor) / 2)

    def _show_canvas(self) -> None:
        # The control image's black: what is drawn here is what ControlNet gets.
        backdrop = QImage(self._document.width, self._document.height, QImage.Format.Format_RGB32)
        backdrop.fill(QColor(0, 0, 0))
        self.set_image(backdrop)
        self._place_reference()

    def set_zoom(self, zoom: float) -> None:
        """Zoom about the centre of the view; `zoom` counts device pixels per image pixel."""
        self.zoom_by(zoom / self.zoom)

    # --- coordinates -----------------------------------------------------------------------------------

    def view_point(self, x: float, y: float) -> QPointF:
        """Where image point (x, y) is in the viewport. Keypoint (i, j) is drawn on pixel (i, j), whose
        centre is (i + 0.5, j + 0.5) in the scene, as in the control image."""
        return self.viewportTransform().map(QPointF(x + 0.5, y + 0.5))

    def image_point(self, position: QPointF) -> tuple[float, float]:
        to_image, _ = self.viewportTransform().inverted()
        point = to_image.map(position)
        return point.x() - 0.5, point.y() - 0.5

    def _screen_per_pixel(self) -> float:
        return self.zoom / self.devicePixelRatioF()

    # --- hit testing (in screen pixels) ----------------------------------------------------------------

    def hit_at(self, position: QPointF) -> Hit | None:
        """What a press at `position` (viewport) would grab: the selected person's handles first, then the
        nearest joint within `HIT_RADIUS`, then a limb, then the area inside a person's frame."""
        selected = self._selection.person
        if selected is not None and not is_hidden(self._document.people[selected]):
            handle = self._handle_at(selected, position)
            if handle is not None:
                return handle
        ref = self._keypoint_at(position)
        if ref is not None:
            return Hit("keypoint", ref.person, ref)
        index = self._limb_at(position)
        if index is None:
            index = self._frame_at(position)
        return None if index is None else Hit("person", index)

    def _editable(self) -> list[tuple[int, Person]]:
        return [(i, p) for i, p in enumerate(self._document.people) if not is_hidden(p) and p.present_points()]

    def _keypoint_at(self, position: QPointF) -> KeypointRef | None:
        best: tuple[float, int, KeypointRef] | None = None
        for index, person in self._editable():
            for part in Part:
                for number, point in enumerate(person.points(part) or ()):
                    if not point.present:
                        continue
                    distance = QLineF(position, self.view_point(point.x, point.y)).length()
                    # On a tie (a wrist under its hand's root) the selected person and the body win.
                    rank = (0 if index == self._selection.person else 2) + (part is not Part.BODY)
                    if distance <= HIT_RADIUS and (best is None or (distance, rank) < best[:2]):
                        best = (distance, rank, KeypointRef(index, part, number))
        return None if best is None else best[2]

    def _limb_at(self, position: QPointF) -> int | None:
        best: tuple[float, int] | None = None
        for index, person in self._editable():
            for start, end in _segments(person):
                distance = _distance_to_segment(position, self.view_point(start.x, start.y),
                                                self.view_point(end.x, end.y))
                if distance <= HIT_RADIUS and (best is None or distance < best[0]):
                    best = (distance, index)
        return None if best is None else best[1]

    def _frame_at(self, position: QPointF) -> int | None:
        # The smallest frame wins: someone standing in front of a larger person stays easy to grab.
        inside = [(i, self.frame(i)) for i, _ in self._editable() if self.frame(i).contains(position)]
        smallest = min(inside, key=lambda item: item[1].width() * item[1].height(), default=None)
        return None if smallest is None else smallest[0]

    def frame(self, index: int) -> QRectF:
        """Person `index`'s frame in the viewport: its keypoints' bounds plus a margin in screen pixels."""
        points = [self.view_point(x, y) for x, y in self._document.people[index].present_points()]
        left, right = min(p.x() for p in points), max(p.x() for p in points)
        top, bottom = min(p.y() for p in points), max(p.y() for p in points)
        return QRectF(left, top, right - left, bottom - top).adjusted(
            -FRAME_MARGIN, -FRAME_MARGIN, FRAME_MARGIN, FRAME_MARGIN)

    def handles(self, index: int) -> dict[str, QPointF]:
        """The scale handles (the frame's corners) and the rotate handle of person `index`, in the viewport."""
        frame = self.frame(index)
        return {"top-left": frame.topLeft(), "top-right": frame.topRight(), "bottom-left": frame.bottomLeft(),
                "bottom-right": frame.bottomRight(),
                "rotate": QPointF(frame.center().x(), frame.top() - ROTATE_HANDLE_OFFSET)}

    def _handle_at(self, index: int, position: QPointF) -> Hit | None:
        if not self._document.people[index].present_points():
            return None
        for name, spot in self.handles(index).items():
            if QLineF(position, spot).length() <= HIT_RADIUS:
                return Hit("rotate" if name == "rotate" else "scale", index)
        return None

    # --- pointer events ----------------------------------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if self._gesture is not None and not event.buttons() & self._gesture.button:
            self._finish_gesture()  # its button-up went elsewhere (a dialog took it)
        if self._gesture is None:
            self._press(event.button(), event.position())
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._gesture is None:
            self._set_hover(self.hit_at(event.position()))
        else:
            self._drag(event.position(), event.modifiers())
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._gesture is not None and event.button() == self._gesture.button:
            self._drag(event.position(), event.modifiers())
            self._finish_gesture()
            self._set_hover(self.hit_at(event.position()))
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self.mousePressEvent(event)

    def _press(self, button: Qt.MouseButton, position: QPointF) -> None:
        start = _Snapshot(self._document, self._selection)
        if button == Qt.MouseButton.MiddleButton or (button == Qt.MouseButton.LeftButton and self._space_held):
            self._gesture = _Gesture("pan", button, position, position, start)
        elif button == Qt.MouseButton.LeftButton:
            hit = self.hit_at(position)
            self._gesture = _Gesture("empty" if hit is None else hit.kind, button, position, position, start, hit)
            if hit is not None:
                self._grab(hit)
        self._update_cursor()

    def _grab(self, hit: Hit) -> None:
        self._set_selection(Selection(hit.person, hit.keypoint))
        if hit.kind in ("scale", "rotate"):
            x, y = center(self._document.people[hit.person])
            self._gesture.pivot = QPointF(x, y)

    def _drag(self, position: QPointF, modifiers: Qt.KeyboardModifier) -> None:
        gesture = self._gesture
        if not gesture.moved:
            travel = QLineF(gesture.press, position).length()
            if travel == 0 or (gesture.kind in ("empty", "pan") and travel < QApplication.startDragDistance()):
                return
            gesture.moved = True
            if gesture.kind == "empty":
                gesture.kind = "pan"
                self._update_cursor()
        if gesture.kind == "pan":
            self._pan(gesture, position)
            return
        person = gesture.start.document.people[gesture.hit.person]
        moved = self._dragged(person, gesture, position, modifiers)
        self._document = gesture.start.document.replace_person(gesture.hit.person, moved)
        self.viewport().update()

    def _dragged(self, person: Person, gesture: _Gesture, position: QPointF,
                 modifiers: Qt.KeyboardModifier) -> Person:
        (x0, y0), (x1, y1) = self.image_point(gesture.press), self.image_point(position)
        if gesture.kind == "keypoint":
            ref = gesture.hit.keypoint
            point = person.keypoint(ref.part, ref.index)
            return move_keypoint(person, ref.part, ref.index, point.x + x1 - x0, point.y + y1 - y0,
                                 self._keep_lengths)
        if gesture.kind == "person":
            return translate(person, x1 - x0, y1 - y0)
        cx, cy = gesture.pivot.x(), gesture.pivot.y()
        if gesture.kind == "scale":
            factor = math.hypot(x1 - cx, y1 - cy) / max(math.hypot(x0 - cx, y0 - cy), 1e-9)
            return scale(person, max(MIN_SCALE, factor), about=(cx, cy))
        degrees = math.degrees(math.atan2(y1 - cy, x1 - cx) - math.atan2(y0 - cy, x0 - cx))
        if modifiers & Qt.KeyboardModifier.ShiftModifier:
            degrees = round(degrees / ROTATE_SNAP) * ROTATE_SNAP
        return rotate(person, degrees, about=(cx, cy))

    def _pan(self, gesture: _Gesture, position: QPointF) -> None:
        gesture.last = self._pan_step(gesture.last, position)

    def _finish_gesture(self) -> None:
        gesture, self._gesture = self._gesture, None
        if gesture is None:
            return
        if gesture.kind == "empty":
            self._set_selection(Selection())  # a click on nothing
        elif gesture.kind != "pan" and self._document != gesture.start.document:
            self._push(gesture.start)
            self.pose_changed.emit(self._document)
        self._update_cursor()

    def _cancel_gesture(self) -> None:
        gesture, self._gesture = self._gesture, None
        if gesture is not None and gesture.kind not in ("pan", "empty"):
            self._document = gesture.start.document
            self.viewport().update()

    def _set_hover(self, hit: Hit | None) -> None:
        if hit != self._hover:
            self._hover = hit
            self._update_cursor()
            self.viewport().update()

    def _update_cursor(self) -> None:
        gesture = self._gesture
        kind = gesture.kind if gesture is not None else (self._hover.kind if self._hover else None)
        if self._space_held and gesture is None:
            kind = "space"
        shapes = {"pan": Qt.CursorShape.ClosedHandCursor, "space": Qt.CursorShape.OpenHandCursor,
                  "keypoint": Qt.CursorShape.PointingHandCursor, "person": Qt.CursorShape.SizeAllCursor,
                  "scale": Qt.CursorShape.SizeFDiagCursor, "rotate": Qt.CursorShape.CrossCursor}
        self.viewport().setCursor(shapes.get(kind, Qt.CursorShape.ArrowCursor))

    def viewportEvent(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Leave:
            self._set_hover(None)
        return super().viewportEvent(event)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        if self._gesture is not None:
            return
        hit = self.hit_at(QPointF(event.pos()))
        if hit is None:
            return
        self._set_selection(Selection(hit.person, hit.keypoint))
        menu = self.context_menu(hit)
        if not menu.isEmpty():
            menu.exec(event.globalPos())

    def context_menu(self, hit: Hit) -> QMenu:
        """Right-click: hide a joint; show a hidden one; mirror, duplicate or delete the person."""
        menu = QMenu(self)
        person = self._document.people[hit.person]
        if hit.keypoint is not None:
            ref = hit.keypoint
            menu.addAction(f"Hide {_keypoint_name(ref)}", lambda: self.set_keypoint_shown(ref, False))
            if ref.part is not Part.BODY:
                menu.addAction(f"Remove the {_part_name(ref.part)}", lambda: self.remove_part(ref.person, ref.part))
            menu.addSeparator()
        missing = [i for i, point in enumerate(person.body) if not point.present]
        if missing:
            shown = menu.addMenu("Show joint")
            for number in missing:
                ref = KeypointRef(hit.person, Part.BODY, number)
                shown.addAction(_keypoint_name(ref), lambda r=ref: self.set_keypoint_shown(r, True))
        menu.addAction("Mirror left and right", lambda: self.mirror_person(hit.person))
        menu.addAction("Duplicate", lambda: self.duplicate_person(hit.person))
        delete = QAction("Delete person", menu)
        delete.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
        delete.triggered.connect(lambda: self.delete_person(hit.person))
        menu.addAction(delete)
        return menu

    # --- keys ------------------------------------------------------------------------------------------

    def _space_changed(self) -> None:
        self._update_cursor()

    def _editor_key_action(self, event: QKeyEvent) -> Callable[[], None] | None:
        shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if not has_no_command_modifier(event) or self._selection.person is None:
            return None
        key = event.key()
        if key in _NUDGES:
            step = BIG_NUDGE if shift else NUDGE
            dx, dy = _NUDGES[key]
            return lambda: self.nudge(dx * step, dy * step)
        if key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            return lambda: self.delete_person(self._selection.person)
        if key == Qt.Key.Key_Escape:
            return lambda: self.select(Selection())
        return None

    # --- drawing ------------------------------------------------------------------------------------------

    def selection_color(self) -> QColor:
        """The palette's selection colour (as in the people list), light enough to read on the black canvas."""
        color = self.palette().color(QPalette.ColorRole.Highlight)
        lightness = color.lightnessF()
        if lightness >= _SELECTION_LIGHTNESS:
            return color
        return mix(color, QColor(255, 255, 255), (_SELECTION_LIGHTNESS - lightness) / (1.0 - lightness))

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        painter.save()
        painter.resetTransform()  # viewport coordinates: handles keep their screen size at any zoom
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        selected = self._selection.person
        for index, person in enumerate(self._document.people):
            if index != selected:
                self._draw_person(painter, index, person)
        if selected is not None:
            self._draw_person(painter, selected, self._document.people[selected])
            if not is_hidden(self._document.people[selected]) and self._document.people[selected].present_points():
                self._draw_frame(painter, selected)
        if not self._document.people:
            self._draw_hint(painter)
        painter.restore()

    def _draw_person(self, painter: QPainter, index: int, person: Person) -> None:
        painter.setOpacity(_HIDDEN_OPACITY if is_hidden(person) else 1.0)
        self._draw_limbs(painter, person)
        for part in (Part.LEFT_HAND, Part.RIGHT_HAND):
            self._draw_hand(painter, person.points(part))
        self._draw_face(painter, person.face)
        selected = index == self._selection.person
        ring = QColor(255, 255, 255) if selected else QColor(0, 0, 0, 160)
        for number, point in enumerate(person.body):
            if point.present:
                self._draw_dot(painter, point, JOINT_RADIUS, _rgb(COLORS[number]), ring)
        self._draw_marks(painter, index)
        painter.setOpacity(1.0)

    def _draw_limbs(self, painter: QPainter, person: Person) -> None:
        width = _clamp(2 * STICK_WIDTH * self._screen_per_pixel(), *_BODY_LINE_RANGE)
        for (a, b), color in zip(LIMBS, COLORS):
            start, end = person.body[a - 1], person.body[b - 1]
            if start.present and end.present:
                limb = _rgb(color)
                limb.setAlphaF(0.75)
                painter.setPen(QPen(limb, width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
                painter.drawLine(self.view_point(start.x, start.y), self.view_point(end.x, end.y))

    def _draw_hand(self, painter: QPainter, hand: tuple[Keypoint, ...] | None) -> None:
        if hand is None:
            return
        width = _clamp(2 * self._screen_per_pixel(), *_HAND_LINE_RANGE)
        for number, (a, b) in enumerate(HAND_EDGES):
            if hand[a].present and hand[b].present:
                painter.setPen(QPen(_rgb(hand_edge_color(number)), width, Qt.PenStyle.SolidLine,
                                    Qt.PenCapStyle.RoundCap))
                painter.drawLine(self.view_point(hand[a].x, hand[a].y), self.view_point(hand[b].x, hand[b].y))
        for point in hand[1:]:  # the root sits under the wrist's own handle
            if point.present:
                self._draw_dot(painter, point, SMALL_POINT_RADIUS, _rgb(HAND_KEYPOINT_COLOR), QColor(0, 0, 0, 160))

    def _draw_face(self, painter: QPainter, face: tuple[Keypoint, ...] | None) -> None:
        for point in face or ():
            if point.present:
                self._draw_dot(painter, point, SMALL_POINT_RADIUS - 1, QColor(255, 255, 255), QColor(0, 0, 0, 160))

    def _draw_dot(self, painter: QPainter, point: Keypoint, radius: float, fill: QColor, ring: QColor) -> None:
        painter.setPen(QPen(ring, 1.5))
        painter.setBrush(fill)
        painter.drawEllipse(self.view_point(point.x, point.y), radius, radius)

    def _draw_marks(self, painter: QPainter, index: int) -> None:
        """Rings round the selected joint and the joint under the pointer: what a press would grab."""
        marks = [(self._selection.keypoint, self.selection_color(), 2.0, 4.0)]
        if self._gesture is None and self._hover is not None and self._hover.kind == "keypoint":
            marks.append((self._hover.keypoint, QColor(255, 255, 255), 1.5, 3.0))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for ref, color, width, gap in marks:
            if ref is None or ref.person != index:
                continue
            point = self._document.people[index].keypoint(ref.part, ref.index)
            radius = (JOINT_RADIUS if ref.part is Part.BODY else SMALL_POINT_RADIUS) + gap
            painter.setPen(QPen(color, width))
            painter.drawEllipse(self.view_point(point.x, point.y), radius, radius)

    def _draw_frame(self, painter: QPainter, index: int) -> None:
        color = self.selection_color()
        frame, handles = self.frame(index), self.handles(index)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(color, 1.0, Qt.PenStyle.DashLine))
        painter.drawRect(frame)
        painter.setPen(QPen(color, 1.0))
        painter.drawLine(QPointF(frame.center().x(), frame.top()), handles["rotate"])
        painter.setPen(QPen(color, 1.5))
        painter.setBrush(QColor(20, 20, 20))
        for name, spot in handles.items():
            if name == "rotate":
                painter.drawEllipse(spot, HANDLE_HALF + 1, HANDLE_HALF + 1)
            else:
                painter.drawRect(QRectF(spot.x() - HANDLE_HALF, spot.y() - HANDLE_HALF, 2 * HANDLE_HALF,
                                        2 * HANDLE_HALF))

    def _draw_hint(self, painter: QPainter) -> None:
        painter.setPen(mix(self.palette().color(QPalette.ColorRole.PlaceholderText), QColor(255, 255, 255), 0.3))
        area = self.mapFromScene(self.sceneRect()).boundingRect()
        painter.drawText(area, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                         "No people yet: add one from a template")


def _segments(person: Person) -> list[tuple[Keypoint, Keypoint]]:
    body = person.body
    limbs = [(body[a - 1], body[b - 1]) for a, b in LIMBS]
    hands = [(hand[a], hand[b]) for hand in (person.left_hand, person.right_hand) if hand is not None
             for a, b in HAND_EDGES]
    return [(start, end) for start, end in limbs + hands if start.present and end.present]


def _distance_to_segment(point: QPointF, start: QPointF, end: QPointF) -> float:
    along = end - start
    length_sq = QPointF.dotProduct(along, along)
    t = 0.0 if length_sq == 0 else max(0.0, min(1.0, QPointF.dotProduct(point - start, along) / length_sq))
    return QLineF(point, start + along * t).length()


def _keypoint_shown(person: Person, ref: KeypointRef) -> bool:
    points = person.points(ref.part)
    return points is not None and ref.index < len(points) and points[ref.index].present


def _keypoint_name(ref: KeypointRef) -> str:
    if ref.part is Part.BODY:
        return BODY_KEYPOINTS[ref.index].replace("_", " ")
    return f"{_part_name(ref.part)} point {ref.index}"


def _part_name(part: Part) -> str:
    return part.name.lower().replace("_", " ")


def _rgb(color: tuple[int, int, int]) -> QColor:
    return QColor(*color)


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))

"""The LoRA and textual-inversion browser: cards with preview, architecture, size and hash; a click inserts the tag.

A native take on A1111's "Extra networks" cards. The entries come from the worker's model list; hashes
that the cache does not know yet are computed in the background, one file at a time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QFont, QImageReader, QPainter, QPalette, QPixmap, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView, QDoubleSpinBox, QHBoxLayout, QLabel, QLineEdit, QListView, QStyle, QStyledItemDelegate,
    QStyleOptionViewItem, QTabBar, QVBoxLayout, QWidget,
)

from core.models.hashing import HashCache
from core.models.scan import ModelEntry
from desktop.background import BackgroundTasks
from desktop.model_picker import architecture_badges, paint_badges

Index = QModelIndex | QPersistentModelIndex
ENTRY_ROLE = Qt.ItemDataRole.UserRole + 1
HASH_ROLE = Qt.ItemDataRole.UserRole + 2
PREVIEW_ROLE = Qt.ItemDataRole.UserRole + 3
MISMATCH_ROLE = Qt.ItemDataRole.UserRole + 4  # "not for SD1" when made for another architecture, else ""
KINDS = (("lora", "LoRA"), ("embedding", "Embeddings"))
# A1111's find_preview: for each extension, `name.ext` first, then `name.preview.ext`.
PREVIEW_EXTENSIONS = ("png", "jpg", "jpeg", "webp", "gif")
PREVIEW_SIDE = 56
CARD_PADDING = 6
DEFAULT_LORA_WEIGHT = 1.0
HASH_UNAVAILABLE = "hash unavailable"  # the file could not be read

_ARCHITECTURE_NAMES = {"sd1": "SD1", "sd2": "SD2", "sdxl": "SDXL", "sdxl-refiner": "the SDXL refiner"}

HashFunction = Callable[[Path], str]  # a file -> its AutoV2 hash (slow: reads the whole file)


def cached_autov2(cache_file: Path) -> HashFunction:
    """AutoV2 through the on-disk hash cache the model list reads, so each file is read once, ever."""
    cache = HashCache(cache_file)
    return lambda path: cache.compute(path).autov2


def find_preview(model_path: Path) -> Path | None:
    """The preview image that sits beside a model file, as A1111 finds it, or None."""
    stem = model_path.with_suffix("")
    for extension in PREVIEW_EXTENSIONS:
        for candidate in (Path(f"{stem}.{extension}"), Path(f"{stem}.preview.{extension}")):
            if candidate.is_file():
                return candidate
    return None


def prompt_tag(entry: ModelEntry, weight: float = DEFAULT_LORA_WEIGHT) -> str:
    """What goes into the prompt: `<lora:name:weight>` for a LoRA, the name itself for an embedding."""
    if entry.kind == "lora":
        return f"<lora:{entry.name}:{weight:g}>"
    return entry.name


def family(architecture: str | None) -> str | None:
    """SD 2.x v-prediction models take SD 2.x networks; everything else must match exactly."""
    if architecture is None:
        return None
    return "sd2" if architecture.startswith("sd2") else architecture


def architectures_differ(entry: ModelEntry, checkpoint_architecture: str | None) -> bool:
    """Only when both are known: a network of unknown make is never marked."""
    ours, theirs = family(entry.architecture), family(checkpoint_architecture)
    return ours is not None and theirs is not None and ours != theirs


def human_size(size: int) -> str:
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


class PreviewCache:
    """Preview images scaled to card size, decoded the first time a card is painted."""

    def __init__(self, side: int = PREVIEW_SIDE) -> None:
        self._side = side
        self._pixmaps: dict[Path, QPixmap | None] = {}

    def get(self, path: Path) -> QPixmap | None:
        if path not in self._pixmaps:
            reader = QImageReader(str(path))
            reader.setAutoTransform(True)
            size = reader.size()
            if size.isValid():
                reader.setScaledSize(size.scaled(self._side, self._side, Qt.AspectRatioMode.KeepAspectRatio))
            image = reader.read()
            self._pixmaps[path] = None if image.isNull() else QPixmap.fromImage(image)
        return self._pixmaps[path]


class CardDelegate(QStyledItemDelegate):
    """A card row: preview (or the name's initial), name with badges, then size and hash."""

    def __init__(self, previews: PreviewCache, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._previews = previews

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:  # noqa: N802 - Qt's name
        return QSize(200, PREVIEW_SIDE + 2 * CARD_PADDING)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        item = QStyleOptionViewItem(option)
        self.initStyleOption(item, index)
        item.text = ""
        style = item.widget.style() if item.widget else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, item, painter, item.widget)
        painter.save()
        if index.data(MISMATCH_ROLE) or not (item.state & QStyle.StateFlag.State_Enabled):
            painter.setOpacity(0.45)
        self._paint_preview(painter, item, index)
        self._paint_text(painter, item, index)
        painter.restore()

    def _paint_preview(self, painter: QPainter, item: QStyleOptionViewItem, index: Index) -> None:
        slot = QRect(item.rect.left() + CARD_PADDING, item.rect.top() + CARD_PADDING, PREVIEW_SIDE, PREVIEW_SIDE)
        preview = index.data(PREVIEW_ROLE)
        pixmap = self._previews.get(preview) if preview else None
        if pixmap is None:
            painter.fillRect(slot, item.palette.color(QPalette.ColorRole.Midlight))
            font = QFont(item.font)
            font.setPointSizeF(item.font.pointSizeF() * 1.8)
            painter.setFont(font)
            painter.setPen(item.palette.color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(slot, Qt.AlignmentFlag.AlignCenter, (index.data() or "?")[:1].upper())
            return
        target = QRect(0, 0, pixmap.width(), pixmap.height())
        target.moveCenter(slot.center())
        painter.drawPixmap(target, pixmap)

    def _paint_text(self, painter: QPainter, item: QStyleOptionViewItem, index: Index) -> None:
        entry: ModelEntry = index.data(ENTRY_ROLE)
        left = item.rect.left() + PREVIEW_SIDE + 2 * CARD_PADDING
        area = QRect(left, item.rect.top() + CARD_PADDING, item.rect.right() - left - CARD_PADDING,
                     PREVIEW_SIDE)
        line = item.fontMetrics.height()
        selected = bool(item.state & QStyle.StateFlag.State_Selected)
        text_role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        badges = architecture_badges(entry)
        name_row = QRect(area.left(), area.top(), area.width(), line + 2)
        used = paint_badges(painter, name_row, badges, item.palette, item.font)
        bold = QFont(item.font)
        bold.setBold(True)
        painter.setFont(bold)
        painter.setPen(item.palette.color(text_role))
        name = painter.fontMetrics().elidedText(entry.name, Qt.TextElideMode.ElideMiddle,
                                                max(0, area.width() - used - 6))
        painter.drawText(name_row, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, name)
        painter.setFont(item.font)
        details = f"{human_size(entry.size)} · {index.data(HASH_ROLE) or 'hashing…'}"
        if index.data(MISMATCH_ROLE):
            details += f" · {index.data(MISMATCH_ROLE)}"
        details_row = QRect(area.left(), name_row.bottom() + 4, area.width(), line)
        painter.drawText(details_row, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         item.fontMetrics.elidedText(details, Qt.TextElideMode.ElideRight, area.width()))


class NetworkBrowser(QWidget):
    """LoRA and embedding cards; `insert_requested(tag)` when one is clicked (the window puts it in the prompt)."""

    insert_requested = Signal(str)

    def __init__(self, tasks: BackgroundTasks | None = None, hash_file: HashFunction | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._tasks = tasks
        self._hash_file = hash_file
        self._to_hash: list[Path] = []
        self._hashing: Path | None = None
        self._hashes: dict[Path, str] = {}
        self._checkpoint_architecture: str | None = None
        self._entries: dict[str, list[ModelEntry]] = {kind: [] for kind, _ in KINDS}
        self.previews = PreviewCache()
        self._build()

    def _build(self) -> None:
        self.kind_tabs = QTabBar(expanding=False, documentMode=True)
        for _kind, label in KINDS:
            self.kind_tabs.addTab(label)
        self.kind_tabs.currentChanged.connect(lambda _index: self._fill())
        self.filter_edit = QLineEdit(placeholderText="Filter by name", clearButtonEnabled=True)
        self.filter_edit.textChanged.connect(self._apply_filter)
        self.weight_spin = QDoubleSpinBox(minimum=-5.0, maximum=5.0, singleStep=0.05, decimals=2,
                                          value=DEFAULT_LORA_WEIGHT, toolTip="The weight a clicked LoRA gets")
        self.weight_label = QLabel("Weight")
        self.model = QStandardItemModel(self)
        self.proxy = QSortFilterProxyModel(self, filterCaseSensitivity=Qt.CaseSensitivity.CaseInsensitive)
        self.proxy.setSourceModel(self.model)
        self.list = QListView(uniformItemSizes=True, mouseTracking=True)
        self.list.setModel(self.proxy)
        self.list.setItemDelegate(CardDelegate(self.previews, self.list))
        self.list.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.list.clicked.connect(self._on_clicked)
        self.list.activated.connect(self._on_clicked)
        self.empty_label = QLabel(wordWrap=True, alignment=Qt.AlignmentFlag.AlignCenter)
        header = QHBoxLayout()
        header.addWidget(self.filter_edit, 1)
        header.addWidget(self.weight_label)
        header.addWidget(self.weight_spin)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.kind_tabs)
        layout.addLayout(header)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.empty_label)

    # ---------------------------------------------------------------- inputs

    def set_entries(self, entries: Sequence[ModelEntry]) -> None:
        """The whole model list (every kind); LoRAs and embeddings are kept, hashes not yet known are queued."""
        for kind, _label in KINDS:
            self._entries[kind] = sorted((e for e in entries if e.kind == kind), key=lambda e: e.name.casefold())
        for entry in (e for kind, _ in KINDS for e in self._entries[kind]):
            if entry.hash:
                self._hashes[entry.path] = entry.hash
            elif entry.supported and entry.path not in self._hashes and entry.path not in self._to_hash:
                self._to_hash.append(entry.path)
        self._fill()
        self._hash_next()

    def set_checkpoint_architecture(self, architecture: str | None) -> None:
        """Networks made for another architecture than this are marked."""
        if architecture == self._checkpoint_architecture:
            return
        self._checkpoint_architecture = architecture
        for row in range(self.model.rowCount()):
            item = self.model.item(row)
            self._mark(item, item.data(ENTRY_ROLE))

    @property
    def kind(self) -> str:
        return KINDS[max(0, self.kind_tabs.currentIndex())][0]

    def show_kind(self, kind: str) -> None:
        self.kind_tabs.setCurrentIndex(next(i for i, (k, _label) in enumerate(KINDS) if k == kind))

    def visible_names(self) -> list[str]:
        return [self.proxy.index(row, 0).data() for row in range(self.proxy.rowCount())]

    def item_for(self, name: str) -> QStandardItem | None:
        return next((self.model.item(row) for row in range(self.model.rowCount())
                     if self.model.item(row).text() == name), None)

    def index_of(self, name: str) -> QModelIndex:
        """The list's (filtered) index of a card, invalid when it is not shown."""
        item = self.item_for(name)
        return self.proxy.mapFromSource(item.index()) if item is not None else QModelIndex()

    # ---------------------------------------------------------------- the cards

    def _fill(self) -> None:
        self.model.clear()
        for entry in self._entries[self.kind]:
            item = QStandardItem(entry.name)
            item.setData(entry, ENTRY_ROLE)
            item.setData(self._hashes.get(entry.path), HASH_ROLE)
            item.setData(find_preview(entry.path), PREVIEW_ROLE)
            item.setEnabled(entry.supported)
            self._mark(item, entry)
            self.model.appendRow(item)
        is_lora = self.kind == "lora"
        self.weight_spin.setVisible(is_lora)
        self.weight_label.setVisible(is_lora)
        for index, (kind, label) in enumerate(KINDS):
            self.kind_tabs.setTabText(index, f"{label} ({len(self._entries[kind])})")
        self._update_empty_text()

    def _mark(self, item: QStandardItem, entry: ModelEntry) -> None:
        mismatch = architectures_differ(entry, self._checkpoint_architecture)
        checkpoint = _ARCHITECTURE_NAMES.get(family(self._checkpoint_architecture) or "", "this checkpoint")
        item.setData(f"not for {checkpoint}" if mismatch else "", MISMATCH_ROLE)
        lines = [str(entry.path), f"{human_size(entry.size)} · {entry.description}",
                 f"Hash: {item.data(HASH_ROLE) or 'computing…'}"]
        if mismatch:
            outcome = "Easel will refuse it" if entry.kind == "lora" else "it is skipped, as in A1111"
            lines.append(f"Made for {', '.join(architecture_badges(entry))}; the chosen checkpoint is "
                         f"{checkpoint}, so {outcome}.")
        if not entry.supported:
            lines.append(entry.reason)
        lines.append("Click to insert it into the prompt at the cursor.")
        item.setToolTip("\n".join(lines))

    def _apply_filter(self, text: str) -> None:
        self.proxy.setFilterFixedString(text.strip())
        self._update_empty_text()

    def _update_empty_text(self) -> None:
        what = dict(KINDS)[self.kind]
        if not self._entries[self.kind]:
            folder = "models/loras" if self.kind == "lora" else "models/embeddings"
            self.empty_label.setText(f"No {what} found. Put files in {folder} (or an A1111/ComfyUI folder "
                                     "added in Settings).")
        elif self.proxy.rowCount() == 0:
            self.empty_label.setText(f"No {what} match “{self.filter_edit.text().strip()}”.")
        self.empty_label.setVisible(self.proxy.rowCount() == 0)

    def _on_clicked(self, index: QModelIndex) -> None:
        entry: ModelEntry | None = index.data(ENTRY_ROLE)
        if entry is not None and entry.supported:
            self.insert_requested.emit(prompt_tag(entry, self.weight_spin.value()))

    # ---------------------------------------------------------------- hashing, one file at a time

    def _hash_next(self) -> None:
        if self._tasks is None or self._hash_file is None or self._hashing is not None or not self._to_hash:
            return
        path = self._hashing = self._to_hash.pop(0)
        hash_file = self._hash_file
        self._tasks.run(lambda: hash_file(path), lambda digest: self._hashed(path, digest),
                        lambda _error: self._hashed(path, None))

    def _hashed(self, path: Path, digest: str | None) -> None:
        self._hashing = None
        self._hashes[path] = digest or HASH_UNAVAILABLE
        for row in range(self.model.rowCount()):
            item = self.model.item(row)
            if item.data(ENTRY_ROLE).path == path:
                item.setData(self._hashes[path], HASH_ROLE)
                self._mark(item, item.data(ENTRY_ROLE))
        self._hash_next()

    def hashing_done(self) -> bool:
        return self._hashing is None and not self._to_hash

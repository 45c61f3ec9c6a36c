"""The gallery of past images: a paged model over History, thumbnails decoded only for rows on screen."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import (
    QAbstractListModel, QModelIndex, QPersistentModelIndex, QPoint, QRect, QSize, Qt, QTimer, Signal,
)
from PySide6.QtGui import QGuiApplication, QIcon, QImage, QKeyEvent, QKeySequence, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView, QComboBox, QHBoxLayout, QLineEdit, QListView, QMenu, QStyledItemDelegate, QStyleOptionViewItem,
    QVBoxLayout, QWidget,
)

from core.history import History, HistoryEntry
from desktop.image_details import SEND_TO_MODES, UPSCALE_MODE, reuse_fields
from desktop.platform_actions import reveal_in_file_manager, reveal_label

Index = QModelIndex | QPersistentModelIndex
EntryRole = Qt.ItemDataRole.UserRole
PAGE_SIZE = 200
THUMBNAIL_CACHE_SIZE = 500
DISPLAY_PROMPT_CHARS = 40
# Thumbnails wait until scrolling pauses this long, so a fast scroll through 10,000 rows decodes none of them.
THUMBNAIL_SETTLE_MS = 40
SEARCH_DEBOUNCE_MS = 200
ALL_MODELS = "All models"
CELL_PADDING = 8
CELL_SPACING = 4


def decode_thumbnail(data: bytes) -> QImage:
    """Encoded thumbnail bytes (PNG, WebP or JPEG) as an image; a null image when they do not decode."""
    return QImage.fromData(data)


def short_prompt(prompt: str, limit: int = DISPLAY_PROMPT_CHARS) -> str:
    line = " ".join(prompt.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def entry_tooltip(entry: HistoryEntry) -> str:
    return "\n".join([entry.prompt, f"Model: {entry.model_name}", f"Seed: {entry.seed}",
                      f"Size: {entry.width}x{entry.height}"])


def matches_filter(entry: HistoryEntry, query: str, model: str | None) -> bool:
    """The same rule as History's query: every word of `query` in the prompt, case-insensitive."""
    if model is not None and entry.model_name != model:
        return False
    prompt = entry.prompt.casefold()
    return all(word in prompt for word in query.casefold().split())


class ThumbnailCache:
    """The most recently used thumbnails; None marks an entry known to have none."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._icons: OrderedDict[int, QIcon | None] = OrderedDict()

    def __contains__(self, entry_id: int) -> bool:
        return entry_id in self._icons

    def get(self, entry_id: int) -> QIcon | None:
        self._icons.move_to_end(entry_id)
        return self._icons[entry_id]

    def put(self, entry_id: int, icon: QIcon | None) -> None:
        self._icons[entry_id] = icon
        self._icons.move_to_end(entry_id)
        while len(self._icons) > self._capacity:
            self._icons.popitem(last=False)

    def discard(self, entry_id: int) -> None:
        self._icons.pop(entry_id, None)


class HistoryModel(QAbstractListModel):
    """History rows, newest first, fetched a page at a time as the view scrolls.

    A thumbnail is decoded when a view asks for a row's decoration and the row is still wanted
    once scrolling settles (`is_row_wanted`, set by the view to "is on screen"); `decode_count`
    counts the decodes.
    """

    def __init__(self, history: History, page_size: int = PAGE_SIZE, cache_size: int = THUMBNAIL_CACHE_SIZE,
                 decode: Callable[[bytes], QImage] = decode_thumbnail, parent: Any = None) -> None:
        super().__init__(parent)
        self._history = history
        self._page_size = page_size
        self._decode = decode
        self._cache = ThumbnailCache(cache_size)
        self._entries: list[HistoryEntry] = []
        self._total = 0
        self._query = ""
        self._model: str | None = None
        self._requested: dict[int, int] = {}  # row -> entry id, in the order views asked for them
        self.decode_count = 0
        self.is_row_wanted: Callable[[int], bool] = lambda row: True
        self._settle = QTimer(self, singleShot=True, interval=THUMBNAIL_SETTLE_MS, timeout=self._decode_requested)
        self.reload()

    @property
    def query(self) -> str:
        return self._query

    @property
    def model_filter(self) -> str | None:
        return self._model

    def total(self) -> int:
        """Rows matching the filter in the database, fetched or not."""
        return self._total

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._entries)

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008
        return not parent.isValid() and len(self._entries) < self._total

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: B008
        if not self.canFetchMore(parent):
            return
        start = len(self._entries)
        page = self._history.page(start, self._page_size, self._query, self._model)
        if not page:
            self._total = start  # rows were deleted by someone else meanwhile
            return
        self.beginInsertRows(QModelIndex(), start, start + len(page) - 1)
        self._entries.extend(page)
        self.endInsertRows()

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._entries):
            return None
        entry = self._entries[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return short_prompt(entry.prompt) or "(no prompt)"
        if role == Qt.ItemDataRole.ToolTipRole:
            return entry_tooltip(entry)
        if role == Qt.ItemDataRole.DecorationRole:
            return self._thumbnail(index.row(), entry.id)
        if role == EntryRole:
            return entry
        return None

    def entry(self, row: int) -> HistoryEntry:
        return self._entries[row]

    def has_thumbnail(self, row: int) -> bool:
        """Whether the row's thumbnail was decoded (or is known to be missing); asks for nothing."""
        return self._entries[row].id in self._cache

    def row_of(self, entry_id: int) -> int | None:
        return next((row for row, entry in enumerate(self._entries) if entry.id == entry_id), None)

    def set_filter(self, query: str, model: str | None) -> None:
        """Show only entries whose prompt has every word of `query`, made with `model` (None: any)."""
        if (query, model) != (self._query, self._model):
            self._query, self._model = query, model
            self.reload()

    def reload(self) -> None:
        """Start again from the newest rows, e.g. after other code changed the database."""
        self.beginResetModel()
        self._entries = []
        self._requested.clear()
        self._total = self._history.count(self._query, self._model)
        self.endResetModel()
        self.fetchMore()

    def prepend(self, entry: HistoryEntry) -> None:
        """A newly recorded entry (already in the database) goes first, when it passes the filter."""
        if not matches_filter(entry, self._query, self._model) or self.row_of(entry.id) is not None:
            return
        self.beginInsertRows(QModelIndex(), 0, 0)
        self._entries.insert(0, entry)
        self._total += 1  # the database row shifts the offsets of every later page by one too
        self.endInsertRows()

    def remove(self, entry_id: int) -> None:
        """Drop a deleted entry's row."""
        row = self.row_of(entry_id)
        self._cache.discard(entry_id)
        if row is None:
            return
        self.beginRemoveRows(QModelIndex(), row, row)
        del self._entries[row]
        self._total -= 1
        self.endRemoveRows()

    def _thumbnail(self, row: int, entry_id: int) -> QIcon | None:
        if entry_id in self._cache:
            return self._cache.get(entry_id)
        self._requested[row] = entry_id
        self._settle.start()  # restarted by every request: decode once the view holds still
        return None

    def _decode_requested(self) -> None:
        requested, self._requested = self._requested, {}
        for row, entry_id in requested.items():
            moved = row >= len(self._entries) or self._entries[row].id != entry_id  # a view repaint asks again
            if moved or entry_id in self._cache or not self.is_row_wanted(row):
                continue
            self._cache.put(entry_id, self._load_icon(entry_id))
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])

    def _load_icon(self, entry_id: int) -> QIcon | None:
        data = self._history.thumbnail(entry_id)
        if data is None:
            return None
        self.decode_count += 1
        image = self._decode(data)
        return None if image.isNull() else QIcon(QPixmap.fromImage(image))


class ThumbnailDelegate(QStyledItemDelegate):
    """Cells of one fixed size (so no row's data is read to lay out 10,000 of them), an empty slot drawn in
    the palette's colour until the thumbnail arrives; in the strip, thumbnails alone (the prompt stays in
    the tooltip and for screen readers)."""

    def __init__(self, icon_size: int, captions: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._icon_size = icon_size
        self._captions = captions

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        caption = option.fontMetrics.height() + CELL_PADDING if self._captions else 0
        return QSize(self._icon_size + CELL_PADDING, self._icon_size + CELL_PADDING + caption)

    def initStyleOption(self, option: QStyleOptionViewItem, index: Index) -> None:
        super().initStyleOption(option, index)
        option.decorationSize = QSize(self._icon_size, self._icon_size)
        if not self._captions:
            option.text = ""
            option.features &= ~QStyleOptionViewItem.ViewItemFeature.HasDisplay

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        super().paint(painter, option, index)
        if index.data(Qt.ItemDataRole.DecorationRole) is None:
            slot = QRect(0, 0, self._icon_size, self._icon_size)
            slot.moveCenter(option.rect.center())
            slot.moveTop(option.rect.top() + CELL_PADDING // 2)
            painter.fillRect(slot, option.palette.color(QPalette.ColorRole.Midlight))


class _ThumbnailList(QListView):
    delete_pressed = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        # Delete, or Backspace (the Mac keyboard's delete key; Cmd+Backspace is "Move to Trash" in Finder).
        if event.matches(QKeySequence.StandardKey.Delete) or event.key() == Qt.Key.Key_Backspace:
            self.delete_pressed.emit()
            event.accept()
            return
        super().keyPressEvent(event)


class GalleryView(QWidget):
    """Past images newest first, searchable by prompt and filtered by model; a grid, or a strip (`strip=True`)."""

    entry_selected = Signal(object)  # HistoryEntry
    entry_activated = Signal(object)  # HistoryEntry (double-click, Return)
    reuse_requested = Signal(dict)  # request fields
    send_to_requested = Signal(str, object)  # mode id, Path
    delete_requested = Signal(int)  # entry id; the window confirms and deletes

    def __init__(self, history: History, strip: bool = False, parent: QWidget | None = None,
                 model: HistoryModel | None = None, reveal: Callable[[Path], None] = reveal_in_file_manager,
                 icon_size: int | None = None) -> None:
        super().__init__(parent)
        self._history = history
        self._reveal = reveal
        self.strip = strip
        self.model = model or HistoryModel(history)
        self.model.setParent(self)  # the model's thumbnail timer must not outlive the view it asks
        self._search_timer = QTimer(self, singleShot=True, interval=SEARCH_DEBOUNCE_MS, timeout=self._apply_filter)
        self._build(icon_size or (96 if strip else 128))
        self.model.is_row_wanted = self._row_on_screen
        self._fill_models()

    def _build(self, icon_size: int) -> None:
        self.search = QLineEdit(placeholderText="Search prompts", clearButtonEnabled=True)
        self.search.textChanged.connect(lambda _text: self._search_timer.start())
        self.model_box = QComboBox(sizeAdjustPolicy=QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.model_box.currentIndexChanged.connect(self._apply_filter)
        self.list = self._build_list(icon_size)
        header = QHBoxLayout()
        header.addWidget(self.search, 1)
        header.addWidget(self.model_box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self.list, 1)

    def _build_list(self, icon_size: int) -> QListView:
        view = _ThumbnailList()
        view.setViewMode(QListView.ViewMode.IconMode)
        view.setMovement(QListView.Movement.Static)  # the static layout is the one that scales to 10,000 rows
        view.setUniformItemSizes(True)
        view.setResizeMode(QListView.ResizeMode.Adjust)
        view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        view.setIconSize(QSize(icon_size, icon_size))
        view.setTextElideMode(Qt.TextElideMode.ElideRight)
        view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        view.setItemDelegate(ThumbnailDelegate(icon_size, captions=not self.strip, parent=view))
        view.setSpacing(CELL_SPACING)
        if self.strip:
            view.setFlow(QListView.Flow.LeftToRight)
            view.setWrapping(False)
            view.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            view.setFixedHeight(icon_size + CELL_PADDING + 2 * CELL_SPACING + 2 * view.frameWidth()
                                + view.horizontalScrollBar().sizeHint().height())
        view.setModel(self.model)
        view.selectionModel().currentChanged.connect(self._on_current_changed)
        view.activated.connect(lambda index: self.entry_activated.emit(self.model.entry(index.row())))
        view.customContextMenuRequested.connect(self._show_context_menu)
        view.delete_pressed.connect(self._delete_current)
        return view

    def refresh(self) -> None:
        """Read the history again (after changes made elsewhere), keeping search and filter."""
        self._fill_models()
        self.model.reload()

    def add_entry(self, entry: HistoryEntry) -> None:
        """A new image, shown first."""
        if self.model_box.findText(entry.model_name, Qt.MatchFlag.MatchExactly) < 0 and entry.model_name:
            self._fill_models()
        self.model.prepend(entry)

    def remove_entry(self, entry_id: int) -> None:
        self.model.remove(entry_id)

    def current_entry(self) -> HistoryEntry | None:
        index = self.list.currentIndex()
        return self.model.entry(index.row()) if index.isValid() else None

    def select_entry(self, entry_id: int) -> None:
        row = self.model.row_of(entry_id)
        if row is not None:
            self.list.setCurrentIndex(self.model.index(row))

    def context_menu(self, entry: HistoryEntry) -> QMenu:
        """The actions on one image, as in the details panel."""
        menu = QMenu(self)
        menu.addAction("Reuse parameters", lambda: self.reuse_requested.emit(reuse_fields(entry)))
        menu.addAction("Upscale…", lambda: self.send_to_requested.emit(UPSCALE_MODE, entry.path))
        send_to = menu.addMenu("Send to")
        for mode, title in SEND_TO_MODES.items():
            send_to.addAction(title, lambda mode=mode: self.send_to_requested.emit(mode, entry.path))
        menu.addAction("Copy infotext", lambda: QGuiApplication.clipboard().setText(entry.infotext))
        menu.addAction(reveal_label(), lambda: self._reveal(entry.path))
        menu.addSeparator()
        menu.addAction("Delete…", lambda: self.delete_requested.emit(entry.id))
        return menu

    def _show_context_menu(self, position: QPoint) -> None:
        index = self.list.indexAt(position)
        if index.isValid():
            menu = self.context_menu(self.model.entry(index.row()))
            menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            menu.popup(self.list.viewport().mapToGlobal(position))

    def _delete_current(self) -> None:
        entry = self.current_entry()
        if entry is not None:
            self.delete_requested.emit(entry.id)

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.entry_selected.emit(self.model.entry(current.row()))

    def _fill_models(self) -> None:
        chosen = self.model_box.currentData()
        self.model_box.blockSignals(True)
        self.model_box.clear()
        self.model_box.addItem(ALL_MODELS, None)
        for name in self._history.models():
            self.model_box.addItem(name, name)
        self.model_box.setCurrentIndex(max(0, self.model_box.findData(chosen)))
        self.model_box.blockSignals(False)

    def _apply_filter(self) -> None:
        self._search_timer.stop()
        self.model.set_filter(self.search.text().strip(), self.model_box.currentData())

    def _row_on_screen(self, row: int) -> bool:
        if not self.list.isVisible():
            return False  # a closed or hidden gallery asks again when it is painted
        return self.list.visualRect(self.model.index(row)).intersects(self.list.viewport().rect())


def history_window(history: History, parent: QWidget) -> GalleryView:
    """The whole history as a grid in a window of its own (View → History Browser)."""
    browser = GalleryView(history, strip=False)
    browser.setParent(parent, Qt.WindowType.Window)
    browser.setWindowTitle("Easel — History")
    browser.resize(900, 640)
    return browser

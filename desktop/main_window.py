"""The main window: parameters on the left, the image in the middle, gallery, details, queue and the LoRA and
embedding browser in docks."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from PIL import Image
from PySide6.QtCore import QUrl, Qt, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication, QImage
from PySide6.QtWidgets import (
    QDockWidget, QFileDialog, QFrame, QHBoxLayout, QMainWindow, QMessageBox, QPushButton, QScrollArea, QSplitter,
    QStackedWidget, QTabBar, QVBoxLayout, QWidget,
)

from core.events import (
    Cancelled, EngineEvent, Failed, ImageDone, ModelLoading, ModelReady, Notice, Progress, Started,
)
from core.history import History, HistoryEntry
from core.paths import AppPaths
from core.request import GenerationRequest, Mode
from core.settings import Settings
from desktop.actions import WindowActions, install_menu_bar
from desktop.background import BackgroundTasks
from desktop.gallery import GalleryView, history_window
from desktop.image_details import ImageDetails
from desktop.image_view import ImageView
from desktop.img2img_panel import Img2imgPanel
from desktop.inpaint_panel import InpaintPanel
from desktop.inpaint_workspace import InpaintWorkspace
from desktop.control_units_panel import AnnotatorPlaces, ControlUnitsPanel
from desktop.extras_mode import ExtrasRunner
from desktop.extras_panel import ExtrasPanel
from desktop.job_dispatcher import JobDispatcher
from desktop.model_sources import ModelSources
from desktop.network_browser import NetworkBrowser, cached_autov2
from desktop.notifications import NotificationArea
from desktop.params_panel import ParamsPanel
from desktop.platform_actions import reveal_in_file_manager
from desktop.pose_workspace import PoseWorkspace
from desktop.progress_panel import ProgressPanel
from desktop.queue_panel import QueuePanel
from desktop.request_builder import MissingInput, RequestBuilder
from desktop.ui_state import SavedPanel, UiState
from desktop.unsaved_images import UnsavedImages
from desktop.welcome import WelcomeView
from desktop.worker import InferenceWorker

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp"}
MODEL_SUFFIXES = {".safetensors", ".sft", ".ckpt", ".pt", ".pth", ".bin"}
# The Pose tab generates from text, steered by the ControlNet units (the pose editor feeds them); Extras
# upscales images and generates nothing.
MODES = (("Generate", Mode.TXT2IMG), ("Img2img", Mode.IMG2IMG), ("Inpaint", Mode.INPAINT),
         ("Pose / ControlNet", Mode.TXT2IMG), ("Extras", None))
INPAINT_TAB = 2
POSE_TAB = 3
EXTRAS_TAB = 4
MAX_MATCHED_SIDE = 2048


def _send_to_trash(path: Path) -> None:
    import send2trash

    send2trash.send2trash(str(path))


class MainWindow(QMainWindow):
    models_requested = Signal()

    def __init__(self, worker: InferenceWorker, paths: AppPaths, settings: Settings,
                 dispatcher: JobDispatcher, history: History,
                 confirm: Callable[[str], bool] | None = None,
                 trash: Callable[[Path], None] | None = None) -> None:
        super().__init__()
        self._worker = worker
        self._paths = paths
        self._dispatcher = dispatcher
        self._history = history
        self._confirm = confirm or self._ask
        self._trash = trash or _send_to_trash
        self._tasks = BackgroundTasks(parent=self)
        self.sources = ModelSources(paths, settings, self._tasks, self)
        self._ui_state = UiState(paths.home / "ui-state.ini")
        self._shown_entry: HistoryEntry | None = None
        self._history_browser: GalleryView | None = None
        self.setWindowTitle("Easel")
        self.setAcceptDrops(True)
        self.actions_ = WindowActions.create(self)
        self._build()
        self._connect()
        self._restore_state()

    # ----- construction -------------------------------------------------------------------------

    def _build(self) -> None:
        self.params = ParamsPanel()
        self.img2img = Img2imgPanel(self._paths.cache_dir / "init-images")
        self.inpaint = InpaintPanel()
        self.controlnet = ControlUnitsPanel(annotators=AnnotatorPlaces(
            self._paths.models_dir, more_models_dirs=self._more_models_dirs,
            endpoint=lambda: self.sources.settings.hub_endpoint or None))
        self.extras = ExtrasPanel()
        self.generate_button = QPushButton("Generate")
        self.generate_button.setDefault(True)
        self.generate_button.setToolTip("Ctrl+Enter (⌘↩ on a Mac). Pressing it while busy adds to the queue.")
        self.progress = ProgressPanel()
        self.extras_runner = ExtrasRunner(self.extras, self.progress, self)
        left = QWidget(minimumWidth=340)
        left_layout = QVBoxLayout(left)
        for widget, stretch in ((self.params, 1), (self.img2img, 0), (self.inpaint, 0), (self.controlnet, 0),
                                (self.extras, 1), (self.generate_button, 0), (self.progress, 0)):
            left_layout.addWidget(widget, stretch)
        for mode_only in (self.img2img, self.inpaint, self.extras):
            mode_only.hide()

        self.mode_tabs = QTabBar()
        for label, _mode in MODES:
            self.mode_tabs.addTab(label)
        self.notifications = NotificationArea()
        self.unsaved = UnsavedImages(self, self.notifications)
        self.image_view = ImageView()
        self.welcome = WelcomeView(self._paths, self.sources.settings)
        self.welcome_page = QScrollArea(widgetResizable=True, frameShape=QFrame.Shape.NoFrame)
        self.welcome_page.setWidget(self.welcome)  # its cards may be wider than a small window
        self.inpaint_workspace = InpaintWorkspace(self._paths.home / "canvas", self._paths.cache_dir / "inpaint-inputs")
        self.inpaint_result = ImageView(placeholder="The inpainted image appears here")
        self.inpaint_page = QSplitter()
        self.inpaint_page.addWidget(self.inpaint_workspace)
        self.inpaint_page.addWidget(self.inpaint_result)
        self.inpaint_page.setStretchFactor(0, 3)
        self.inpaint_page.setStretchFactor(1, 2)
        self.pose_workspace = PoseWorkspace(self._paths.models_dir, self._paths.cache_dir / "control-inputs",
                                            self._tasks, self.notifications,
                                            endpoint=lambda: self.sources.settings.hub_endpoint or None)
        self.pose_result = ImageView(placeholder="The generated image appears here")
        self.pose_page = QSplitter()
        self.pose_page.addWidget(self.pose_workspace)
        self.pose_page.addWidget(self.pose_result)
        self.pose_page.setStretchFactor(0, 5)  # the editor has a panel of its own beside its canvas
        self.pose_page.setStretchFactor(1, 1)
        self.pose_scroller = QScrollArea(widgetResizable=True, frameShape=QFrame.Shape.NoFrame)
        self.pose_scroller.setWidget(self.pose_page)  # the editor's panel scrolls in a narrow window
        self.center_stack = QStackedWidget()
        for page in (self.image_view, self.welcome_page, self.inpaint_page, self.pose_scroller):
            self.center_stack.addWidget(page)
        center = QWidget()
        center_layout = QVBoxLayout(center)
        center_layout.setContentsMargins(0, 0, 0, 0)
        tabs_row = QHBoxLayout()
        tabs_row.addWidget(self.mode_tabs)
        tabs_row.addStretch()
        center_layout.addLayout(tabs_row)
        center_layout.addWidget(self.notifications)
        center_layout.addWidget(self.center_stack, 1)

        self.splitter = QSplitter()
        self.splitter.addWidget(left)
        self.splitter.addWidget(center)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([380, 820])
        self.setCentralWidget(self.splitter)

        self.gallery = GalleryView(self._history, strip=True)
        self.details = ImageDetails()
        self.queue_panel = QueuePanel(self._dispatcher.queue)
        self.networks = NetworkBrowser(self._tasks, cached_autov2(self._paths.cache_dir / "hashes.json"))
        self.gallery_dock = self._dock("Gallery", self.gallery, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.details_dock = self._dock("Details", self.details, Qt.DockWidgetArea.RightDockWidgetArea)
        self.queue_dock = self._dock("Queue", self.queue_panel, Qt.DockWidgetArea.RightDockWidgetArea)
        self.networks_dock = self._dock("LoRA / Embeddings", self.networks, Qt.DockWidgetArea.RightDockWidgetArea,
                                        "networks")
        self.tabifyDockWidget(self.details_dock, self.queue_dock)
        self.tabifyDockWidget(self.queue_dock, self.networks_dock)
        self.details_dock.raise_()
        docks = (self.gallery_dock, self.details_dock, self.queue_dock, self.networks_dock)
        install_menu_bar(self.menuBar(), self.actions_, [dock.toggleViewAction() for dock in docks])
        self.addActions(self.actions_.all())
        self.resize(1280, 820)

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea, name: str = "") -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"{name or title.lower()}-dock")  # saveState needs stable names
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _connect(self) -> None:
        a = self.actions_
        worker = self._worker
        self.generate_button.clicked.connect(self.generate)
        a.generate.triggered.connect(self.generate)
        a.cancel.triggered.connect(self.cancel)
        self.progress.cancel_requested.connect(self.cancel)
        self.params.generate_requested.connect(self.generate)
        self.models_requested.connect(worker.list_models)
        self._dispatcher.dispatch.connect(worker.generate)
        self._dispatcher.running_changed.connect(self._on_running_changed)
        worker.busy_changed.connect(self._dispatcher.on_worker_busy)
        worker.event.connect(self.on_engine_event)
        worker.models_listed.connect(self.on_models_listed)
        worker.devices_found.connect(self.sources.set_devices)
        worker.recorded.connect(self._on_recorded)
        worker.history_failed.connect(self.notifications.show_warning)
        worker.history_changed.connect(self._refresh_galleries)
        self.mode_tabs.currentChanged.connect(self._on_mode_changed)
        self.img2img.problem.connect(self.notifications.show_warning)
        self.inpaint_workspace.problem.connect(self.notifications.show_warning)
        self.pose_workspace.problem.connect(self.notifications.show_warning)
        self.pose_workspace.info.connect(self.notifications.show_info)
        self.pose_workspace.editor.pose_changed.connect(
            lambda document: self.pose_workspace.save_document(self._pose_file))
        self.params.changed.connect(self._sync_pose_canvas)
        self.params.changed.connect(self._sync_network_marks)
        self.networks.insert_requested.connect(self.params.insert_at_cursor)
        self.extras_runner.upscale_requested.connect(worker.upscale)
        self.extras_runner.problem.connect(self.notifications.show_warning)
        worker.upscale_running.connect(self.extras_runner.on_worker_running)
        self.extras.image_chosen.connect(self._show_file)

        self.gallery.entry_selected.connect(self.show_entry)
        self.gallery.entry_activated.connect(self.show_entry)
        for source in (self.gallery, self.details):  # the context menu and the panel offer the same actions
            self._connect_image_actions(source)
        self.sources.settings_changed.connect(worker.apply_settings)
        self.sources.models_changed.connect(self.request_model_list)
        self.sources.info.connect(self.notifications.show_info)
        self.sources.error.connect(self.notifications.show_error)
        self.welcome.install_root_chosen.connect(lambda path: self.sources.add_folder("install_roots", path))
        self.welcome.model_folder_chosen.connect(lambda path: self.sources.add_folder("model_folders", path))
        self.welcome.checkpoint_file_chosen.connect(self.sources.add_model_file)
        self.welcome.download_finished.connect(lambda path: self.request_model_list())

        a.open_image.triggered.connect(self.choose_image)
        a.new_blank_canvas.triggered.connect(self.new_blank_canvas)
        a.add_model_file.triggered.connect(self.sources.choose_model_file)
        a.add_model_folder.triggered.connect(self.sources.choose_model_folder)
        a.save_image_as.triggered.connect(self.save_shown_image_as)
        a.settings.triggered.connect(self.open_settings)
        a.quit.triggered.connect(self.close)
        a.copy_infotext.triggered.connect(self.copy_infotext)
        a.paste_parameters.triggered.connect(self.paste_parameters)
        a.zoom_in.triggered.connect(lambda: self.image_view.zoom_by(1.25))
        a.zoom_out.triggered.connect(lambda: self.image_view.zoom_by(0.8))
        a.fit.triggered.connect(self.image_view.fit)
        a.actual_size.triggered.connect(self.image_view.actual_size)
        a.history_browser.triggered.connect(self.open_history_browser)
        a.reuse_parameters.triggered.connect(self._reuse_shown)
        a.send_to_img2img.triggered.connect(lambda: self._send_shown_to("img2img"))
        a.send_to_inpaint.triggered.connect(lambda: self._send_shown_to("inpaint"))
        a.upscale.triggered.connect(lambda: self._send_shown_to("extras"))
        a.reveal.triggered.connect(self._reveal_shown)
        a.delete_image.triggered.connect(self._delete_shown)
        a.minimize.triggered.connect(self.showMinimized)
        a.open_data_folder.triggered.connect(
            lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(self._paths.home))))
        a.about.triggered.connect(self._about)

    def _connect_image_actions(self, source: GalleryView | ImageDetails) -> None:
        source.reuse_requested.connect(self.reuse_fields)
        source.send_to_requested.connect(self.send_to)
        source.delete_requested.connect(self.delete_entry)

    # ----- generating ---------------------------------------------------------------------------

    def build_request(self) -> GenerationRequest | None:
        """The request the panels describe, or None (after saying why) when the mode lacks an input."""
        builder = RequestBuilder(self.params, self.img2img, self.inpaint, self.inpaint_workspace, self.controlnet,
                                 self.pose_workspace)
        try:
            return builder.build(self.current_mode)
        except MissingInput as missing:
            self.notifications.show_warning(str(missing))
            return None

    @property
    def current_mode(self) -> Mode:
        return MODES[self.mode_tabs.currentIndex()][1] or Mode.TXT2IMG

    def generate(self) -> None:
        if self.mode_tabs.currentIndex() == EXTRAS_TAB:
            self.extras_runner.run()
            return
        request = self.build_request()
        if request is None:
            return
        if self._dispatcher.busy:
            self.statusBar().showMessage(f"Queued ({len(self._dispatcher.queue) + 1} waiting)", 4000)
            self.queue_dock.raise_()
        self._dispatcher.submit(request)

    def cancel(self) -> None:
        if self._dispatcher.busy or self.extras_runner.running:
            self._worker.cancel_flag.set()
            self.statusBar().showMessage("Cancelling…")

    def _on_running_changed(self, request: GenerationRequest | None) -> None:
        self.queue_panel.set_running(request)

    def on_engine_event(self, event: EngineEvent) -> None:
        """Every engine event arrives here, on the main thread."""
        self.progress.handle(event)
        if isinstance(event, ModelLoading):
            self.statusBar().showMessage(f"Loading model {event.name}…")
        elif isinstance(event, ModelReady):
            self.statusBar().showMessage(f"{event.name} loaded in {event.seconds:.1f} s", 5000)
        elif isinstance(event, Started):
            for notice in event.notices:
                self.notifications.show_info(notice)
        elif isinstance(event, Progress) and event.preview is not None:
            self._show_result(event.preview)
        elif isinstance(event, Notice):
            self.notifications.show_info(event.text)
        elif isinstance(event, ImageDone):
            self._on_image_done(event)
        elif isinstance(event, Failed):
            self.notifications.show_error(event.message, event.hint, event.details)
        elif isinstance(event, Cancelled):
            self.statusBar().showMessage("Cancelled", 4000)

    def _show_result(self, image: Any) -> None:
        for view in (self.image_view, self.inpaint_result, self.pose_result):
            view.set_image(image)

    def _on_image_done(self, done: ImageDone) -> None:
        self._show_result(done.image)
        if not self.extras_runner.active:  # an upscaled image keeps its source's seed: not a new one
            self.params.set_last_seed(done.seed)
        if done.path is None:
            self.unsaved.keep(done)

    def _on_recorded(self, entry: HistoryEntry) -> None:
        for gallery in self._galleries():
            gallery.add_entry(entry)
        self._shown_entry = entry
        self.details.show_entry(entry)

    # ----- models and settings ------------------------------------------------------------------

    def load_token_counter(self) -> None:
        """The tokenizer loads off the main thread; until then the editors show no counts."""
        from core.prompts.token_count import load_token_counter

        self._tasks.run(load_token_counter, self.params.set_token_counter,
                        lambda error: self.statusBar().showMessage(f"Token counts unavailable: {error}", 8000))

    def request_model_list(self) -> None:
        self.statusBar().showMessage("Looking for models…")
        self.models_requested.emit()

    def on_models_listed(self, entries: list) -> None:
        checkpoints = [e for e in entries if e.kind == "checkpoint" and e.supported]
        self.sources.set_models(entries)
        self.params.set_models(checkpoints)
        self.params.set_vaes(self.sources.names("vae"))
        self.params.set_upscalers(self.sources.names("upscaler"))
        self.extras.set_upscalers(self.sources.names("upscaler"))
        self.controlnet.set_models(entries)
        self.networks.set_entries(entries)
        self._sync_network_marks()
        extras = self.mode_tabs.currentIndex() == EXTRAS_TAB
        self.center_stack.setCurrentWidget(self._mode_page() if checkpoints or extras else self.welcome_page)
        self.statusBar().showMessage(f"{len(checkpoints)} checkpoint(s) found" if checkpoints else
                                     "No checkpoints yet: choose how to get one.", 5000)

    def open_settings(self) -> None:
        if self.sources.open_settings_dialog():
            self.welcome.set_hub_endpoint(self.sources.settings.hub_endpoint)
            self.controlnet.refresh_weights()

    def _more_models_dirs(self) -> list[Path]:
        """A1111 installs and model folders from the settings, where annotator weights may already be."""
        settings = self.sources.settings
        return [Path(folder) for folder in (*settings.install_roots, *settings.model_folders)]

    # ----- images -------------------------------------------------------------------------------

    def new_blank_canvas(self) -> None:
        """A black canvas of the generation size on the Inpaint tab, for scribbles (a ControlNet drawing)."""
        self.inpaint_workspace.new_blank_canvas(*self.params.size_editor.image_size())
        self.mode_tabs.setCurrentIndex(INPAINT_TAB)

    def choose_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open an image", "", "Images (*.png *.jpg *.jpeg *.webp)")
        if path:
            self.open_image(Path(path))

    def open_image(self, path: Path) -> None:
        """Show the image and what made it (A1111, ComfyUI, InvokeAI, Fooocus, NovelAI) — the PNG Info tab."""
        from core.errors import EaselError
        from core.metadata.reader import read_generation_metadata

        try:
            metadata = read_generation_metadata(path)
        except EaselError as error:
            self.notifications.show_error(error.message, error.hint)
            return
        image = QImage(str(path))
        if image.isNull():
            self.notifications.show_error(f"{path.name} is not an image Easel can open.",
                                          "Open a PNG, JPEG or WebP file.")
            return
        self._shown_entry = None
        if self.current_mode is Mode.INPAINT:
            self.inpaint_workspace.open_image(path)  # opening an image while inpainting means painting on it
        elif self.mode_tabs.currentIndex() == EXTRAS_TAB:
            self.extras.add_images([path])  # and while in Extras, upscaling it
            self.image_view.set_image(image)
        else:
            if self.current_mode is Mode.IMG2IMG:
                self.img2img.set_init_image(path)
            self.image_view.set_image(image)
            self.center_stack.setCurrentWidget(self.image_view)
        self.details.show_metadata(path, metadata)
        self.details_dock.raise_()
        if metadata is None:
            self.notifications.show_info(f"{path.name} carries no generation settings.")

    def show_entry(self, entry: HistoryEntry) -> None:
        self._shown_entry = entry
        self.details.show_entry(entry)
        image = QImage(str(entry.path))
        if image.isNull():
            self.notifications.show_warning(f"{entry.path} is missing; it was moved or deleted outside Easel.")
            return
        self._show_result(image)
        if self.current_mode is not Mode.INPAINT:
            self.center_stack.setCurrentWidget(self.image_view)

    def reuse_fields(self, fields: dict) -> None:
        not_applied = self.params.apply_fields(fields)
        if "model" in not_applied:
            self.notifications.show_warning(
                f"The model '{fields.get('model')}' is not installed; the other parameters were filled in.")
        elif not_applied:
            self.notifications.show_info(f"Not applied: {', '.join(not_applied)}.")
        self.statusBar().showMessage("Parameters filled in", 4000)

    def send_to(self, mode: str, path: Path) -> None:
        if mode == "img2img":
            self.mode_tabs.setCurrentIndex(1)
            self.img2img.set_init_image(Path(path))
            self._match_size_to(Path(path))
        elif mode == "inpaint":
            self.mode_tabs.setCurrentIndex(INPAINT_TAB)
            if self.inpaint_workspace.open_image(Path(path)):
                self._match_size_to(Path(path))
        elif mode == "extras":
            self.mode_tabs.setCurrentIndex(EXTRAS_TAB)
            self.extras.set_images([Path(path)])
            self.statusBar().showMessage(f"{Path(path).name} is ready to upscale: choose the upscaler and press "
                                         "Upscale.", 6000)
        elif mode == "controlnet":
            unit = self.controlnet.use_image(Path(path))
            self.notifications.show_info(f"{Path(path).name} is the control image of ControlNet unit {unit}; "
                                         "choose its model and preprocessor in the ControlNet panel.")

    def _match_size_to(self, path: Path) -> None:
        """Generate at the sent image's own size (to a multiple of 8), as A1111's "Send to" does; a huge
        image keeps the current size rather than asking for more memory than a laptop has."""
        with Image.open(path) as image:
            width, height = (side - side % 8 for side in image.size)
        if max(width, height) <= MAX_MATCHED_SIDE and min(width, height) >= 64:
            self.params.size_editor.set_image_size(width, height, note=f"The size of {path.name}")

    def delete_entry(self, entry_id: int) -> None:
        entry = self._history.get(entry_id)
        if entry is None or not self._confirm(f"Move {entry.path.name} to the trash?"):
            return
        try:
            self._history.delete(entry_id, self._trash)
        except OSError as error:
            self.notifications.show_error(f"Could not move {entry.path.name} to the trash: {error}")
            return
        for gallery in self._galleries():
            gallery.remove_entry(entry_id)
        if self._shown_entry is not None and self._shown_entry.id == entry_id:
            self._shown_entry = None
            self.details.clear()
            self.image_view.clear()

    def copy_infotext(self) -> None:
        if self._shown_entry is not None:
            QGuiApplication.clipboard().setText(self._shown_entry.infotext)

    def paste_parameters(self) -> None:
        from core.metadata.reader import from_text

        metadata = from_text(QGuiApplication.clipboard().text())
        if metadata is None:
            self.notifications.show_warning("The clipboard holds no generation parameters (A1111 infotext).")
            return
        self.reuse_fields(metadata.request_fields)

    def save_shown_image_as(self) -> None:
        if self._shown_entry is not None:
            with Image.open(self._shown_entry.path) as image:
                image.load()
                self.unsaved.save_as(image, self._shown_entry.infotext, self._shown_entry.path.name)

    def _reuse_shown(self) -> None:
        if self._shown_entry is not None:
            self.details.reuse_button.click()

    def _send_shown_to(self, mode: str) -> None:
        if self._shown_entry is not None:
            self.send_to(mode, self._shown_entry.path)

    def _reveal_shown(self) -> None:
        if self._shown_entry is not None:
            reveal_in_file_manager(self._shown_entry.path)

    def _delete_shown(self) -> None:
        if self._shown_entry is not None:
            self.delete_entry(self._shown_entry.id)

    def open_history_browser(self) -> None:
        """The whole history as a grid in its own window; one window, raised when opened again."""
        if self._history_browser is None:
            self._history_browser = history_window(self._history, self)
            self._history_browser.entry_selected.connect(self.show_entry)
            self._connect_image_actions(self._history_browser)
        self._history_browser.show()
        self._history_browser.raise_()

    def _sync_network_marks(self) -> None:
        entry = self.params.model_picker.current_entry()
        self.networks.set_checkpoint_architecture(entry.architecture if entry else None)

    def _show_file(self, path: Path) -> None:
        image = QImage(str(path))
        if not image.isNull():
            self.image_view.set_image(image)

    def _galleries(self) -> list[GalleryView]:
        return [self.gallery] + ([self._history_browser] if self._history_browser is not None else [])

    def _refresh_galleries(self) -> None:
        for gallery in self._galleries():
            gallery.refresh()

    @property
    def _pose_file(self) -> Path:
        return self._paths.home / "pose.json"

    def _sync_pose_canvas(self) -> None:
        """The pose canvas has the generation's size, so the control image matches the image."""
        width, height = self.params.size_editor.image_size()
        document = self.pose_workspace.editor.document
        if (document.width, document.height) != (width, height):
            self.pose_workspace.editor.set_canvas_size(width, height)

    def _mode_page(self) -> QWidget:
        return {INPAINT_TAB: self.inpaint_page, POSE_TAB: self.pose_scroller}.get(self.mode_tabs.currentIndex(),
                                                                                self.image_view)

    def _on_mode_changed(self, index: int) -> None:
        mode, extras = MODES[index][1], index == EXTRAS_TAB
        self.img2img.setVisible(mode is Mode.IMG2IMG)
        self.inpaint.setVisible(mode is Mode.INPAINT)
        for generating_only in (self.params, self.controlnet):
            generating_only.setVisible(not extras)
        self.extras.setVisible(extras)
        self.params.set_hires_available(mode is Mode.TXT2IMG)
        self.generate_button.setText("Upscale" if extras else "Generate")
        if index == POSE_TAB:
            self.controlnet.use_pose_editor()
        if extras or self.center_stack.currentWidget() is not self.welcome_page:  # Extras needs no checkpoint
            self.center_stack.setCurrentWidget(self._mode_page())

    def _about(self) -> None:
        QMessageBox.about(self, "About Easel", "Easel — a native desktop studio for Stable Diffusion.")

    @staticmethod
    def _ask(question: str) -> bool:
        answer = QMessageBox.question(None, "Easel", question)
        return answer == QMessageBox.StandardButton.Yes

    # ----- drag and drop ------------------------------------------------------------------------

    def dragEnterEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        self.open_dropped(paths)
        event.acceptProposedAction()

    def open_dropped(self, paths: list[Path]) -> None:
        for path in paths:
            suffix = path.suffix.lower()
            if suffix in IMAGE_SUFFIXES:
                self.open_image(path)
            elif suffix in MODEL_SUFFIXES:
                self.sources.add_model_file(path)
            else:
                self.notifications.show_warning(
                    f"{path.name}: drop an image (PNG, JPEG, WebP) to see its parameters, or a model file to add it.")

    # ----- state --------------------------------------------------------------------------------

    def _restore_state(self) -> None:
        state = self._ui_state
        state.restore_layout(self, self.splitter)
        state.restore_panels(self._saved_panels())
        self.inpaint_workspace.restore_document()
        self.pose_workspace.restore_document(self._pose_file)
        self.pose_workspace.restore_detect_options(state.json_value("pose_detect"))
        self._sync_pose_canvas()
        mode = state.json_value("mode")
        if isinstance(mode, int) and 0 <= mode < len(MODES):
            self.mode_tabs.setCurrentIndex(mode)

    def save_state(self) -> None:
        state = self._ui_state
        state.save_layout(self, self.splitter)
        state.save_panels(self._saved_panels())
        state.set_json("mode", self.mode_tabs.currentIndex())
        state.set_json("pose_detect", self.pose_workspace.detect_options())
        state.sync()

    def _saved_panels(self) -> dict[str, SavedPanel]:
        """Panels whose settings come back on restart: ui-state key -> panel with state()/restore()."""
        return {"params": self.params, "inpaint": self.inpaint, "controlnet": self.controlnet, "extras": self.extras}

    def closeEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        self.save_state()
        self.inpaint_workspace.save_document()
        self._dispatcher.pause()  # else the next queued request would start as the current one cancels
        self._worker.cancel_flag.set()
        self.welcome.shutdown()
        self.pose_workspace.shutdown()
        self.controlnet.shutdown()
        super().closeEvent(event)

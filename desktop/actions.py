"""The window's commands as QActions with native shortcuts, and the menu bar that lists them."""

from __future__ import annotations

from dataclasses import dataclass, fields

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenuBar, QWidget

StandardKey = QKeySequence.StandardKey


def _action(parent: QWidget, text: str, *shortcuts: QKeySequence | StandardKey | str,
            role: QAction.MenuRole | None = None) -> QAction:
    action = QAction(text, parent)
    keys = [QKeySequence(key) if isinstance(key, (str, StandardKey)) else key for key in shortcuts]
    if keys:
        action.setShortcuts(keys)
    if role is not None:
        action.setMenuRole(role)  # macOS moves Settings/Quit/About into the application menu
    return action


@dataclass
class WindowActions:
    open_image: QAction
    new_blank_canvas: QAction
    add_model_file: QAction
    add_model_folder: QAction
    save_image_as: QAction
    settings: QAction
    quit: QAction
    copy_infotext: QAction
    paste_parameters: QAction
    zoom_in: QAction
    zoom_out: QAction
    fit: QAction
    actual_size: QAction
    history_browser: QAction
    generate: QAction
    cancel: QAction
    reuse_parameters: QAction
    send_to_img2img: QAction
    send_to_inpaint: QAction
    upscale: QAction
    reveal: QAction
    delete_image: QAction
    minimize: QAction
    open_data_folder: QAction
    about: QAction

    @classmethod
    def create(cls, parent: QWidget) -> "WindowActions":
        role = QAction.MenuRole
        return cls(
            open_image=_action(parent, "Open Image…", StandardKey.Open),
            new_blank_canvas=_action(parent, "New Blank Canvas", "Ctrl+Shift+N"),
            add_model_file=_action(parent, "Add Model File…"),
            add_model_folder=_action(parent, "Add Model Folder…"),
            save_image_as=_action(parent, "Save Image As…", StandardKey.SaveAs),
            settings=_action(parent, "Settings…", StandardKey.Preferences, "Ctrl+,", role=role.PreferencesRole),
            quit=_action(parent, "Quit Easel", StandardKey.Quit, role=role.QuitRole),
            copy_infotext=_action(parent, "Copy Parameters", "Ctrl+Shift+C"),
            paste_parameters=_action(parent, "Paste Parameters", "Ctrl+Shift+V"),
            zoom_in=_action(parent, "Zoom In", StandardKey.ZoomIn, "Ctrl+="),
            zoom_out=_action(parent, "Zoom Out", StandardKey.ZoomOut),
            fit=_action(parent, "Fit in Window", "Ctrl+0"),
            actual_size=_action(parent, "Actual Size", "Ctrl+1"),
            history_browser=_action(parent, "History Browser", "Ctrl+Shift+H"),
            generate=_action(parent, "Generate", "Ctrl+Return", "Ctrl+Enter"),
            cancel=_action(parent, "Cancel", "Esc"),
            reuse_parameters=_action(parent, "Reuse Parameters", "Ctrl+R"),
            send_to_img2img=_action(parent, "Send to Img2img"),
            send_to_inpaint=_action(parent, "Send to Inpaint"),
            upscale=_action(parent, "Upscale…", "Ctrl+Shift+U"),
            reveal=_action(parent, "Reveal in File Manager"),
            delete_image=_action(parent, "Move to Trash", "Ctrl+Backspace"),
            minimize=_action(parent, "Minimize", "Ctrl+M"),
            open_data_folder=_action(parent, "Open Easel's Data Folder"),
            about=_action(parent, "About Easel", role=role.AboutRole),
        )

    def all(self) -> list[QAction]:
        return [getattr(self, f.name) for f in fields(self)]


def install_menu_bar(menu_bar: QMenuBar, actions: WindowActions, panel_toggles: list[QAction]) -> None:
    """File, Edit, View, Image, Window, Help: the menus a Mac or Windows user looks for."""
    a = actions
    sections = {
        "&File": [a.open_image, a.new_blank_canvas, None, a.add_model_file, a.add_model_folder, None, a.save_image_as, None,
                  a.settings, None, a.quit],
        "&Edit": [a.copy_infotext, a.paste_parameters],
        "&View": [a.zoom_in, a.zoom_out, a.fit, a.actual_size, None, a.history_browser],
        "&Image": [a.generate, a.cancel, None, a.reuse_parameters, a.send_to_img2img, a.send_to_inpaint, a.upscale,
                   None, a.reveal, a.delete_image],
        "&Window": [a.minimize, None, *panel_toggles],
        "&Help": [a.open_data_folder, a.about],
    }
    for title, entries in sections.items():
        menu = menu_bar.addMenu(title)
        for entry in entries:
            if entry is None:
                menu.addSeparator()
            else:
                menu.addAction(entry)

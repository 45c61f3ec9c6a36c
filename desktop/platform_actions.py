"""Showing a file in the system's file manager: Finder, Explorer, or whatever the Linux desktop runs."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path, PureWindowsPath
from typing import Callable, Sequence

Runner = Callable[[Sequence[str]], None]
ShowItems = Callable[[str], bool]  # a file:// URI -> whether a file manager took it

_FILE_MANAGER_SERVICE = "org.freedesktop.FileManager1"
_FILE_MANAGER_PATH = "/org/freedesktop/FileManager1"
_DBUS_TIMEOUT_MS = 2000


def reveal_label(system: str | None = None) -> str:
    """What the action is called where the person is."""
    system = system or platform.system()
    if system == "Darwin":
        return "Reveal in Finder"
    if system == "Windows":
        return "Show in Explorer"
    return "Show in Folder"


def reveal_command(path: Path, system: str) -> list[str]:
    """The command that opens the file manager on `path`'s folder, with `path` selected where possible."""
    if system == "Darwin":
        return ["open", "-R", str(path)]
    if system == "Windows":
        # `/select,` and the path as two arguments: subprocess quotes a path with spaces, explorer accepts it.
        return ["explorer", "/select,", str(PureWindowsPath(path))]
    return ["xdg-open", str(Path(path).parent)]  # xdg-open cannot select a file; it opens the folder


def run_detached(command: Sequence[str]) -> None:
    """Start `command` without waiting for it (the file manager outlives this call)."""
    subprocess.Popen(  # noqa: S603 - a fixed program and a path, no shell
        list(command), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=os.name != "nt", close_fds=True,
    )


def show_items_over_dbus(uri: str) -> bool:
    """Ask the desktop's file manager (Nautilus, Dolphin, Nemo...) to select the file, over D-Bus."""
    try:
        from PySide6.QtDBus import QDBus, QDBusConnection, QDBusMessage
    except ImportError:
        return False
    bus = QDBusConnection.sessionBus()
    if not bus.isConnected():
        return False
    message = QDBusMessage.createMethodCall(_FILE_MANAGER_SERVICE, _FILE_MANAGER_PATH, _FILE_MANAGER_SERVICE,
                                            "ShowItems")
    message.setArguments([[uri], ""])
    reply = bus.call(message, QDBus.CallMode.Block, _DBUS_TIMEOUT_MS)
    return reply.type() == QDBusMessage.MessageType.ReplyMessage


def reveal_in_file_manager(path: Path, system: str | None = None, runner: Runner = run_detached,
                           show_items: ShowItems = show_items_over_dbus) -> None:
    """Show `path` in Finder / Explorer / the Linux file manager. Raises OSError when none can be started."""
    path = Path(path).absolute()
    system = system or platform.system()
    if system not in ("Darwin", "Windows") and show_items(path.as_uri()):
        return
    runner(reveal_command(path, system))

"""Keep the Hugging Face libraries from reaching the network unless the user asks for a download."""

from __future__ import annotations

import os
import sys
import threading
from contextlib import contextmanager
from typing import Iterator

OFFLINE_VARIABLES = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DISABLE_TELEMETRY": "1",
}


def enforce_offline() -> None:
    """Set the offline switches; call before importing diffusers or transformers.

    huggingface_hub reads HF_HUB_OFFLINE once, at import, so an already imported hub is
    switched through its constants module as well.
    """
    os.environ.update(OFFLINE_VARIABLES)
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        constants.HF_HUB_OFFLINE = True


# huggingface_hub keeps its offline switch in one process-wide constant, so the windows in which
# downloads lift it are counted: the switch goes back only when the last download ends.
_online_lock = threading.Lock()
_online_downloads = 0
_offline_before: bool | None = None


@contextmanager
def hub_online() -> Iterator[None]:
    """Let huggingface_hub reach the network for one explicit download, then restore the switch.

    Only `huggingface_hub.constants.HF_HUB_OFFLINE` (what the hub's HTTP client checks) is lifted; the
    environment keeps HF_HUB_OFFLINE=1 for subprocesses. The switch is process-wide: while a download
    runs, another thread's hub call could go online too — the engine loads with local files only.
    """
    import huggingface_hub.constants as constants

    global _online_downloads, _offline_before
    with _online_lock:
        if _online_downloads == 0:
            _offline_before = constants.HF_HUB_OFFLINE
            constants.HF_HUB_OFFLINE = False
        _online_downloads += 1
    try:
        yield
    finally:
        with _online_lock:
            _online_downloads -= 1
            if _online_downloads == 0:
                constants.HF_HUB_OFFLINE = bool(_offline_before)

"""Keep the Hugging Face libraries from reaching the network unless the user asks for a download."""

from __future__ import annotations

import os
import sys

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

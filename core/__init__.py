"""Easel's engine: everything that runs without Qt."""

from core.offline import enforce_offline

__version__ = "0.1.0"

# Before anything imports huggingface_hub, transformers or diffusers: nothing reaches the
# network unless the user asks for a download.
enforce_offline()

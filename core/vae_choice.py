"""Which VAE a generation uses: the request's, else the settings' for the checkpoint, else their global one;
"Automatic" is A1111's: a VAE file named like the checkpoint beside it."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from core.settings import VAE_AUTOMATIC

AUTOMATIC_VAE_SUFFIXES = (".vae.safetensors", ".vae.pt", ".vae.ckpt")  # A1111's sd_vae "Automatic"


def vae_choice(request_vae: str | None, checkpoint: Path, checkpoint_name: str, model_vaes: Mapping[str, str],
               global_vae: str) -> tuple[str, bool]:
    """The choice (Automatic, None, a VAE name or path) and whether the request itself made it.

    `model_vaes` keys may be the checkpoint's name, file name or path. A request's "Automatic" leaves it to
    the settings."""
    if request_vae and request_vae != VAE_AUTOMATIC:
        return request_vae, True
    for key in (checkpoint_name, checkpoint.name, str(checkpoint), str(checkpoint.resolve())):
        if key in model_vaes:
            return model_vaes[key], False
    return global_vae, False


def automatic_vae(checkpoint: Path) -> Path | None:
    """`<checkpoint name>.vae.safetensors` (or .vae.pt, .vae.ckpt) beside the checkpoint file, if there is one."""
    if not checkpoint.is_file():
        return None
    stem = checkpoint.name.rsplit(".", 1)[0]
    for suffix in AUTOMATIC_VAE_SUFFIXES:
        candidate = checkpoint.with_name(stem + suffix)
        if candidate.is_file():
            return candidate
    return None

"""Open model files without ever running code from them."""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from core.errors import ModelFileError, UnsafeFileError
from core.models.filetype import FileFormat, not_a_model_error, sniff
from core.models.safetensors_header import read_header

# Containers real checkpoints wrap their weights in (Lightning, BasicSR/Real-ESRGAN, ...).
_WRAPPER_KEYS = ("state_dict", "params_ema", "params-ema", "params", "model_state_dict", "model", "net")


class _InertLightningCallback:
    """Stands in for pytorch_lightning's ModelCheckpoint, pickled into early SD checkpoints (sd-v1-4.ckpt).

    It holds no code and keeps nothing, so allowing it lets those files open without trusting them."""

    def __setstate__(self, state: object) -> None:
        pass


_INERT_STAND_INS = [(_InertLightningCallback, "pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint")]


def load_state_dict(path: Path, device: str = "cpu", *, mmap: bool = False) -> dict[str, torch.Tensor]:
    """All tensors in the file, by name. Pickles are opened only with torch's weights-only unpickler.

    `mmap=True` maps a zip checkpoint instead of reading it, for when only the names and shapes matter.
    """
    path = Path(path)
    file_format = sniff(path)
    if file_format is FileFormat.SAFETENSORS:
        read_header(path)  # names what is wrong with a damaged file before safetensors does
        return load_file(path, device=device)
    if not file_format.is_model:
        raise not_a_model_error(path, file_format)
    loaded = _load_pickle(path, use_mmap=mmap and file_format is FileFormat.TORCH_ZIP)
    state_dict = flatten_tensors(unwrap_state_dict(loaded))
    if not state_dict:
        raise ModelFileError(f"{path.name} opened, but it holds no model weights.",
                             "Check that this is the model file and not a training log or config.",
                             details=str(path))
    if device != "cpu":
        state_dict = {name: tensor.to(device) for name, tensor in state_dict.items()}
    return state_dict


def _load_pickle(path: Path, use_mmap: bool) -> Any:
    # Process-wide and idempotent: torch only takes allowed globals this way, not per call.
    torch.serialization.add_safe_globals(_INERT_STAND_INS)
    try:
        # weights_only=True is the whole point: never retry without it.
        if use_mmap and path.suffix.lower() != ".safetensors":
            return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        # An open file, not a name: torch.load treats any "*.safetensors" name as safetensors.
        with path.open("rb") as file:
            return torch.load(file, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise UnsafeFileError(
            f"{path.name} is a pickle file that needs to run arbitrary code to open. "
            "Easel refuses to run it, because such a file can take over your computer.",
            "Get a .safetensors version of this model instead (most sites offer one).",
            details=f"{path}: {error}") from None
    except Exception as error:  # torch raises RuntimeError, EOFError, zipfile errors, ... for damaged files
        raise ModelFileError(f"{path.name} is damaged or incomplete and cannot be opened.",
                             "Download it again.", details=f"{path}: {type(error).__name__}: {error}") from None


def unwrap_state_dict(loaded: Any) -> Any:
    """The weights inside the usual wrappers: {"state_dict": ...}, {"params_ema": ...}, {"model": ...}."""
    while isinstance(loaded, dict):
        inner = next((loaded[key] for key in _WRAPPER_KEYS
                      if isinstance(loaded.get(key), dict) and loaded[key]), None)
        if inner is None:
            return loaded
        loaded = inner
    return loaded


def flatten_tensors(loaded: Any, prefix: str = "") -> dict[str, torch.Tensor]:
    """Tensors from nested dicts as dotted names (an embedding's string_to_param.*); other values dropped."""
    if not isinstance(loaded, dict):
        return {}
    tensors: dict[str, torch.Tensor] = {}
    for key, value in loaded.items():
        name = f"{prefix}{key}"
        if isinstance(value, torch.Tensor):
            tensors[name] = value
        elif isinstance(value, dict):
            tensors.update(flatten_tensors(value, f"{name}."))
    return tensors


def convert_to_safetensors(path: Path) -> Path:
    """Write `<name>.safetensors` beside a pickle checkpoint that opened safely; the original is untouched."""
    path = Path(path)
    target = path.with_suffix(".safetensors")
    if target.exists():
        raise ModelFileError(f"{target.name} already exists; Easel will not overwrite it.",
                             "Rename or remove the existing file first.", details=str(target))
    if sniff(path) is FileFormat.SAFETENSORS:
        raise ModelFileError(f"{path.name} is already a safetensors file.", "Nothing to convert.")
    tensors = _independent_tensors(load_state_dict(path))
    _write_atomically(tensors, target)
    return target


def _independent_tensors(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Safetensors cannot store tensors that share memory: give each shared or strided one its own copy."""
    storage_users: dict[int, int] = {}
    for tensor in state_dict.values():
        key = tensor.untyped_storage().data_ptr()
        storage_users[key] = storage_users.get(key, 0) + 1
    independent = {}
    for name, tensor in state_dict.items():
        shared = storage_users[tensor.untyped_storage().data_ptr()] > 1
        partial = tensor.untyped_storage().nbytes() != tensor.numel() * tensor.element_size()
        needs_copy = shared or partial or not tensor.is_contiguous()
        independent[name] = tensor.contiguous().clone() if needs_copy else tensor
    return independent


def _write_atomically(tensors: dict[str, torch.Tensor], target: Path) -> None:
    handle, temp_name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".partial", dir=target.parent)
    os.close(handle)
    temp = Path(temp_name)
    try:
        save_file(tensors, temp, metadata={"format": "pt"})
        with temp.open("rb+") as file:
            os.fsync(file.fileno())
        if target.exists():  # appeared while we were writing
            raise ModelFileError(f"{target.name} already exists; Easel will not overwrite it.",
                                 "Rename or remove the existing file first.", details=str(target))
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)

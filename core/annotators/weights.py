"""Load a published annotator file into Easel's copy of its network, refusing any other file with a message."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch
from torch import nn

from core.annotator_weights import AnnotatorFile
from core.errors import ModelFileError
from core.models.safe_load import load_state_dict

# Running BatchNorm counters: written by some PyTorch versions and not others, and never used for inference.
_OPTIONAL_SUFFIX = ".num_batches_tracked"


def needed_message(file: AnnotatorFile) -> str:
    """What to do about a missing or wrong weights file, for the error's hint."""
    return (f"Easel needs {file.filename} from https://huggingface.co/{file.repo_id}: put it in <models>/annotators/, "
            "choose it, or let Easel download it when it offers to.")


def load_published(build: Callable[[], nn.Module], path: Path | None, file: AnnotatorFile,
                   device: str = "cpu") -> nn.Module:
    """`load_weights` on `device`, with a message saying what to get when there is no file at `path`."""
    if path is None or not Path(path).is_file():
        raise ModelFileError(f"The weights of {file.network} are missing.", needed_message(file),
                             details=str(path) if path else "")
    return load_weights(build, Path(path), file).to(device)


def load_weights(build: Callable[[], nn.Module], path: Path, file: AnnotatorFile, strip_prefix: str = "") -> nn.Module:
    """The network `build()` makes, with the weights in `path` (eval mode, float32), which must be `file`:
    every tensor present with its shape, nothing else.

    The network is built without memory (meta device) and takes the file's tensors as they are, so no time
    goes into random initialisation. Pickles are opened with the weights-only unpickler; `strip_prefix`
    ("module.") is removed where present.
    """
    needed = needed_message(file)
    try:
        tensors = load_state_dict(Path(path))
    except ModelFileError as error:
        raise type(error)(error.message, f"{error.hint} {needed}".strip(), error.details) from None
    if strip_prefix:
        tensors = {key.removeprefix(strip_prefix): value for key, value in tensors.items()}
    with torch.device("meta"):
        net = build()
    expected = net.state_dict()
    wrong = [key for key, value in expected.items() if not key.endswith(_OPTIONAL_SUFFIX)
             and (key not in tensors or tensors[key].shape != value.shape)]
    extra = [key for key in tensors if key not in expected and not key.endswith(_OPTIONAL_SUFFIX)]
    if wrong or extra:
        raise ModelFileError(
            f"{Path(path).name} is not the weights of {file.network} ({file.filename}).", needed,
            details=f"{path}: {len(wrong)} of {len(expected)} tensors missing or of another shape (first: "
                    f"{wrong[:3]}); {len(extra)} unexpected (first: {extra[:3]}); {len(tensors)} tensors in the file")
    usable = {key: _as_expected(tensors.get(key), value) for key, value in expected.items()}
    net.load_state_dict(usable, assign=True)
    _materialise_leftovers(net)
    return net.eval()


def _as_expected(tensor: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
    if tensor is None:  # an optional BatchNorm counter the file lacks
        return torch.zeros(like.shape, dtype=like.dtype)
    return tensor.float().contiguous() if tensor.is_floating_point() else tensor.to(like.dtype)


def _materialise_leftovers(net: nn.Module) -> None:
    """Buffers that are not saved (index tables some networks compute in __init__) would stay on the meta
    device; no annotator here has one, and a network that does must not run half-loaded."""
    left = [name for name, tensor in [*net.named_parameters(), *net.named_buffers()] if tensor.is_meta]
    if left:
        raise ModelFileError(f"Easel could not load the network: {len(left)} tensors were not set.",
                             "This is a bug in Easel; please report it.", details=", ".join(left[:5]))

"""Read and check a safetensors header without touching the tensor data."""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import ModelFileError
from core.models.filetype import missing_file_error

MAX_HEADER_BYTES = 100_000_000

# Bytes per element; dtypes whose elements are not whole bytes are left out and not size-checked.
DTYPE_SIZES = {
    "F64": 8, "I64": 8, "U64": 8,
    "F32": 4, "I32": 4, "U32": 4,
    "F16": 2, "BF16": 2, "I16": 2, "U16": 2,
    "I8": 1, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1,
}


@dataclass(frozen=True)
class TensorInfo:
    dtype: str
    shape: tuple[int, ...]
    offsets: tuple[int, int]  # begin, end; relative to the end of the header


@dataclass(frozen=True)
class SafetensorsHeader:
    tensors: dict[str, TensorInfo]
    metadata: dict[str, str] = field(default_factory=dict)
    header_length: int = 0

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {name: info.shape for name, info in self.tensors.items()}


def format_size(size: int) -> str:
    """A byte count the way a person reads it: 1.2 GB, 340 MB, 12 KB."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


def read_header(path: Path) -> SafetensorsHeader:
    """The header of the safetensors file at `path`; raises ModelFileError naming what is wrong."""
    path = Path(path)
    try:
        file_size = path.stat().st_size
    except FileNotFoundError:
        raise missing_file_error(path) from None
    if file_size == 0:
        raise _damaged(path, "is empty (0 bytes) — the download probably failed")
    with path.open("rb") as file:
        prefix = file.read(8)
        if len(prefix) < 8:
            raise _damaged(path, f"is truncated: it has only {file_size} bytes")
        (header_length,) = struct.unpack("<Q", prefix)
        _check_header_length(path, header_length, file_size)
        raw = file.read(header_length)
    header = _parse_json(path, raw)
    metadata = _metadata(header.pop("__metadata__", None))
    tensors = {name: _tensor_info(path, name, entry) for name, entry in header.items()}
    _check_data_fits(path, tensors, 8 + header_length, file_size)
    return SafetensorsHeader(tensors, metadata, header_length)


def _check_header_length(path: Path, header_length: int, file_size: int) -> None:
    if header_length > MAX_HEADER_BYTES:
        raise _damaged(path, f"is not a valid safetensors file: its header claims to be "
                             f"{format_size(header_length)}, which no model has")
    if 8 + header_length > file_size:
        raise _damaged(path, f"is truncated: its header alone should be {format_size(header_length)} "
                             f"but the file has {format_size(file_size)}")


def _parse_json(path: Path, raw: bytes) -> dict:
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _damaged(path, "is damaged: its safetensors header is not valid JSON") from None
    if not isinstance(header, dict):
        raise _damaged(path, "is damaged: its safetensors header is not a table of tensors")
    return header


def _metadata(raw: object) -> dict[str, str]:
    if not isinstance(raw, dict):
        return {}
    return {str(key): value if isinstance(value, str) else json.dumps(value) for key, value in raw.items()}


def _tensor_info(path: Path, name: str, entry: object) -> TensorInfo:
    try:
        dtype = str(entry["dtype"])  # type: ignore[index]
        shape = tuple(int(n) for n in entry["shape"])  # type: ignore[index]
        begin, end = (int(n) for n in entry["data_offsets"])  # type: ignore[index]
    except (TypeError, KeyError, ValueError):
        raise _damaged(path, f"is damaged: the header entry for tensor {name!r} is malformed") from None
    if begin < 0 or end < begin or any(n < 0 for n in shape):
        raise _damaged(path, f"is damaged: tensor {name!r} has impossible offsets or shape")
    item_size = DTYPE_SIZES.get(dtype)
    if item_size is not None and (end - begin) != math.prod(shape) * item_size:
        raise _damaged(path, f"is damaged: tensor {name!r} is {dtype} {list(shape)} "
                             f"but its data takes {end - begin} bytes")
    return TensorInfo(dtype, shape, (begin, end))


def _check_data_fits(path: Path, tensors: dict[str, TensorInfo], data_start: int, file_size: int) -> None:
    data_end = max((info.offsets[1] for info in tensors.values()), default=0)
    expected = data_start + data_end
    if expected > file_size:
        raise _damaged(path, f"is truncated: the header says {format_size(expected)} of tensors "
                             f"but the file has {format_size(file_size)}")


def _damaged(path: Path, problem: str) -> ModelFileError:
    return ModelFileError(f"{path.name} {problem}.", "Download it again.", details=str(path))

"""What a file really is, decided from its first bytes — never from its name."""

from __future__ import annotations

import re
import struct
from enum import Enum
from pathlib import Path

from core.errors import ModelFileError

_SNIFF_BYTES = 512
_PICKLE_PROTO = b"\x80"
# Protocols 0 and 1 have no header: recognise their usual first opcodes (a dict, list, global or instance).
_OLD_PROTOCOL_START = re.compile(rb"^(\((dp|lp)\d+\n|c[\w.]+\n[\w.]+\n|\(i[\w.]+\n|[}\]](q.|\())", re.DOTALL)
_HTML_STARTS = (b"<!doctype", b"<html", b"<head", b"<body", b"<?xml")
_UTF8_BOM = b"\xef\xbb\xbf"


class FileFormat(Enum):
    SAFETENSORS = "safetensors"
    TORCH_ZIP = "torch-zip"
    LEGACY_PICKLE = "pickle"
    HTML = "html"
    JSON = "json"
    TEXT = "text"
    EMPTY = "empty"
    UNKNOWN = "unknown"

    @property
    def is_model(self) -> bool:
        return self in (FileFormat.SAFETENSORS, FileFormat.TORCH_ZIP, FileFormat.LEGACY_PICKLE)


def sniff(path: Path) -> FileFormat:
    """The format of the file at `path`, from its first bytes."""
    head = read_head(path)
    return sniff_bytes(head)


def read_head(path: Path, size: int = _SNIFF_BYTES) -> bytes:
    path = Path(path)
    try:
        with path.open("rb") as file:
            return file.read(size)
    except FileNotFoundError:
        raise missing_file_error(path) from None
    except IsADirectoryError:
        raise ModelFileError(f"{path} is a folder, not a model file.",
                             "Choose the model file inside it.") from None
    except OSError as error:
        raise ModelFileError(f"{path} cannot be read: {error.strerror}.",
                             "Check that the file is not locked or on a disconnected drive.") from None


def sniff_bytes(head: bytes) -> FileFormat:
    if not head:
        return FileFormat.EMPTY
    if _looks_like_safetensors(head):
        return FileFormat.SAFETENSORS
    if head.startswith(b"PK\x03\x04"):
        return FileFormat.TORCH_ZIP
    if _looks_like_pickle(head):
        return FileFormat.LEGACY_PICKLE
    text = head.removeprefix(_UTF8_BOM).lstrip()
    if text.lower().startswith(_HTML_STARTS):
        return FileFormat.HTML
    if _is_text(head):
        return FileFormat.JSON if text[:1] in (b"{", b"[") else FileFormat.TEXT
    return FileFormat.UNKNOWN


def _looks_like_safetensors(head: bytes) -> bool:
    if len(head) < 9:
        return False
    (header_length,) = struct.unpack("<Q", head[:8])
    # A real header length has zero high bytes; eight characters of text would not.
    return 2 <= header_length < 2**56 and head[8:9] == b"{"


def _looks_like_pickle(head: bytes) -> bool:
    if head[:1] == _PICKLE_PROTO and len(head) > 1 and 2 <= head[1] <= 5:
        return True
    return bool(_OLD_PROTOCOL_START.match(head))


def _is_text(head: bytes) -> bool:
    try:
        decoded = head.decode("utf-8")
    except UnicodeDecodeError as error:
        cut_at_the_end = len(head) == _SNIFF_BYTES and error.start >= len(head) - 3  # a character split by the read
        if not cut_at_the_end:
            return False
        decoded = head[: error.start].decode("utf-8")
    return all(ch.isprintable() or ch in "\r\n\t\ufeff" for ch in decoded)


def missing_file_error(path: Path) -> ModelFileError:
    return ModelFileError(f"{path} does not exist.",
                          "Check the path, or rescan your model folders if the file was moved.")


def not_a_model_error(path: Path, file_format: FileFormat) -> ModelFileError:
    """The error to raise for a file whose first bytes show it is no model at all."""
    name = Path(path).name
    if file_format is FileFormat.EMPTY:
        return ModelFileError(f"{name} is empty (0 bytes) — the download probably failed.",
                              "Download it again.", details=str(path))
    if file_format is FileFormat.HTML:
        return ModelFileError(f"{name} is a web page, not a model — the download probably failed "
                              "(a login page or an error page was saved instead).",
                              "Download it again, from the file's download link.", details=str(path))
    if file_format in (FileFormat.TEXT, FileFormat.JSON):
        if read_head(path).startswith(b"version https://git-lfs"):
            return ModelFileError(f"{name} is a Git LFS pointer, not the model itself.",
                                  "Download the actual file (it is usually several GB).", details=str(path))
        return ModelFileError(f"{name} is a {file_format.value} file, not a model.",
                              "Remove it from the models folder or download the model again.", details=str(path))
    return ModelFileError(f"{name} is not a model file Easel knows (not safetensors, nor a PyTorch checkpoint). "
                          "It may be damaged or a different kind of file.",
                          "Download it again, preferably as .safetensors.", details=str(path))

"""Generated images on disk: A1111-style names, PNG text metadata, writes that never leave half a file."""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
from pathlib import Path
from typing import Any, Callable

from PIL import Image, UnidentifiedImageError
from PIL.PngImagePlugin import PngInfo

from core.errors import EaselError
from core.file_names import DEFAULT_FILE_NAME_PATTERN, NameFields, render_stem

INFOTEXT_KEY = "parameters"  # what A1111, civitai and image browsers read
REQUEST_KEY = "easel"  # the full GenerationRequest as JSON, to reproduce exactly
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"})

# A1111 numbers files `00012-618633303.png`; any leading number counts.
_SEQUENCE_PREFIX = re.compile(r"^(\d+)(?:[-.]|$)")


def _png_metadata(infotext: str | None, request_json: dict[str, Any] | None) -> PngInfo:
    metadata = PngInfo()
    # add_text writes tEXt, or iTXt when the text is not Latin-1 (as A1111's files do).
    if infotext is not None:
        metadata.add_text(INFOTEXT_KEY, infotext)
    if request_json is not None:
        metadata.add_text(REQUEST_KEY, json.dumps(request_json, ensure_ascii=False))
    return metadata


def _fsync_directory(folder: Path) -> None:
    """Make the rename itself durable; directories cannot be opened for this on Windows."""
    if os.name == "nt":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_png_atomically(
    image: Image.Image,
    path: Path,
    infotext: str | None,
    request_json: dict[str, Any] | None,
) -> Path:
    """Write `image` as a PNG with metadata; `path` is either the complete new file or untouched.

    The PNG goes to a hidden temporary file in the same folder, is flushed and fsync'ed, then
    renamed over `path`. On failure the temporary file is removed and the OSError propagates.
    """
    path = Path(path)
    temp_path = _temp_path(path)
    try:
        _write_png(image, temp_path, _png_metadata(infotext, request_json))
        os.replace(temp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp_path.unlink()
        raise
    _fsync_directory(path.parent)
    return path


def save_new_png(image: Image.Image, folder: Path, stem: str, chunks: dict[str, str]) -> Path:
    """`folder/<stem>.png` (or `<stem>-2.png`, ... when taken) written completely or not at all, with `chunks` as
    PNG text; an existing file is never replaced, even one that appears while writing."""
    metadata = PngInfo()
    for key, value in chunks.items():
        metadata.add_text(key, value)
    temp = _temp_path(Path(folder) / f"{stem}.png")
    try:
        _write_png(image, temp, metadata)
        path = _claim_name(temp, Path(folder), stem)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
    _fsync_directory(path.parent)
    return path


def _temp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")


def _write_png(image: Image.Image, temp_path: Path, metadata: PngInfo) -> None:
    with open(temp_path, "xb") as file:  # "x": never clobbers; honours the umask unlike mkstemp
        image.save(file, format="PNG", pnginfo=metadata)
        file.flush()
        os.fsync(file.fileno())


def _claim_name(temp: Path, folder: Path, stem: str) -> Path:
    repeat = 1
    while True:
        target = folder / (f"{stem}.png" if repeat == 1 else f"{stem}-{repeat}.png")
        try:
            os.link(temp, target)  # fails if the name exists: never overwrites, unlike a rename
            return target
        except FileExistsError:
            repeat += 1
        except OSError:  # a file system without hard links (FAT, some network shares)
            if not target.exists():
                os.replace(temp, target)
                return target
            repeat += 1


# What save_png_atomically names its temporary file: `.NAME.` + 8 hex digits + `.tmp`.
_TEMP_FILE_NAME = re.compile(r"^\..+\.[0-9a-f]{8}\.tmp$")


def remove_stale_temp_files(folder: Path) -> int:
    """Delete the temporary files that saves killed mid-write left under `folder`; how many went.

    Call it when no save is writing there (at start-up): a save in progress uses the same names.
    """
    removed = 0
    for candidate in Path(folder).rglob(".*.tmp"):
        if _TEMP_FILE_NAME.match(candidate.name) and candidate.is_file():
            with contextlib.suppress(FileNotFoundError):
                candidate.unlink()
                removed += 1
    return removed


def _sequence_number(file_name: str) -> int | None:
    match = _SEQUENCE_PREFIX.match(file_name)
    return int(match.group(1)) if match else None


def _number_reader(pattern: str) -> Callable[[str], int | None]:
    """Reads the [number] out of file names the pattern made; A1111's leading number when it comes first."""
    before = re.split(r"\[number\]", pattern, maxsplit=1, flags=re.IGNORECASE)[0]
    if not before:
        return _sequence_number
    # Other tokens may be anything; fixed text is matched as written.
    prefix = "".join(".*?" if re.fullmatch(r"\[\w+\]", part) else re.escape(part)
                     for part in re.split(r"(\[\w+\])", before) if part)
    regex = re.compile(f"^{prefix}(\\d+)(?!\\d)")

    def read(file_name: str) -> int | None:
        match = regex.match(file_name)
        return int(match.group(1)) if match else None

    return read


def next_image_path(
    folder: Path, seed: int, pattern: str = DEFAULT_FILE_NAME_PATTERN, fields: NameFields | None = None
) -> Path:
    """`folder/NNNNN-seed.png` (or what `pattern` makes of `fields`), numbered one past the highest
    number already there (from 00000); never a name that is taken.

    The name is free when returned; it is not reserved against another writer.
    """
    folder = Path(folder)
    fields = fields or NameFields(seed)
    existing = {entry.name for entry in folder.iterdir()} if folder.is_dir() else set()
    numbers = [n for n in map(_number_reader(pattern), existing) if n is not None]
    # One past the highest number cannot collide with any numbered name already there.
    number = max(numbers, default=-1) + 1
    stem = render_stem(pattern, number, fields)
    name, repeat = f"{stem}.png", 1
    while name in existing:  # a pattern without [number], or one cut short
        repeat += 1
        name = f"{stem}-{repeat}.png"
    return folder / name


def _open_image(path: Path) -> Image.Image:
    try:
        return Image.open(path)
    except (UnidentifiedImageError, OSError) as error:
        raise EaselError(
            f"Cannot read the image {Path(path).name}.",
            hint="Check that the file exists and is a PNG, JPEG or WebP image.",
            details=str(error),
        ) from error


def read_png_text(path: Path) -> dict[str, str]:
    """All text chunks (tEXt, zTXt, iTXt) of a PNG; other formats give their text info, if any."""
    with _open_image(path) as image:
        text = getattr(image, "text", None)  # PNG only; reads chunks after the pixels too
        if text is None:
            text = {key: value for key, value in image.info.items() if isinstance(value, str)}
        return {key: str(value) for key, value in text.items()}


def read_infotext(path: Path) -> str | None:
    """The A1111 `parameters` text of an image, or None when it has none."""
    return read_png_text(path).get(INFOTEXT_KEY)


def read_request_json(path: Path) -> dict[str, Any] | None:
    """The request Easel stored in the `easel` chunk, or None for other images."""
    text = read_png_text(path).get(REQUEST_KEY)
    if text is None:
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


_EXIF_IFD = 0x8769
_USER_COMMENT = 0x9286
_COMMENT_CHARSETS = {b"ASCII\0\0\0": "utf-8", b"JIS\0\0\0\0\0": "shift_jis", b"\0" * 8: "utf-8"}
_UNICODE_PREFIX = b"UNICODE\0"


def decode_user_comment(value: bytes | str) -> str:
    """An EXIF UserComment as text: an 8-byte charset prefix, then the text in that charset.

    A1111 writes `UNICODE\\0` + UTF-16 big-endian (piexif); some tools write little-endian, so
    the byte order is read from where the zero bytes of ASCII characters fall.
    """
    if isinstance(value, str):
        return value.rstrip("\0")
    prefix, body = value[:8], value[8:]
    if prefix == _UNICODE_PREFIX:
        sample = body[:64]
        big_endian = sample[0::2].count(0) >= sample[1::2].count(0)
        return body.decode("utf-16-be" if big_endian else "utf-16-le", errors="replace").rstrip("\0")
    charset = _COMMENT_CHARSETS.get(prefix)
    text = body if charset else value  # no known prefix: the whole value is the text
    return text.decode(charset or "utf-8", errors="replace").rstrip("\0")


def read_exif_comment(path: Path) -> str | None:
    """The EXIF UserComment of a JPEG, WebP (or PNG with eXIf), where A1111 and Fooocus put settings.

    A1111 writes it in the Exif IFD; Fooocus in IFD0. None when the image has none.
    """
    with _open_image(path) as image:
        exif = image.getexif()
        value = exif.get_ifd(_EXIF_IFD).get(_USER_COMMENT, exif.get(_USER_COMMENT))
    if not value:
        return None
    text = decode_user_comment(value)
    return text or None


def images_in_folder(folder: Path) -> list[Path]:
    """The image files directly in `folder` (a batch, as A1111's "Batch from directory"), sorted by name,
    hidden ones left out."""
    return sorted(child for child in Path(folder).iterdir() if child.is_file()
                  and child.suffix.lower() in IMAGE_EXTENSIONS and not child.name.startswith("."))

"""PNG output: metadata A1111 tools can read, A1111 file numbering, no half-written files."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from core.errors import EaselError
from core.images import (
    next_image_path,
    read_infotext,
    read_png_text,
    read_request_json,
    save_png_atomically,
)
from core.request import GenerationRequest

INFOTEXT = (
    "a lighthouse at dusk, (oil painting:1.2)\nNegative prompt: blurry\n"
    "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 618633303, Size: 64x48, Version: Easel 0.1.0"
)


def small_image() -> Image.Image:
    return Image.new("RGB", (64, 48), (200, 30, 40))


def chunk_types(path: Path) -> list[bytes]:
    data = path.read_bytes()[8:]
    types = []
    while data:
        length = int.from_bytes(data[:4], "big")
        types.append(data[4:8])
        data = data[12 + length :]
    return types


def test_written_png_reopens_with_infotext_and_request(tmp_path: Path) -> None:
    request = GenerationRequest(model="dreamshaper_8.safetensors", prompt="a lighthouse", seed=618633303)
    path = save_png_atomically(small_image(), tmp_path / "00000-618633303.png", INFOTEXT, request.to_json_dict())

    assert read_infotext(path) == INFOTEXT
    assert GenerationRequest.from_json_dict(read_request_json(path)) == request
    with Image.open(path) as reopened:
        assert reopened.size == (64, 48)
        assert reopened.getpixel((3, 3)) == (200, 30, 40)
    assert list(tmp_path.iterdir()) == [path]


def test_latin1_text_is_a_plain_text_chunk_and_other_text_is_itxt(tmp_path: Path) -> None:
    latin = save_png_atomically(small_image(), tmp_path / "a.png", "café, Steps: 20", None)
    chinese = save_png_atomically(small_image(), tmp_path / "b.png", "杰作, 一个女孩, 夜晚的城市", None)
    assert b"tEXt" in chunk_types(latin)
    assert b"iTXt" in chunk_types(chinese)
    assert read_infotext(chinese) == "杰作, 一个女孩, 夜晚的城市"


def test_image_without_metadata_has_no_infotext(tmp_path: Path) -> None:
    path = save_png_atomically(small_image(), tmp_path / "plain.png", None, None)
    assert read_png_text(path) == {}
    assert read_infotext(path) is None
    assert read_request_json(path) is None


def test_failing_write_leaves_no_file_and_keeps_the_old_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "00003-1.png"
    target.write_bytes(b"previous image")
    image = small_image()

    def disk_full_mid_write(file, *args, **kwargs):  # type: ignore[no-untyped-def]
        file.write(b"\x89PNG\r\n\x1a\npartial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(image, "save", disk_full_mid_write)
    with pytest.raises(OSError, match="No space left"):
        save_png_atomically(image, target, INFOTEXT, None)
    assert [p.name for p in tmp_path.iterdir()] == [target.name]
    assert target.read_bytes() == b"previous image"


def test_failing_write_of_a_new_file_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    image = small_image()
    monkeypatch.setattr(image, "save", lambda *a, **k: (_ for _ in ()).throw(OSError("I/O error")))
    with pytest.raises(OSError):
        save_png_atomically(image, tmp_path / "new.png", INFOTEXT, None)
    assert list(tmp_path.iterdir()) == []


def test_writing_into_a_missing_folder_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        save_png_atomically(small_image(), tmp_path / "missing" / "x.png", None, None)
    assert list(tmp_path.iterdir()) == []


def test_numbering_starts_at_zero_in_an_empty_or_missing_folder(tmp_path: Path) -> None:
    assert next_image_path(tmp_path, 618633303) == tmp_path / "00000-618633303.png"
    assert next_image_path(tmp_path / "not-yet", 5).name == "00000-5.png"


def test_numbering_continues_after_a1111_files(tmp_path: Path) -> None:
    for name in ("00000-111.png", "00011-222.png", "00007-333.png", "grid-0003.png", "notes.txt", "00012.png"):
        (tmp_path / name).write_bytes(b"")
    assert next_image_path(tmp_path, 618633303).name == "00013-618633303.png"


def test_next_name_is_never_taken(tmp_path: Path) -> None:
    (tmp_path / "00004-9.png").write_bytes(b"")
    (tmp_path / "00005-9.png").mkdir()  # odd, but the name is taken
    (tmp_path / "99999-9.png").write_bytes(b"")
    path = next_image_path(tmp_path, 9)
    assert path.name == "100000-9.png"
    assert not path.exists()


def test_reading_a_non_image_raises_a_readable_error(tmp_path: Path) -> None:
    path = tmp_path / "fake.png"
    path.write_bytes(b"not an image at all")
    with pytest.raises(EaselError) as raised:
        read_infotext(path)
    assert "fake.png" in raised.value.message

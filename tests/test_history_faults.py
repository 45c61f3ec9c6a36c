"""Kills and broken files lose no image: no truncated PNG, no row without its file, a database that opens."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from core.history import History
from core.images import remove_stale_temp_files, save_png_atomically

REPO = Path(__file__).resolve().parent.parent
PNG_END = b"IEND\xaeB`\x82"
needs_sigkill = pytest.mark.skipif(os.name == "nt", reason="SIGKILL is POSIX-only")

RECORD_LOOP = r"""
import random, sys, time
from pathlib import Path
from PIL import Image
from core.history import History
from core.images import next_image_path, save_png_atomically

folder, db_path = Path(sys.argv[1]), Path(sys.argv[2])
history = History.open(db_path)
for number in range(10**9):
    seed = random.randrange(2**32)
    image = Image.effect_noise((128, 128), 80).convert("RGB")
    prompt = f"kill test {number}"
    infotext = f"{prompt}\nSteps: 1, Seed: {seed}, Size: 128x128, Model: tiny"
    request = {"prompt": prompt, "seed": seed, "model": "tiny"}
    path = save_png_atomically(image, next_image_path(folder, seed), infotext, request)
    time.sleep(random.uniform(0, 0.02))  # the worker hands the image on before recording it
    history.record(path, image, infotext, request, "tiny", None)
    if number == 2:
        print("recording", flush=True)
"""

BATCH_RECORD = r"""
import shutil, sys, time
from pathlib import Path
from PIL import Image
from core.history import History
from core.images import save_png_atomically

folder, db_path = Path(sys.argv[1]), Path(sys.argv[2])
history = History.open(db_path)
image = Image.effect_noise((256, 256), 80).convert("RGB")
source = save_png_atomically(image, folder / "source.png", "x\nSteps: 1, Seed: 1, Size: 256x256", None)
paths = [folder / f"{number:05}-1.png" for number in range(300)]
for path in paths:
    shutil.copyfile(source, path)
source.unlink()
print("committing", flush=True)
with history.batch():
    for path in paths:
        history.record(path, image, "x", {"prompt": "one batch"}, "tiny", None)
time.sleep(60)
"""

SLOW_SAVE = r"""
import os, sys, time
from pathlib import Path
from PIL import Image
import core.images

class SlowFile:
    def __init__(self, file):
        self._file = file
    def write(self, data):
        time.sleep(0.01)
        return self._file.write(data)
    def __getattr__(self, name):
        return getattr(self._file, name)
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        self._file.close()

def slow_open(*args, **kwargs):
    file = SlowFile(open(*args, **kwargs))
    print("writing", flush=True)
    return file

core.images.open = slow_open
image = Image.frombytes("RGB", (512, 512), os.urandom(512 * 512 * 3))
core.images.save_png_atomically(image, Path(sys.argv[1]), "a lighthouse\nSteps: 1, Seed: 1, Size: 512x512", None)
print("saved", flush=True)
time.sleep(60)
"""


def start(script: str, *args: Path) -> subprocess.Popen:
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", script, *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=environment)


def wait_for(child: subprocess.Popen, line: str) -> None:
    watchdog = threading.Timer(60, child.kill)  # a child that never gets there must not hang the suite
    watchdog.start()
    said = child.stdout.readline().strip()
    watchdog.cancel()
    if said != line:
        child.kill()
        raise AssertionError(f"child said {said!r} instead of {line!r}: {child.stderr.read()}")


def kill(child: subprocess.Popen) -> None:
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    child.stdout.close()
    child.stderr.close()
    assert child.returncode == -signal.SIGKILL


def assert_complete_png(path: Path) -> None:
    assert path.read_bytes().endswith(PNG_END), f"{path.name} is truncated"
    with Image.open(path) as image:
        image.load()


def integrity(db_path: Path) -> list[tuple[str]]:
    with contextlib.closing(sqlite3.connect(db_path)) as raw:
        return raw.execute("PRAGMA integrity_check").fetchall()


@needs_sigkill
def test_killed_while_recording_every_row_has_its_file_and_no_saved_image_is_lost(tmp_path):
    rng = random.Random()
    delays = [rng.uniform(0.0, 0.4) for _ in range(4)]
    folder, db_path = tmp_path / "outputs", tmp_path / "history.sqlite3"
    folder.mkdir()
    saved_before = 0
    for delay in delays:
        child = start(RECORD_LOOP, folder, db_path)
        wait_for(child, "recording")
        time.sleep(delay)
        kill(child)

        assert integrity(db_path) == [("ok",)], f"kill after {delay:.3f} s"
        history = History.open(db_path)
        assert history.notice is None
        rows = {entry.path for entry in history.page(0, 100_000)}
        files = {path.resolve() for path in folder.glob("*.png")}
        assert rows <= files, f"rows without their file after a kill at {delay:.3f} s"
        for path in files:
            assert_complete_png(path)
        assert history.import_untracked(folder) == len(files - rows)
        assert {entry.path for entry in history.page(0, 100_000)} == files
        assert len(files) >= saved_before + 3
        saved_before = len(files)
        history.close()
        remove_stale_temp_files(folder)
        assert not list(folder.glob(".*.tmp"))


@needs_sigkill
def test_killed_during_a_large_commit_keeps_all_or_none_of_it(tmp_path):
    folder = tmp_path / "outputs"
    folder.mkdir()
    for delay in (0.05, random.uniform(0.1, 1.0)):
        db_path = tmp_path / f"history-{delay}.sqlite3"
        child = start(BATCH_RECORD, folder, db_path)
        wait_for(child, "committing")
        time.sleep(delay)
        kill(child)

        assert integrity(db_path) == [("ok",)]
        history = History.open(db_path)
        assert history.count() in (0, 300), f"a kill after {delay:.3f} s kept part of one transaction"
        assert all(entry.path.exists() for entry in history.page(0, 1000))
        history.close()


@needs_sigkill
def test_killed_mid_save_leaves_no_truncated_png_and_temp_files_are_cleared(tmp_path):
    old = tmp_path / "00001-1.png"
    save_png_atomically(Image.new("RGB", (32, 32), (0, 90, 0)), old, None, None)
    old_bytes = old.read_bytes()
    (tmp_path / "notes.tmp").write_text("the user's own file")
    (tmp_path / ".settings.tmp").write_text("another program's file")
    targets = [(tmp_path / "00002-2.png", 0.0), (tmp_path / "00003-3.png", random.uniform(0.02, 0.3)), (old, 0.1)]

    for target, delay in targets:
        child = start(SLOW_SAVE, target)
        wait_for(child, "writing")
        time.sleep(delay)
        kill(child)

        if target == old:
            assert target.read_bytes() == old_bytes, "the previous image was damaged"
        else:
            assert not target.exists(), f"a save killed after {delay:.3f} s left {target.name}"
        assert remove_stale_temp_files(tmp_path) == 1
    assert sorted(path.name for path in tmp_path.iterdir()) == [".settings.tmp", "00001-1.png", "notes.tmp"]
    assert_complete_png(old)


def test_database_overwritten_with_garbage_is_moved_aside_and_rebuilt_from_the_images(tmp_path):
    folder, db_path = tmp_path / "outputs", tmp_path / "history.sqlite3"
    folder.mkdir()
    image = Image.new("RGB", (64, 64), (1, 2, 3))
    infotext = "a harbour\nSteps: 20, Seed: 9, Size: 64x64, Model: dreamshaper_8"
    path = save_png_atomically(image, folder / "00000-9.png", infotext, {"prompt": "a harbour", "seed": 9})
    history = History.open(db_path)
    history.record(path, image, infotext, {"prompt": "a harbour", "seed": 9}, "dreamshaper_8", None)
    history.close()
    garbage = random.randbytes(50_000)
    db_path.write_bytes(garbage)
    Path(f"{db_path}-wal").write_bytes(b"left over")

    history = History.open(db_path)
    assert history.notice and "damaged" in history.notice and history.count() == 0
    [kept] = tmp_path.glob("history.corrupt-*.sqlite3")
    assert kept.read_bytes() == garbage and Path(f"{kept}-wal").read_bytes() == b"left over"
    assert history.import_untracked(folder) == 1
    assert [(e.prompt, e.model_name, e.seed) for e in history.page(0, 10)] == [("a harbour", "dreamshaper_8", 9)]
    history.close()
    assert History.open(db_path).notice is None and integrity(db_path) == [("ok",)]


def test_database_with_a_damaged_page_is_moved_aside(tmp_path):
    db_path = tmp_path / "history.sqlite3"
    history = History.open(db_path)
    image = Image.effect_noise((64, 64), 80).convert("RGB")
    png = save_png_atomically(image, tmp_path / "a.png", None, None).read_bytes()
    with history.batch():
        for number in range(400):
            path = tmp_path / f"{number}.png"
            path.write_bytes(png)
            history.record(path, image, "", {"prompt": f"image {number}"}, "m", None)
    history.close()
    with open(db_path, "r+b") as file:
        file.seek(4096 * 5)
        file.write(b"\xff" * 4096 * 3)

    history = History.open(db_path)
    assert history.notice and "damaged" in history.notice
    assert history.count() == 0 and len(list(tmp_path.glob("history.corrupt-*.sqlite3"))) == 1
    history.close()


def test_history_from_a_newer_easel_is_left_untouched(tmp_path):
    db_path = tmp_path / "history.sqlite3"
    History.open(db_path).close()
    with contextlib.closing(sqlite3.connect(db_path)) as raw:
        raw.execute("UPDATE schema_version SET version = 99")
        raw.commit()
    before = db_path.read_bytes()

    history = History.open(db_path)
    assert history.notice and "newer Easel" in history.notice and history.db_path is None
    assert db_path.read_bytes() == before and not list(tmp_path.glob("*.corrupt-*"))
    history.close()


def test_a_history_that_cannot_be_opened_still_lets_the_session_work(tmp_path):
    blocked = tmp_path / "history.sqlite3"
    blocked.mkdir()  # a folder where the database file should be
    history = History.open(blocked)
    assert history.notice and "could not be opened" in history.notice
    image = Image.new("RGB", (8, 8))
    path = save_png_atomically(image, tmp_path / "a.png", None, None)
    history.record(path, image, "", {"prompt": "kept for this session"}, "m", None)
    assert [entry.prompt for entry in history.page(0, 10)] == ["kept for this session"]
    history.close()

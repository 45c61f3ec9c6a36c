"""A1111-compatible hashes, computed once per file version and remembered across runs."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

import pytest

from core.errors import ModelFileError
from core.models.hashing import BackgroundHasher, FileHashes, HashCache, autov2, hash_file, legacy_model_hash


def a1111_model_hash(path: Path) -> str:
    """modules/sd_models.py, model_hash()."""
    with open(path, "rb") as file:
        file.seek(0x100000)
        return hashlib.sha256(file.read(0x10000)).hexdigest()[0:8]


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "model.safetensors"
    path.write_bytes(os.urandom(3 * 1024 * 1024 + 12345))
    return path


def test_hashes_match_the_a1111_and_civitai_definitions(model_file: Path) -> None:
    sha256 = hashlib.sha256(model_file.read_bytes()).hexdigest()
    assert autov2(model_file) == sha256[:10]
    assert legacy_model_hash(model_file) == a1111_model_hash(model_file)
    assert hash_file(model_file) == FileHashes(sha256, a1111_model_hash(model_file))
    assert hash_file(model_file).autov2 == sha256[:10]


@pytest.mark.parametrize("size", [0, 1000, 0x100000 + 100, 0x100000 + 0x10000])
def test_legacy_hash_of_files_near_the_offset_matches_a1111(tmp_path: Path, size: int) -> None:
    path = tmp_path / "small.ckpt"
    path.write_bytes(os.urandom(size))
    assert legacy_model_hash(path) == a1111_model_hash(path)
    assert hash_file(path).legacy == a1111_model_hash(path)


def test_missing_file_raises_a_model_file_error(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="does not exist"):
        autov2(tmp_path / "gone.safetensors")


class CountingHasher:
    def __init__(self) -> None:
        self.reads: list[Path] = []

    def __call__(self, path: Path) -> FileHashes:
        self.reads.append(path)
        return hash_file(path)


def test_cache_reads_an_unchanged_file_once_even_across_runs(tmp_path: Path, model_file: Path) -> None:
    cache_file = tmp_path / "cache" / "hashes.json"
    counter = CountingHasher()
    first = HashCache(cache_file, compute_hashes=counter).compute(model_file)
    second = HashCache(cache_file, compute_hashes=counter).compute(model_file)  # as after a restart
    assert first == second and len(counter.reads) == 1


def test_cache_answers_from_its_file_without_reading_the_model(tmp_path: Path, model_file: Path) -> None:
    cache_file = tmp_path / "hashes.json"
    HashCache(cache_file).compute(model_file)
    data = json.loads(cache_file.read_text())
    (entry,) = data["files"].values()
    entry["sha256"] = "f" * 64
    cache_file.write_text(json.dumps(data))
    assert HashCache(cache_file).compute(model_file).autov2 == "ffffffffff"


def test_changed_file_is_hashed_again(tmp_path: Path, model_file: Path) -> None:
    cache = HashCache(tmp_path / "hashes.json")
    before = cache.compute(model_file)
    model_file.write_bytes(b"new content of the same name")
    assert cache.get(model_file) is None
    after = cache.compute(model_file)
    assert after != before and after.sha256 == hashlib.sha256(b"new content of the same name").hexdigest()


def test_touched_file_is_hashed_again(tmp_path: Path, model_file: Path) -> None:
    counter = CountingHasher()
    cache = HashCache(tmp_path / "hashes.json", compute_hashes=counter)
    cache.compute(model_file)
    stat = model_file.stat()
    os.utime(model_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    cache.compute(model_file)
    assert len(counter.reads) == 2


def test_damaged_cache_file_is_ignored(tmp_path: Path, model_file: Path) -> None:
    cache_file = tmp_path / "hashes.json"
    cache_file.write_text("{ not json")
    assert HashCache(cache_file).compute(model_file) == hash_file(model_file)
    assert json.loads(cache_file.read_text())["files"]


def test_concurrent_threads_keep_every_entry(tmp_path: Path) -> None:
    files = []
    for index in range(8):
        files.append(tmp_path / f"m{index}.bin")
        files[-1].write_bytes(os.urandom(1000))
    cache_file = tmp_path / "hashes.json"
    cache = HashCache(cache_file)
    threads = [threading.Thread(target=cache.compute, args=(path,)) for path in files]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(json.loads(cache_file.read_text())["files"]) == 8


def test_background_hasher_returns_at_once_and_calls_back(tmp_path: Path, model_file: Path) -> None:
    release = threading.Event()

    def slow_hash(path: Path) -> FileHashes:
        release.wait(timeout=10)
        return hash_file(path)

    hasher = BackgroundHasher(HashCache(tmp_path / "hashes.json", compute_hashes=slow_hash))
    received: list[FileHashes] = []
    future = hasher.request(model_file, callback=received.append)
    assert not future.done()  # the caller was not kept waiting for the hash
    assert hasher.request(model_file) is future  # the same file is not queued twice
    release.set()
    assert future.result(timeout=10) == hash_file(model_file)
    hasher.shutdown()
    assert received == [future.result()]


def test_background_hasher_reuses_the_cache(tmp_path: Path, model_file: Path) -> None:
    counter = CountingHasher()
    hasher = BackgroundHasher(HashCache(tmp_path / "hashes.json", compute_hashes=counter))
    hasher.request(model_file).result(timeout=10)
    hasher.request(model_file).result(timeout=10)
    hasher.shutdown()
    assert len(counter.reads) == 1

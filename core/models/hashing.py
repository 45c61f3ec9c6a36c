"""A1111-compatible model hashes, cached on disk so a 7 GB file is read once."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from core.models.filetype import missing_file_error

BLOCK_SIZE = 1 << 20
LEGACY_OFFSET = 0x100000
LEGACY_LENGTH = 0x10000


@dataclass(frozen=True)
class FileHashes:
    sha256: str  # of the whole file
    legacy: str  # A1111's old 8-digit `model_hash`

    @property
    def autov2(self) -> str:
        """What A1111 writes as `Model hash` and civitai calls AutoV2."""
        return self.sha256[:10]


def sha256_of_file(path: Path) -> str:
    digest = hashlib.sha256()
    with _open(path) as file:
        while block := file.read(BLOCK_SIZE):
            digest.update(block)
    return digest.hexdigest()


def autov2(path: Path) -> str:
    """First 10 hex digits of the file's SHA-256."""
    return sha256_of_file(path)[:10]


def legacy_model_hash(path: Path) -> str:
    """A1111's `model_hash`: sha256 of the 64 KiB at offset 1 MiB (of nothing, for a smaller file), 8 digits.

    A1111 returns the text 'NOFILE' for a missing file; Easel raises ModelFileError instead.
    """
    with _open(path) as file:
        file.seek(LEGACY_OFFSET)
        return hashlib.sha256(file.read(LEGACY_LENGTH)).hexdigest()[:8]


def hash_file(path: Path) -> FileHashes:
    """Both hashes in a single pass over the file."""
    digest = hashlib.sha256()
    legacy_chunk = bytearray()
    position = 0
    with _open(path) as file:
        while block := file.read(BLOCK_SIZE):
            digest.update(block)
            _collect_legacy_chunk(legacy_chunk, block, position)
            position += len(block)
    legacy = hashlib.sha256(bytes(legacy_chunk)).hexdigest()[:8]
    return FileHashes(digest.hexdigest(), legacy)


def _collect_legacy_chunk(chunk: bytearray, block: bytes, position: int) -> None:
    start = max(LEGACY_OFFSET - position, 0)
    end = min(LEGACY_OFFSET + LEGACY_LENGTH - position, len(block))
    if start < end:
        chunk.extend(block[start:end])


def _open(path: Path):
    try:
        return Path(path).open("rb")
    except FileNotFoundError:
        raise missing_file_error(Path(path)) from None


class HashCache:
    """Hashes by absolute path, valid while the file's size and mtime_ns stay the same.

    Stored as JSON, written atomically; several threads may use one instance.
    """

    def __init__(self, cache_file: Path, compute_hashes: Callable[[Path], FileHashes] = hash_file) -> None:
        self.cache_file = Path(cache_file)
        self._compute_hashes = compute_hashes
        self._lock = threading.Lock()
        self._entries: dict[str, dict] = self._read_disk()

    def get(self, path: Path) -> FileHashes | None:
        """The cached hashes if the file is unchanged since they were computed; never reads the file."""
        key, size, mtime_ns = self._identity(path)
        with self._lock:
            entry = self._entries.get(key)
        if entry is None or entry.get("size") != size or entry.get("mtime_ns") != mtime_ns:
            return None
        return FileHashes(entry["sha256"], entry["legacy"])

    def compute(self, path: Path) -> FileHashes:
        """The hashes, from the cache or by reading the file once."""
        cached = self.get(path)
        if cached is not None:
            return cached
        key, size, mtime_ns = self._identity(path)
        hashes = self._compute_hashes(Path(path))
        self._store(key, {"size": size, "mtime_ns": mtime_ns, **asdict(hashes)})
        return hashes

    @staticmethod
    def _identity(path: Path) -> tuple[str, int, int]:
        absolute = Path(path).absolute()
        try:
            stat = absolute.stat()
        except FileNotFoundError:
            raise missing_file_error(absolute) from None
        return str(absolute), stat.st_size, stat.st_mtime_ns

    def _read_disk(self) -> dict[str, dict]:
        try:
            data = json.loads(self.cache_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}  # missing or damaged: hashes are recomputed, nothing is lost
        entries = data.get("files") if isinstance(data, dict) else None
        return {k: v for k, v in entries.items() if isinstance(v, dict)} if isinstance(entries, dict) else {}

    def _store(self, key: str, entry: dict) -> None:
        with self._lock:
            # Merge with what another Easel process may have written meanwhile.
            self._entries = {**self._read_disk(), **self._entries, key: entry}
            self._write_disk(self._entries)

    def _write_disk(self, entries: dict[str, dict]) -> None:
        self.cache_file.parent.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(prefix=".hashes.", dir=self.cache_file.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                json.dump({"version": 1, "files": entries}, file, indent=0)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temp_name, self.cache_file)
        finally:
            Path(temp_name).unlink(missing_ok=True)


class BackgroundHasher:
    """Hashes files in worker threads so the caller never waits; a file already cached is answered at once."""

    def __init__(self, cache: HashCache, executor: Executor | None = None) -> None:
        self.cache = cache
        self._owns_executor = executor is None
        self._executor = executor or ThreadPoolExecutor(max_workers=1, thread_name_prefix="easel-hash")
        self._lock = threading.RLock()  # a done future runs its callbacks at once, in this thread
        self._pending: dict[str, Future[FileHashes]] = {}

    def request(self, path: Path, callback: Callable[[FileHashes], None] | None = None) -> Future[FileHashes]:
        """A future for the file's hashes; `callback(hashes)` runs when they are known (in a worker thread)."""
        key = str(Path(path).absolute())
        with self._lock:
            future = self._pending.get(key)
            if future is None:
                future = self._executor.submit(self.cache.compute, Path(path))
                self._pending[key] = future
                future.add_done_callback(lambda _done: self._forget(key))
        if callback is not None:
            future.add_done_callback(lambda done: done.exception() is None and callback(done.result()))
        return future

    def _forget(self, key: str) -> None:
        with self._lock:
            self._pending.pop(key, None)

    def shutdown(self, wait: bool = True) -> None:
        if self._owns_executor:
            self._executor.shutdown(wait=wait, cancel_futures=not wait)

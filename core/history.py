"""The record of every generated image: an SQLite database (WAL) the gallery pages through.

One `History` per thread (an SQLite connection belongs to the thread that opened it); WAL lets the
window read while the worker writes. Rows point at image files and are only written for files
that exist, so a kill between saving a PNG and recording it leaves an untracked file, which
`import_untracked` records on the next start, never a row without its file.

`PRAGMA synchronous=NORMAL`: in WAL mode it never corrupts the database, neither when the process
is killed nor on a power cut. A power cut (not a kill) may roll back the last commits: a lost record
is rebuilt from its fsync'ed PNG by `import_untracked`, a lost delete is undone by `prune_missing`.
FULL would add a disk sync to every record and delete for a guarantee the image files already give.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from PIL import Image

from core.errors import EaselError
from core.images import INFOTEXT_KEY, REQUEST_KEY, read_png_text
from core.infotext import parse_infotext
from core.metadata.imported import json_object
from core.metadata.reader import from_text_chunks
from core.thumbnails import make_thumbnail

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS images (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    prompt TEXT NOT NULL,
    search_text TEXT NOT NULL,
    negative_prompt TEXT NOT NULL,
    model_name TEXT NOT NULL,
    model_hash TEXT,
    seed INTEGER NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    infotext TEXT NOT NULL,
    request TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS images_newest ON images (created DESC, id DESC);
CREATE INDEX IF NOT EXISTS images_model_newest ON images (model_name, created DESC, id DESC);
CREATE TABLE IF NOT EXISTS thumbnails (
    image_id INTEGER PRIMARY KEY REFERENCES images (id) ON DELETE CASCADE,
    data BLOB NOT NULL
);
"""

# Everything but the blobs (another table) and search_text (casefolded prompt, for matching only).
_ENTRY_FIELDS = (
    "path", "prompt", "negative_prompt", "model_name", "model_hash", "seed", "width", "height", "infotext",
    "request", "created",
)
_ENTRY_COLUMNS = ", ".join(("id", *_ENTRY_FIELDS))
_NEWEST_FIRST = "ORDER BY created DESC, id DESC"
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26
_UNREADABLE_IMAGE = (EaselError, OSError, ValueError, SyntaxError, Image.DecompressionBombError)


@dataclass(frozen=True)
class HistoryEntry:
    """One recorded image. `request` is GenerationRequest.to_json_dict(); `created` is unix seconds."""

    id: int
    path: Path
    prompt: str
    negative_prompt: str
    model_name: str
    model_hash: str | None
    seed: int
    width: int
    height: int
    infotext: str
    request: dict
    created: float


class History:
    """Record, page, search, filter and delete generated images."""

    def __init__(self, connection: sqlite3.Connection, db_path: Path | None, notice: str | None = None) -> None:
        self._connection = connection
        self._depth = 0
        self.db_path = db_path  # None when history lives in memory for this session only
        self.notice = notice  # what to tell the person when opening did not go as planned

    @classmethod
    def open(cls, db_path: Path, check: bool = True) -> "History":
        """The history at `db_path`; never raises over a broken database.

        A corrupt file (or one that is not a database) is moved aside as
        `NAME.corrupt-<timestamp>.sqlite3` with its -wal/-shm and a new one started. When even that
        fails, history is kept in memory for this session; `notice` then says what happened.
        `check=False` skips that integrity check, for a second connection (another thread) to a
        database this process has just opened and checked.
        """
        db_path = Path(db_path)
        try:
            if not check or not _is_damaged(db_path):
                return cls(_connect(db_path), db_path)
        except (sqlite3.Error, OSError) as error:
            return _in_memory(f"The image history could not be opened ({error}).")
        return _start_over(db_path)

    def close(self) -> None:
        self._connection.close()

    # Writing

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Run several records/deletes as one transaction: all or nothing, and one commit."""
        outermost = self._depth == 0
        self._connection.execute("BEGIN IMMEDIATE" if outermost else f"SAVEPOINT level{self._depth}")
        self._depth += 1
        try:
            yield
        except BaseException:
            self._depth -= 1
            if self._connection.in_transaction:  # SQLite ends it by itself on some I/O errors
                self._undo(outermost)
            raise
        self._depth -= 1
        self._connection.execute("COMMIT" if outermost else f"RELEASE level{self._depth}")

    def _undo(self, outermost: bool) -> None:
        if outermost:
            self._connection.execute("ROLLBACK")
        else:
            self._connection.execute(f"ROLLBACK TO level{self._depth}")
            self._connection.execute(f"RELEASE level{self._depth}")

    def record(
        self,
        path: Path,
        image: Image.Image,
        infotext: str,
        request: dict,
        model_name: str,
        model_hash: str | None,
        created: float | None = None,
    ) -> HistoryEntry:
        """Record the image saved at `path`; raises FileNotFoundError when there is no such file.

        Recording a path again replaces that row's contents and keeps its id.
        """
        path = _stored_path(path)
        if not path.is_file():
            raise FileNotFoundError(f"No image file at {path}; history records only saved images.")
        thumbnail = make_thumbnail(image)
        values = _row_values(path, image, infotext, request, model_name, model_hash, created)
        with self.batch():
            entry_id = self._upsert(values)
            self._connection.execute(
                "INSERT OR REPLACE INTO thumbnails (image_id, data) VALUES (?, ?)", (entry_id, thumbnail)
            )
        return _entry((entry_id, *(values[name] for name in _ENTRY_FIELDS)))

    def _upsert(self, values: dict[str, Any]) -> int:
        names = ", ".join(values)
        updates = ", ".join(f"{name} = excluded.{name}" for name in values if name != "path")
        self._connection.execute(
            f"INSERT INTO images ({names}) VALUES ({', '.join('?' * len(values))}) "
            f"ON CONFLICT (path) DO UPDATE SET {updates}",
            tuple(values.values()),
        )
        row = self._connection.execute("SELECT id FROM images WHERE path = ?", (values["path"],)).fetchone()
        return int(row[0])

    def delete(self, entry_id: int, trash: Callable[[Path], None]) -> None:
        """Move the image file to the trash, then forget it; a file already gone still removes the row.

        When `trash` fails (other than for a missing file) the row stays and the error propagates.
        """
        entry = self.get(entry_id)
        if entry is None:
            return
        if entry.path.exists():
            with contextlib.suppress(FileNotFoundError):  # gone meanwhile: nothing left to keep
                trash(entry.path)
        self._delete_rows([entry_id])

    def _delete_rows(self, ids: list[int]) -> None:
        with self.batch():
            pairs = [(entry_id,) for entry_id in ids]
            self._connection.executemany("DELETE FROM thumbnails WHERE image_id = ?", pairs)
            self._connection.executemany("DELETE FROM images WHERE id = ?", pairs)

    def prune_missing(self) -> int:
        """Forget images whose file is gone (deleted or moved outside Easel); how many were."""
        rows = self._connection.execute("SELECT id, path FROM images").fetchall()
        missing = [entry_id for entry_id, path in rows if not Path(path).exists()]
        if missing:
            self._delete_rows(missing)
        return len(missing)

    def import_untracked(self, folder: Path) -> int:
        """Record the PNGs under `folder` that carry Easel or A1111 settings but have no row yet.

        This recovers an image saved just before a kill (file written, row not yet). Unreadable or
        truncated files and images without settings are skipped. Returns how many were recorded.
        """
        known = {row[0] for row in self._connection.execute("SELECT path FROM images")}
        recorded = 0
        for path in _png_files(Path(folder)):
            if str(_stored_path(path)) not in known and self._import_one(path):
                recorded += 1
        return recorded

    def _import_one(self, path: Path) -> bool:
        try:
            settings = _recorded_settings(read_png_text(path))
            if settings is None:
                return False
            with Image.open(path) as image:
                image.load()  # a truncated file fails here, not later in the gallery
                self.record(path, image, *settings, created=path.stat().st_mtime)
        except _UNREADABLE_IMAGE:
            return False
        return True

    # Reading

    def count(self, query: str = "", model: str | None = None) -> int:
        where, params = _filter(query, model)
        return int(self._connection.execute(f"SELECT count(*) FROM images {where}", params).fetchone()[0])

    def page(self, offset: int, limit: int, query: str = "", model: str | None = None) -> list[HistoryEntry]:
        """Entries newest first, `limit` of them from `offset`, matching `query` and `model`."""
        where, params = _filter(query, model)
        rows = self._connection.execute(
            f"SELECT {_ENTRY_COLUMNS} FROM images {where} {_NEWEST_FIRST} LIMIT ? OFFSET ?",
            (*params, max(0, limit), max(0, offset)),
        )
        return [_entry(row) for row in rows]

    def get(self, entry_id: int) -> HistoryEntry | None:
        row = self._connection.execute(f"SELECT {_ENTRY_COLUMNS} FROM images WHERE id = ?", (entry_id,)).fetchone()
        return _entry(row) if row else None

    def thumbnail(self, entry_id: int) -> bytes | None:
        """JPEG (or PNG, with transparency) bytes, longest side at most 256 pixels."""
        row = self._connection.execute("SELECT data FROM thumbnails WHERE image_id = ?", (entry_id,)).fetchone()
        return bytes(row[0]) if row else None

    def models(self) -> list[str]:
        """The model names that have images, for the filter."""
        rows = self._connection.execute("SELECT DISTINCT model_name FROM images WHERE model_name != ''")
        return sorted((row[0] for row in rows), key=str.casefold)


def _connect(db_path: Path) -> sqlite3.Connection:
    db_path.parent.mkdir(parents=True, exist_ok=True)
    # Autocommit; History.batch opens transactions (BEGIN IMMEDIATE: writers queue, never deadlock).
    connection = sqlite3.connect(db_path, isolation_level=None, timeout=10.0)
    try:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = NORMAL")
        _prepare(connection)
    except BaseException:
        connection.close()
        raise
    return connection


def _is_damaged(db_path: Path) -> bool:
    """Whether an existing database fails `PRAGMA quick_check` or is not a database at all.

    Read-only, so that a damaged file and its -wal are kept as they are: a read-write connection
    would checkpoint into the damaged file, or delete the -wal, when it closes.
    """
    if not db_path.exists():
        return False
    connection = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True, timeout=10.0)
    try:
        return connection.execute("PRAGMA quick_check").fetchall() != [("ok",)]
    except sqlite3.DatabaseError as error:
        if (error.sqlite_errorcode & 0xFF) in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
            return True
        raise
    finally:
        connection.close()


def _prepare(connection: sqlite3.Connection) -> None:
    connection.execute("PRAGMA foreign_keys = ON")
    connection.executescript(_SCHEMA)
    row = connection.execute("SELECT max(version) FROM schema_version").fetchone()
    if row[0] is None:
        connection.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
    elif row[0] > SCHEMA_VERSION:
        raise sqlite3.OperationalError(f"it was written by a newer Easel (schema {row[0]})")


def _start_over(db_path: Path) -> History:
    try:
        kept = _move_aside(db_path)
        connection = _connect(db_path)
    except (sqlite3.Error, OSError) as error:
        return _in_memory(f"The image history is damaged and could not be replaced ({error}).")
    notice = f"The image history was damaged. It was kept as {kept.name} and a new one was started."
    return History(connection, db_path, notice)


def _move_aside(db_path: Path) -> Path:
    """Rename the database and its -wal/-shm to `NAME.corrupt-<timestamp>SUFFIX`; the new main file."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = db_path.with_name(f"{db_path.stem}.corrupt-{stamp}{db_path.suffix}")
    attempt = 1
    while target.exists():
        attempt += 1
        target = db_path.with_name(f"{db_path.stem}.corrupt-{stamp}-{attempt}{db_path.suffix}")
    for suffix in ("-wal", "-shm", ""):  # the main file last: if a move fails, the next start retries
        source = Path(f"{db_path}{suffix}")
        if source.exists():
            os.replace(source, f"{target}{suffix}")
    return target


def _in_memory(notice: str) -> History:
    connection = sqlite3.connect(":memory:", isolation_level=None)
    _prepare(connection)
    return History(connection, None, notice + " Images made in this session are not kept in the history.")


def _stored_path(path: Path) -> Path:
    return Path(path).resolve()


def _row_values(
    path: Path,
    image: Image.Image,
    infotext: str,
    request: dict,
    model_name: str,
    model_hash: str | None,
    created: float | None,
) -> dict[str, Any]:
    prompt = str(request.get("prompt", ""))
    return {
        "path": str(path),
        "prompt": prompt,
        "search_text": prompt.casefold(),
        "negative_prompt": str(request.get("negative_prompt", "")),
        "model_name": model_name,
        "model_hash": model_hash,
        "seed": int(request.get("seed", -1)),
        "width": image.width,
        "height": image.height,
        "infotext": infotext,
        "request": json.dumps(request, ensure_ascii=False, default=str),
        "created": time.time() if created is None else created,
    }


def _filter(query: str, model: str | None) -> tuple[str, tuple[Any, ...]]:
    """WHERE clause: every word of `query` in the prompt (literally, any case), and the model."""
    conditions = []
    params: list[Any] = []
    for word in query.casefold().split():
        conditions.append("instr(search_text, ?) > 0")  # instr, not LIKE: `%` and `_` stay literal
        params.append(word)
    if model is not None:
        conditions.append("model_name = ?")
        params.append(model)
    return ("WHERE " + " AND ".join(conditions) if conditions else ""), tuple(params)


def _entry(row: tuple[Any, ...]) -> HistoryEntry:
    entry_id, path, prompt, negative, model_name, model_hash, seed, width, height, infotext, request, created = row
    return HistoryEntry(
        entry_id, Path(path), prompt, negative, model_name, model_hash, seed, width, height, infotext,
        json.loads(request), created,
    )


def _png_files(folder: Path) -> Iterator[Path]:
    """PNG files under `folder`, leaving out hidden ones (temporary files, macOS `._` sidecars)."""
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() == ".png" and not path.name.startswith(".") and path.is_file():
            yield path


def _recorded_settings(chunks: dict[str, str]) -> tuple[str, dict, str, str | None] | None:
    """(infotext, request, model name, model hash) from Easel's or A1111's text chunks, or None."""
    infotext = chunks.get(INFOTEXT_KEY, "")
    request = json_object(chunks.get(REQUEST_KEY))
    if request is None:
        found = from_text_chunks(chunks)
        if found is None or found.source != "a1111":
            return None
        request = found.request_fields
    params = parse_infotext(infotext).params if infotext else {}
    model_name = params.get("Model") or Path(str(request.get("model", ""))).stem
    return infotext, request, model_name, params.get("Model hash")

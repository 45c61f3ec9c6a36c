"""The generation queue: requests waiting their turn, kept on disk so a restart loses none.

One thread owns a JobQueue (the UI thread); observers are called after every change.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from core.atomic_json import write_json_atomically
from core.request import GenerationRequest

FORMAT_VERSION = 1


@dataclass(frozen=True)
class QueuedJob:
    id: str
    request: GenerationRequest
    added: float  # unix seconds

    def to_json_dict(self) -> dict[str, Any]:
        return {"id": self.id, "request": self.request.to_json_dict(), "added": self.added}

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> "QueuedJob":
        return cls(str(data["id"]), GenerationRequest.from_json_dict(data["request"]), float(data["added"]))


class JobQueue:
    """Requests in the order they will run; every change is written to `path` before observers hear of it."""

    def __init__(self, path: Path) -> None:
        self._path = Path(path)
        self._jobs: list[QueuedJob] = _load(self._path)
        self._observers: list[Callable[[], None]] = []
        self.save_error: str | None = None  # why the last change could not be written; the queue still works

    def subscribe(self, callback: Callable[[], None]) -> None:
        self._observers.append(callback)

    def add(self, request: GenerationRequest) -> QueuedJob:
        job = QueuedJob(uuid.uuid4().hex, request, time.time())
        self._jobs.append(job)
        self._changed()
        return job

    def remove(self, job_id: str) -> None:
        """Remove a job; one already taken or removed is ignored (the UI may lag behind the worker)."""
        kept = [job for job in self._jobs if job.id != job_id]
        if len(kept) != len(self._jobs):
            self._jobs = kept
            self._changed()

    def move(self, job_id: str, index: int) -> None:
        """Put a job at `index` (clamped to the queue) among the others."""
        job = next((job for job in self._jobs if job.id == job_id), None)
        if job is None:
            return
        others = [other for other in self._jobs if other.id != job_id]
        others.insert(max(0, min(index, len(others))), job)
        if others != self._jobs:
            self._jobs = others
            self._changed()

    def take_next(self) -> QueuedJob | None:
        """Remove and return the first job, or None when the queue is empty."""
        if not self._jobs:
            return None
        job = self._jobs.pop(0)
        self._changed()
        return job

    def jobs(self) -> list[QueuedJob]:
        return list(self._jobs)

    def __len__(self) -> int:
        return len(self._jobs)

    def _changed(self) -> None:
        try:
            _save(self._path, self._jobs)
            self.save_error = None
        except OSError as error:
            self.save_error = f"The queue could not be saved to {self._path}: {error.strerror or error}"
        for callback in list(self._observers):
            callback()


def _load(path: Path) -> list[QueuedJob]:
    """The persisted jobs; a missing file is an empty queue, an unreadable one is kept aside, not lost."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [QueuedJob.from_json_dict(item) for item in data["jobs"]]
    except FileNotFoundError:
        return []
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        with contextlib.suppress(OSError):
            path.replace(path.with_name(f"{path.stem}.broken-{int(time.time())}{path.suffix}"))
        return []


def _save(path: Path, jobs: list[QueuedJob]) -> None:
    write_json_atomically(path, {"version": FORMAT_VERSION, "jobs": [job.to_json_dict() for job in jobs]})

"""Fetch one file from a Hugging Face Hub endpoint (or a mirror) into a partial file that survives.

huggingface_hub's own `hf_hub_download` (2.4, as installed) writes to a process-unique temporary file and deletes it
when a download fails or is cancelled, so a 7 GB model cut off at 90 % starts again from zero, and it
reads in 10 MiB chunks, which on a slow line means a still progress bar and a slow cancel. This module
uses the same pieces (`hf_hub_url`, `get_hf_file_metadata`, the hub's HTTP session and error types)
around a partial file that is kept and continued with `Range: bytes=N-`.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from core import __version__
from core.errors import EaselError

HEAD_TIMEOUT_SECONDS = 15.0
READ_TIMEOUT_SECONDS = 30.0
RETRY_WAITS = (1.0, 2.0, 4.0, 8.0, 8.0)  # consecutive failures without new bytes before giving up
REPORT_EVERY_SECONDS = 0.1
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class DownloadCancelled(EaselError):
    """The person stopped the download; the bytes so far stay on disk for the next try."""


@dataclass(frozen=True)
class RemoteFile:
    url: str  # where the bytes come from: the Hub's CDN after its redirect, or the mirror itself
    size: int | None
    sha256: str | None  # the LFS ETag, when the server sends one


@dataclass(frozen=True)
class FileRequest:
    repo_id: str
    filename: str
    revision: str
    endpoint: str
    size: int


def remote_file(request: FileRequest) -> RemoteFile:
    """Ask the endpoint where the file is and what it is (one HEAD request, no retries)."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    url = hf_hub_url(request.repo_id, request.filename, revision=request.revision, endpoint=request.endpoint)
    metadata = get_hf_file_metadata(url, token=False, timeout=HEAD_TIMEOUT_SECONDS, library_name="easel",
                                    library_version=__version__, endpoint=request.endpoint)
    etag = (metadata.etag or "").lower()
    # Like hf_hub_download: Xet-backed files are fetched through the resolve URL, others from the CDN location.
    location = url if metadata.xet_file_data is not None else metadata.location
    return RemoteFile(location, metadata.size, etag if _SHA256.match(etag) else None)


def fetch_missing_bytes(request: FileRequest, partial: Path, check: Callable[[RemoteFile], None],
                        on_progress: Callable[[int, int], None], cancel: Callable[[], bool]) -> None:
    """Grow `partial` to `request.size` bytes, continuing what is there; retries a dropped connection
    as long as bytes keep coming. A first connection that fails is reported at once."""
    report = ProgressReport(request.size, on_progress)
    grown_this_call = False
    failures = 0
    while (have := _size_of(partial, request.size)) < request.size:
        _raise_if_cancelled(cancel, have, request.size)
        failure = _attempt(request, partial, have, check, report, cancel)
        now = _size_of(partial, request.size)
        if now == request.size:
            break
        grown_this_call = grown_this_call or now > have
        failures = 0 if now > have else failures + 1
        if not grown_this_call or failures >= len(RETRY_WAITS):
            raise failure
        _wait(RETRY_WAITS[failures], cancel, partial, request.size)
    report(request.size, final=True)


def _attempt(request: FileRequest, partial: Path, have: int, check: Callable[[RemoteFile], None],
             report: "ProgressReport", cancel: Callable[[], bool]) -> Exception:
    """One HEAD and one GET; returns the reason when the file is still incomplete, raises when hopeless."""
    try:
        remote = remote_file(request)
        check(remote)
        _fetch_from(remote.url, partial, have, request.size, report, cancel)
    except Exception as error:
        if not _is_transient(error):
            raise
        return error
    return EaselError(f"{request.endpoint} stopped sending {request.filename}.", "Download again continues from there.")


class ProgressReport:
    """Calls on_progress(done, total) at most every REPORT_EVERY_SECONDS, and always for the last bytes."""

    def __init__(self, total: int, on_progress: Callable[[int, int], None]) -> None:
        self._total = total
        self._on_progress = on_progress
        self._last_time = 0.0
        self._last_done = -1

    def __call__(self, done: int, final: bool = False) -> None:
        now = time.monotonic()
        if done == self._last_done or (not final and now - self._last_time < REPORT_EVERY_SECONDS):
            return
        self._last_time, self._last_done = now, done
        self._on_progress(done, self._total)


def _fetch_from(url: str, partial: Path, have: int, size: int, report: ProgressReport,
                cancel: Callable[[], bool]) -> None:
    from huggingface_hub import get_session
    from huggingface_hub.utils import build_hf_headers, hf_raise_for_status

    headers = build_hf_headers(token=False, library_name="easel", library_version=__version__)
    headers["Accept-Encoding"] = "identity"  # byte ranges of the file itself, not of a compressed stream
    if have:
        headers["Range"] = f"bytes={have}-"
    with get_session().stream("GET", url, headers=headers, timeout=READ_TIMEOUT_SECONDS) as response:
        if response.status_code == 416:  # the server's file is shorter than what is already here
            partial.unlink(missing_ok=True)
            raise EaselError("The server's copy is shorter than the part already downloaded, which was removed.",
                             "Download again.", details=url)
        hf_raise_for_status(response)
        start = have if response.status_code == 206 else 0  # a 200 means the server ignored the Range
        _check_length(response.headers, start, size, url)
        report(start)
        _append(response, partial, start, size, report, cancel)


def _append(response, partial: Path, start: int, size: int, report: ProgressReport,  # type: ignore[no-untyped-def]
            cancel: Callable[[], bool]) -> None:
    done = start
    with open(partial, "ab" if start else "wb") as out:
        for chunk in response.iter_bytes():
            if done + len(chunk) > size:
                raise EaselError("The server sent more bytes than the file has.", "Download again.")
            out.write(chunk)
            done += len(chunk)
            report(done)
            _raise_if_cancelled(cancel, done, size)


def _check_length(headers, start: int, size: int, url: str) -> None:  # type: ignore[no-untyped-def]
    content_range = headers.get("Content-Range")
    length = headers.get("Content-Length")
    if content_range and "/" in content_range:
        total = content_range.rsplit("/", 1)[-1]
    elif length is not None:
        total = str(int(length) + start)
    else:
        return
    if total.isdigit() and int(total) != size:
        raise EaselError(f"The server offers a file of {int(total):,} bytes where {size:,} were expected.",
                         "The mirror may hold a different version; try another mirror or huggingface.co.",
                         details=url)


def _is_transient(error: BaseException) -> bool:
    # huggingface_hub 1.x uses httpx and 2.x httpx2; their exception classes share these names.
    names = {cls.__name__ for cls in type(error).__mro__}
    return bool(names & {"TimeoutException", "NetworkError", "RemoteProtocolError"})


def _size_of(partial: Path, size: int) -> int:
    try:
        have = partial.stat().st_size
    except FileNotFoundError:
        return 0
    if have > size:  # not a prefix of this file: start over
        partial.unlink()
        return 0
    return have


def _wait(seconds: float, cancel: Callable[[], bool], partial: Path, size: int) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        _raise_if_cancelled(cancel, _size_of(partial, size), size)
        time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))


def _raise_if_cancelled(cancel: Callable[[], bool], done: int, size: int) -> None:
    if cancel():
        raise DownloadCancelled(f"Download stopped at {done / 1e9:.2f} of {size / 1e9:.2f} GB.",
                                "Download again continues from there.")

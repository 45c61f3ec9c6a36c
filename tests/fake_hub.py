"""A Hugging Face Hub stand-in on 127.0.0.1: `/{repo_id}/resolve/{revision}/{filename}` for HEAD and GET.

It answers with the headers huggingface_hub reads (X-Repo-Commit, ETag, X-Linked-Etag, X-Linked-Size,
Content-Length, Accept-Ranges), honours `Range: bytes=N-`, can redirect downloads to another host the way
huggingface.co sends LFS files to its CDN, can cut a download after N bytes, and records every request.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator
from urllib.parse import unquote

COMMIT = "0123456789abcdef0123456789abcdef01234567"
SEND_PIECE = 16 * 1024
_RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<revision>[^/]+)/(?P<filename>.+)$")
_CDN = re.compile(r"^/cdn/(?P<sha>[0-9a-f]{64})$")
_RANGE = re.compile(r"^bytes=(?P<start>\d+)-$")


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str
    range: str | None


@dataclass(frozen=True)
class HostedFile:
    data: bytes
    advertised_sha256: str  # what the headers claim; differs from the data's hash to fake a corrupt mirror


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        pass  # a client that stops reading (a cancelled download) is expected here, not a failure


class FakeHub:
    """Start with `with FakeHub() as hub:`; `hub.endpoint` is its base URL."""

    def __init__(self) -> None:
        self.files: dict[tuple[str, str], HostedFile] = {}
        self.requests: list[SeenRequest] = []
        self.redirect_to: str | None = None  # another FakeHub's endpoint acting as the CDN
        self._cut_next_get_after: int | None = None
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def add_file(self, repo_id: str, filename: str, data: bytes, advertised_sha256: str | None = None) -> None:
        self.files[(repo_id, filename)] = HostedFile(data, advertised_sha256 or hashlib.sha256(data).hexdigest())

    def cut_next_get_after(self, byte_count: int) -> None:
        """The next GET sends the full Content-Length, then only `byte_count` bytes, then closes the connection."""
        with self._lock:
            self._cut_next_get_after = byte_count

    def gets(self) -> list[SeenRequest]:
        with self._lock:
            return [request for request in self.requests if request.method == "GET"]

    def record(self, request: SeenRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def take_cut(self) -> int | None:
        with self._lock:
            cut, self._cut_next_get_after = self._cut_next_get_after, None
            return cut

    def find(self, path: str) -> HostedFile | None:
        resolve = _RESOLVE.match(path)
        if resolve:
            return self.files.get((resolve["repo"], resolve["filename"]))
        cdn = _CDN.match(path)
        if cdn:
            return next((f for f in self.files.values() if f.advertised_sha256 == cdn["sha"]), None)
        return None

    def __enter__(self) -> "FakeHub":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _handler_for(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_HEAD(self) -> None:  # noqa: N802 (http.server's naming)
            self._answer(send_body=False)

        def do_GET(self) -> None:  # noqa: N802
            self._answer(send_body=True)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass  # keep test output quiet

        def _answer(self, send_body: bool) -> None:
            path = unquote(self.path.split("?")[0])
            hub.record(SeenRequest(self.command, path, self.headers.get("Range")))
            hosted = hub.find(path)
            if hosted is None:
                self._send_status(404)
            elif hub.redirect_to and _RESOLVE.match(path):
                self._redirect(hosted)
            else:
                self._send_file(hosted, send_body)

        def _send_status(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _redirect(self, hosted: HostedFile) -> None:
            self.send_response(302)
            self.send_header("Location", f"{hub.redirect_to}/cdn/{hosted.advertised_sha256}")
            self._hub_headers(hosted)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _hub_headers(self, hosted: HostedFile) -> None:
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("ETag", f'"{hashlib.sha1(hosted.data).hexdigest()}"')
            self.send_header("X-Linked-Etag", f'"{hosted.advertised_sha256}"')
            self.send_header("X-Linked-Size", str(len(hosted.data)))

        def _send_file(self, hosted: HostedFile, send_body: bool) -> None:
            start = _range_start(self.headers.get("Range"))
            if start is not None and start >= len(hosted.data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(hosted.data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = hosted.data[start or 0:]
            self.send_response(206 if start is not None else 200)
            if start is not None:
                self.send_header("Content-Range", f"bytes {start}-{len(hosted.data) - 1}/{len(hosted.data)}")
            self._hub_headers(hosted)
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if send_body:
                self._send_body(body)

        def _send_body(self, body: bytes) -> None:
            cut = hub.take_cut()
            if cut is not None:
                body = body[:cut]
                self.close_connection = True
            for piece in _pieces(body):
                self.wfile.write(piece)
                self.wfile.flush()

    return Handler


def _range_start(header: str | None) -> int | None:
    match = _RANGE.match(header or "")
    return int(match["start"]) if match else None


def _pieces(body: bytes) -> Iterator[bytes]:
    for offset in range(0, len(body), SEND_PIECE):
        yield body[offset:offset + SEND_PIECE]


def closed_port_endpoint() -> str:
    """An http://127.0.0.1 address on which nothing listens."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"

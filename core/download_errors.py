"""What went wrong with a download, said so a person can act on it."""

from __future__ import annotations

import errno
from pathlib import Path
from urllib.parse import urlparse

from core.errors import EaselError

MIRROR_HINT = "Check the connection, or set a mirror in Settings → Hub endpoint (for example https://hf-mirror.com)."
RESUME_NOTE = "What was downloaded is kept: Download again continues from there."
_DNS_MARKERS = ("name or service not known", "nodename nor servname", "getaddrinfo failed",
                "temporary failure in name resolution", "no address associated", "name resolution")
_DISK_FULL_WINERRORS = {39, 112}  # ERROR_HANDLE_DISK_FULL, ERROR_DISK_FULL


def describe_download_error(error: BaseException, endpoint: str, folder: Path, what: str) -> EaselError:
    """An EaselError for any failure of a download of `what` (repo/file) from `endpoint` into `folder`."""
    if isinstance(error, EaselError):
        return error
    described = _hub_error(error, endpoint, what) or _transport_error(error, endpoint) or _disk_error(error, folder)
    return described or EaselError(f"Downloading {what} failed.", RESUME_NOTE,
                                   details=f"{type(error).__name__}: {error}")


def _hub_error(error: BaseException, endpoint: str, what: str) -> EaselError | None:
    from huggingface_hub.errors import (FileMetadataError, GatedRepoError, HfHubHTTPError,
                                        OfflineModeIsEnabled)

    details = f"{type(error).__name__}: {error}"
    if isinstance(error, OfflineModeIsEnabled):
        return EaselError("Easel could not lift its offline mode for this download.", "Restart Easel and try again.",
                          details=details)
    if isinstance(error, GatedRepoError):
        return EaselError(f"{endpoint} only gives {what} to signed-in accounts.",
                          "Download it in a browser, then use Add a checkpoint file….", details=details)
    if isinstance(error, FileMetadataError):
        return EaselError(f"{endpoint} does not answer like the Hugging Face Hub.",
                          "Check the address in Settings → Hub endpoint, or leave it empty for huggingface.co.",
                          details=details)
    if not isinstance(error, HfHubHTTPError):
        return None
    status = error.response.status_code if error.response is not None else 0
    return _http_status_error(status, endpoint, what, details)


def _http_status_error(status: int, endpoint: str, what: str, details: str) -> EaselError:
    if status == 404:
        return EaselError(f"{endpoint} does not have {what}.",
                          "If Settings → Hub endpoint names a mirror, check its address, or leave it empty to use "
                          "huggingface.co.", details=details)
    if status in (401, 403):
        return EaselError(f"{endpoint} refused to send {what} (HTTP {status}).",
                          "A mirror may not carry this model; leave Settings → Hub endpoint empty to use "
                          "huggingface.co, or download the file in a browser.", details=details)
    if status == 429:
        return EaselError(f"{endpoint} asks to slow down (too many requests).",
                          f"Wait a few minutes, then Download again. {RESUME_NOTE}", details=details)
    return EaselError(f"{endpoint} answered with an error (HTTP {status}).",
                      f"Try again later, or set a mirror in Settings → Hub endpoint. {RESUME_NOTE}", details=details)


def _transport_error(error: BaseException, endpoint: str) -> EaselError | None:
    # huggingface_hub 1.x raises httpx errors and 2.x httpx2 errors, with the same class names.
    names = {cls.__name__ for cls in type(error).__mro__}
    text = str(error).lower()
    details = f"{type(error).__name__}: {error}"
    if "ProxyError" in names:
        return EaselError(f"The proxy refused the connection to {endpoint}.",
                          "Check the proxy settings (HTTPS_PROXY), or set a mirror in Settings → Hub endpoint.",
                          details=details)
    if names & {"UnsupportedProtocol", "InvalidURL", "LocalProtocolError"}:
        return EaselError(f"{endpoint} is not a web address Easel can use.",
                          "Enter an https:// address in Settings → Hub endpoint, or leave it empty.", details=details)
    if "ConnectError" in names and any(marker in text for marker in _DNS_MARKERS):
        host = urlparse(endpoint).hostname or endpoint
        return EaselError(f"Could not reach {endpoint}: the name {host} could not be looked up.", MIRROR_HINT,
                          details=details)
    if "ConnectError" in names and ("ssl" in text or "certificate" in text):
        return EaselError(f"Could not reach {endpoint}: the secure connection failed.",
                          "A firewall or proxy may be intercepting it. " + MIRROR_HINT, details=details)
    if "ConnectError" in names:
        return EaselError(f"Could not reach {endpoint}.", MIRROR_HINT, details=details)
    if "TimeoutException" in names:
        return EaselError(f"{endpoint} did not answer in time.", f"{MIRROR_HINT} {RESUME_NOTE}", details=details)
    if names & {"NetworkError", "RemoteProtocolError"}:
        return EaselError(f"The connection to {endpoint} dropped.", f"{MIRROR_HINT} {RESUME_NOTE}", details=details)
    return None


def _disk_error(error: BaseException, folder: Path) -> EaselError | None:
    if not isinstance(error, OSError):
        return None
    details = f"{type(error).__name__}: {error}"
    if error.errno == errno.ENOSPC or getattr(error, "winerror", None) in _DISK_FULL_WINERRORS:
        return EaselError(f"The disk holding {folder} is full.",
                          f"Free some space, then Download again. {RESUME_NOTE}", details=details)
    if isinstance(error, PermissionError) or error.errno == errno.EROFS:
        return EaselError(f"Easel cannot write into {folder}.",
                          "Choose a model folder you can write to in Settings.", details=details)
    return EaselError(f"Could not write the download into {folder}.", RESUME_NOTE, details=details)

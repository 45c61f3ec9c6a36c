"""Downloading the recommended model: progress, resume, checksum, cancel, and errors a person can act on."""

from __future__ import annotations

import errno
import hashlib
import importlib
import os
import random
from collections import namedtuple

import huggingface_hub
import huggingface_hub.constants as hub_constants
import pytest

from core.download_errors import describe_download_error
from core.downloads import DownloadCancelled, RecommendedModel, download_model, partial_path
from core.errors import EaselError, ModelFileError
from tests.fake_hub import FakeHub, closed_port_endpoint

REPO, FILENAME = "tester/tiny-model", "tiny.safetensors"
DATA = random.Random(4).randbytes(384 * 1024)


def tiny_model(data: bytes = DATA, filename: str = FILENAME) -> RecommendedModel:
    return RecommendedModel(repo_id=REPO, filename=filename, revision="main",
                            sha256=hashlib.sha256(data).hexdigest(), size=len(data), architecture="sd1",
                            title="Tiny", why="")


@pytest.fixture
def hub():
    with FakeHub() as server:
        server.add_file(REPO, FILENAME, DATA)
        yield server


def never() -> bool:
    return False


def assert_still_offline() -> None:
    assert hub_constants.HF_HUB_OFFLINE is True
    assert os.environ["HF_HUB_OFFLINE"] == "1"


def test_download_writes_the_file_and_reports_progress_up_to_the_total(hub, tmp_path):
    progress: list[tuple[int, int]] = []
    path = download_model(tiny_model(), tmp_path, hub.endpoint, lambda done, total: progress.append((done, total)),
                          never)
    assert path == tmp_path / FILENAME
    assert path.read_bytes() == DATA
    assert progress[-1] == (len(DATA), len(DATA))
    assert [done for done, _ in progress] == sorted(done for done, _ in progress)
    assert {total for _, total in progress} == {len(DATA)}
    assert sorted(p.name for p in tmp_path.iterdir()) == [FILENAME]  # no partial file left behind
    assert_still_offline()


def test_a_cut_connection_continues_with_a_range_request(hub, tmp_path):
    hub.cut_next_get_after(100_000)
    path = download_model(tiny_model(), tmp_path, hub.endpoint, lambda done, total: None, never)
    assert path.read_bytes() == DATA
    assert [get.range for get in hub.gets()] == [None, "bytes=100000-"]


def test_cancel_keeps_the_partial_file_and_the_next_download_continues_it(hub, tmp_path):
    model = tiny_model()
    checks = iter(range(1000))
    with pytest.raises(DownloadCancelled) as cancelled:
        download_model(model, tmp_path, hub.endpoint, lambda done, total: None, lambda: next(checks) >= 3)
    assert isinstance(cancelled.value, EaselError)
    assert not (tmp_path / FILENAME).exists()
    kept = partial_path(model, tmp_path).stat().st_size
    assert 0 < kept < len(DATA)
    assert_still_offline()

    path = download_model(model, tmp_path, hub.endpoint, lambda done, total: None, never)
    assert path.read_bytes() == DATA
    assert hub.gets()[-1].range == f"bytes={kept}-"
    assert not partial_path(model, tmp_path).exists()


def test_a_damaged_download_is_deleted_and_says_what_to_do(tmp_path):
    damaged = bytearray(DATA)
    damaged[1000] ^= 0xFF
    model = tiny_model()
    with FakeHub() as hub:
        hub.add_file(REPO, FILENAME, bytes(damaged), advertised_sha256=model.sha256)
        with pytest.raises(ModelFileError) as error:
            download_model(model, tmp_path, hub.endpoint, lambda done, total: None, never)
    assert "damaged" in error.value.message
    assert "Download again" in error.value.hint
    assert list(tmp_path.iterdir()) == []  # neither the final name nor the partial file


def test_a_mirror_with_another_version_is_refused_before_downloading_it(tmp_path):
    other = random.Random(5).randbytes(len(DATA))
    with FakeHub() as hub:
        hub.add_file(REPO, FILENAME, other)
        with pytest.raises(ModelFileError, match="different"):
            download_model(tiny_model(), tmp_path, hub.endpoint, lambda done, total: None, never)
        assert hub.gets() == []


def test_the_hubs_redirect_to_its_cdn_is_followed(tmp_path):
    with FakeHub() as hub, FakeHub() as cdn:
        hub.add_file(REPO, FILENAME, DATA)
        cdn.add_file(REPO, FILENAME, DATA)
        hub.redirect_to = cdn.endpoint
        cdn.cut_next_get_after(50_000)
        path = download_model(tiny_model(), tmp_path, hub.endpoint, lambda done, total: None, never)
        assert path.read_bytes() == DATA
        assert hub.gets() == []
        assert [get.range for get in cdn.gets()] == [None, "bytes=50000-"]


def test_an_unreachable_endpoint_is_named_in_the_error(tmp_path):
    endpoint = closed_port_endpoint()
    with pytest.raises(EaselError) as error:
        download_model(tiny_model(), tmp_path, endpoint, lambda done, total: None, never)
    assert f"Could not reach {endpoint}" in error.value.message
    assert "Settings → Hub endpoint" in error.value.hint
    assert_still_offline()


def test_a_file_the_endpoint_does_not_have_is_reported_as_missing(hub, tmp_path):
    with pytest.raises(EaselError) as error:
        download_model(tiny_model(filename="absent.safetensors"), tmp_path, hub.endpoint,
                       lambda done, total: None, never)
    assert f"{hub.endpoint} does not have {REPO}/absent.safetensors" in error.value.message
    assert "Hub endpoint" in error.value.hint


def test_too_little_disk_space_is_reported_before_downloading(hub, tmp_path, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr("shutil.disk_usage", lambda path: usage(10**9, 10**9 - 1000, 1000))
    with pytest.raises(EaselError, match="Not enough space"):
        download_model(tiny_model(), tmp_path, hub.endpoint, lambda done, total: None, never)
    assert hub.requests == []


def test_a_model_already_downloaded_is_checked_not_fetched_again(hub, tmp_path):
    (tmp_path / FILENAME).write_bytes(DATA)
    progress: list[tuple[int, int]] = []
    path = download_model(tiny_model(), tmp_path, hub.endpoint, lambda *p: progress.append(p), never)
    assert path.read_bytes() == DATA
    assert progress == [(len(DATA), len(DATA))]
    assert hub.requests == []


def test_a_different_file_under_the_same_name_is_never_overwritten(hub, tmp_path):
    (tmp_path / FILENAME).write_bytes(b"my own model")
    with pytest.raises(ModelFileError, match="different file"):
        download_model(tiny_model(), tmp_path, hub.endpoint, lambda done, total: None, never)
    assert (tmp_path / FILENAME).read_bytes() == b"my own model"


def test_a_full_disk_and_an_unknown_host_read_as_actionable_messages(tmp_path):
    full = describe_download_error(OSError(errno.ENOSPC, "No space left on device"), "https://hf-mirror.com",
                                   tmp_path, f"{REPO}/{FILENAME}")
    assert "full" in full.message and str(tmp_path) in full.message
    assert "Download again" in full.hint

    transport = importlib.import_module(type(huggingface_hub.get_session()).__module__.split(".")[0])
    dns = describe_download_error(transport.ConnectError("[Errno -2] Name or service not known"),
                                  "https://hf-mirror.com", tmp_path, f"{REPO}/{FILENAME}")
    assert "Could not reach https://hf-mirror.com" in dns.message and "hf-mirror.com" in dns.message
    assert "Settings → Hub endpoint" in dns.hint

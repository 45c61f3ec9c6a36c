"""Annotator weights whose SHA-256 Easel does not know are checked against the hub's LFS SHA-256."""

from __future__ import annotations

import hashlib
import random

import pytest

from core.annotator_weights import LINEART_COARSE, annotator_download, download_folder, find_annotator
from core.downloads import download_model
from core.errors import ModelFileError
from tests.fake_hub import FakeHub

DATA = random.Random(6).randbytes(96 * 1024)


def test_an_unknown_checksum_is_taken_from_the_hub_and_the_file_lands_where_it_is_found(tmp_path):
    spec = annotator_download(LINEART_COARSE)
    assert spec.sha256 is None and spec.size is None
    with FakeHub() as hub:
        hub.add_file(spec.repo_id, spec.filename, DATA)
        path = download_model(spec, download_folder(LINEART_COARSE, tmp_path), hub.endpoint,
                              lambda done, total: None, lambda: False)
    assert path.read_bytes() == DATA
    assert find_annotator(LINEART_COARSE, tmp_path) == path


def test_bytes_that_do_not_match_the_hubs_checksum_are_refused_and_deleted(tmp_path):
    spec = annotator_download(LINEART_COARSE)
    with FakeHub() as hub:
        hub.add_file(spec.repo_id, spec.filename, DATA, advertised_sha256=hashlib.sha256(b"other").hexdigest())
        with pytest.raises(ModelFileError, match="damaged"):
            download_model(spec, tmp_path, hub.endpoint, lambda done, total: None, lambda: False)
    assert not (tmp_path / spec.filename).exists()
    assert not any(tmp_path.glob("*.incomplete"))

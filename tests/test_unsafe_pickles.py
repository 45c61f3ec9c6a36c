"""A pickle that would run code is refused in every disguise, and its code never runs."""

from __future__ import annotations

import builtins
import pickle
from pathlib import Path

import pytest
import torch

from core.errors import UnsafeFileError
from core.models.safe_load import load_state_dict
from core.models.scan import ModelFolder, scan


class Payload:
    """Unpickling this writes `marker` — what a real attack would do with os.system instead."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return builtins.exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",)


def _raw_pickle(path: Path, marker: Path, protocol: int) -> None:
    path.write_bytes(pickle.dumps({"state_dict": {"w": Payload(marker)}}, protocol=protocol))


def _torch_zip(path: Path, marker: Path) -> None:
    torch.save({"state_dict": {"w": torch.zeros(2)}, "callback": Payload(marker)}, path)


def _torch_legacy(path: Path, marker: Path) -> None:
    torch.save({"state_dict": {"w": torch.zeros(2)}, "callback": Payload(marker)}, path,
               _use_new_zipfile_serialization=False)


DISGUISES = [
    ("model.ckpt", lambda p, m: _raw_pickle(p, m, 2)),
    ("model.pt", lambda p, m: _raw_pickle(p, m, 4)),
    ("model.pth", lambda p, m: _raw_pickle(p, m, 5)),
    ("model.bin", lambda p, m: _raw_pickle(p, m, 3)),
    ("model.safetensors", lambda p, m: _raw_pickle(p, m, 2)),
    ("model.SAFETENSORS", lambda p, m: _raw_pickle(p, m, 2)),
    ("model", lambda p, m: _raw_pickle(p, m, 2)),
    ("protocol0.ckpt", lambda p, m: _raw_pickle(p, m, 0)),
    ("protocol1.ckpt", lambda p, m: _raw_pickle(p, m, 1)),
    ("zipped.ckpt", _torch_zip),
    ("zipped.safetensors", _torch_zip),
    ("legacy_torch.pt", _torch_legacy),
]


def test_the_payload_really_runs_code_when_unpickled_carelessly(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    pickle.loads(pickle.dumps(Payload(marker), protocol=2))
    assert marker.read_text() == "pwned"


@pytest.mark.parametrize("name, write", DISGUISES, ids=[name for name, _ in DISGUISES])
def test_load_state_dict_refuses_the_pickle_without_running_it(tmp_path: Path, name: str, write) -> None:
    marker = tmp_path / "marker"
    path = tmp_path / "models" / name
    path.parent.mkdir()
    write(path, marker)

    with pytest.raises(UnsafeFileError) as caught:
        load_state_dict(path)

    assert "needs to run arbitrary code" in caught.value.message
    assert "Easel refuses to run it" in caught.value.message
    assert ".safetensors version" in caught.value.hint
    assert not marker.exists()


def test_scan_lists_every_disguise_as_unsafe_without_running_any(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    folder = tmp_path / "models"
    folder.mkdir()
    for name, write in DISGUISES:
        write(folder / name, marker)

    entries = scan([ModelFolder(folder, "checkpoint")])

    assert sorted(entry.path.name for entry in entries) == sorted(name for name, _ in DISGUISES)
    for entry in entries:
        assert entry.unsafe and not entry.supported, entry.path.name
        assert "refuses to run it" in entry.reason
    assert not marker.exists()

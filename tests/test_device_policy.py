"""Device and dtype policy, with the platform's answers faked (this machine has only a CPU)."""

import pytest
import torch

from core import device
from core.errors import RequestError

GIB = 1024**3


@pytest.fixture
def platform(monkeypatch):
    def fake(cuda=False, mps=False, memory=16 * GIB):  # type: ignore[no-untyped-def]
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
        monkeypatch.setattr(device, "total_memory_bytes", lambda: memory)
    return fake


def test_cuda_first_in_half_precision(platform):
    platform(cuda=True, mps=True)
    plan = device.plan_device()
    assert (plan.device.type, plan.dtype, plan.attention_slicing) == ("cuda", torch.float16, False)


def test_mps_on_a_16_gb_mac_slices_attention_but_not_on_a_64_gb_one(platform):
    platform(mps=True, memory=16 * GIB)
    assert device.plan_device().attention_slicing and device.plan_device().dtype == torch.float16
    platform(mps=True, memory=64 * GIB)
    assert not device.plan_device().attention_slicing


def test_cpu_runs_full_precision_and_overrides_are_checked(platform):
    platform(mps=True)
    assert device.plan_device("cpu").dtype == torch.float32
    with pytest.raises(RequestError, match="not available") as error:
        device.plan_device("cuda")
    assert "mps, cpu" in error.value.hint

"""Real SD1.5 shapes through the shipped config folder: run with `python3 dev.py test -m slow` (about 2 minutes)."""

from __future__ import annotations

import numpy as np
import pytest

from core.events import Failed
from core.request import GenerationRequest
from tests.models import Recorder, make_engine

pytestmark = pytest.mark.slow


def test_sd15_sized_checkpoint_loads_with_the_shipped_config_and_generates(tmp_path):
    from core.synthetic import write_sd15_checkpoint

    model = write_sd15_checkpoint(tmp_path / "sd15-random.safetensors")
    engine = make_engine(tmp_path / "home")
    events = Recorder()
    request = GenerationRequest(model=str(model.checkpoint), prompt="a test", steps=1, width=64, height=64, seed=3)
    [done] = engine.generate(request, events, output_dir=tmp_path)  # no model_config: resources/configs/sd1
    assert not events.of(Failed), events.of(Failed)
    assert engine.loaded_model.source.config_dir.name == "sd1"
    assert np.isfinite(np.asarray(done.image, dtype=np.float32)).all()

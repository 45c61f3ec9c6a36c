"""A1111's AND: sub-prompts denoised separately, their guidance added with their weights."""

from __future__ import annotations

import numpy as np
import pytest

from core.events import Failed
from tests.models import Recorder, make_engine, tiny_request


@pytest.fixture(scope="module")
def engine(tmp_path_factory):  # type: ignore[no-untyped-def]
    return make_engine(tmp_path_factory.mktemp("and-home"))


def image(engine, model, tmp_path, **changes) -> np.ndarray:  # type: ignore[no-untyped-def]
    events = Recorder()
    [done] = engine.generate(tiny_request(model, **changes), events, output_dir=tmp_path)
    assert not events.of(Failed), events.of(Failed)
    return np.asarray(done.image, dtype=np.int16)


@pytest.mark.parametrize("name", ["sd1", "sdxl"])
def test_a_prompt_and_itself_doubles_the_guidance(engine, tiny_models, tmp_path, name):
    """uncond + cfg * (1 * (c - u) + 1 * (c - u)) is the plain prompt at twice the CFG scale."""
    model = tiny_models[name]
    composed = image(engine, model, tmp_path, prompt="a red fox AND a red fox", cfg_scale=3.0)
    doubled = image(engine, model, tmp_path, prompt="a red fox", cfg_scale=6.0)
    single = image(engine, model, tmp_path, prompt="a red fox", cfg_scale=3.0)
    assert np.abs(composed - doubled).max() <= 2
    assert np.abs(composed - single).max() > 5


def test_a_zero_weight_sub_prompt_changes_nothing_and_a_weighted_one_does(engine, tiny_models, tmp_path):
    model = tiny_models["sd1"]
    plain = image(engine, model, tmp_path, prompt="a red fox")
    zero = image(engine, model, tmp_path, prompt="a red fox AND a blue car :0")
    mixed = image(engine, model, tmp_path, prompt="a red fox AND a blue car :0.8")
    car = image(engine, model, tmp_path, prompt="a blue car")
    assert np.abs(plain - zero).max() <= 2
    assert np.abs(mixed - plain).max() > 5 and np.abs(mixed - car).max() > 5

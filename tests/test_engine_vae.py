"""A VAE override from its own file: used, recorded in the infotext, and undone when not asked for."""

from __future__ import annotations

import os
import pickle

import numpy as np
from safetensors.torch import load_file, save_file

from core.events import Failed
from core.models.hashing import autov2
from tests.models import Recorder, make_engine, tiny_request
from tests.test_engine_faults import MARKER, Payload

PREFIX = "first_stage_model."


def write_vae_file(checkpoint, path):  # type: ignore[no-untyped-def]
    """A standalone VAE as A1111 users download them: ldm keys without the checkpoint prefix."""
    tensors = {k[len(PREFIX):]: v * (1.5 if "decoder.conv_out" in k else 1.0)
               for k, v in load_file(checkpoint).items() if k.startswith(PREFIX)}
    save_file(tensors, path)
    return path


def test_vae_override_changes_the_image_and_is_recorded_then_restored(tmp_path, tiny_models):
    model = tiny_models["sd1"]
    vae = write_vae_file(model.checkpoint, tmp_path / "brighter-vae.safetensors")
    engine = make_engine(tmp_path / "home")
    [plain] = engine.generate(tiny_request(model), Recorder(), output_dir=tmp_path)
    events = Recorder()
    [with_vae] = engine.generate(tiny_request(model, vae=str(vae)), events, output_dir=tmp_path)
    [restored] = engine.generate(tiny_request(model), Recorder(), output_dir=tmp_path)
    assert not events.of(Failed), events.of(Failed)
    pixels = [np.asarray(d.image, dtype=np.int16) for d in (plain, with_vae, restored)]
    assert np.abs(pixels[0] - pixels[1]).max() > 5
    assert np.array_equal(pixels[0], pixels[2])
    assert f"VAE hash: {autov2(vae)}, VAE: brighter-vae.safetensors" in with_vae.infotext
    assert "VAE" not in restored.infotext
    assert engine.load_count == 1


def test_a_checkpoint_or_a_pickle_in_the_vae_slot_is_refused(tmp_path, tiny_models):
    model = tiny_models["sd1"]
    evil = tmp_path / "vae.safetensors"
    evil.write_bytes(pickle.dumps({"state_dict": Payload()}))
    engine = make_engine(tmp_path / "home")
    for vae, expected in ((str(model.checkpoint), "not a vae"), (str(evil), "code")):
        events = Recorder()
        engine.generate(tiny_request(model, vae=vae), events, output_dir=tmp_path)
        [failed] = events.of(Failed)
        assert expected in (failed.message + failed.hint).lower()
    assert not os.path.exists(MARKER)

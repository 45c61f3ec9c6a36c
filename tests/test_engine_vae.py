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


def test_vae_choice_request_then_per_model_then_global_with_automatic_beside_the_checkpoint(tmp_path, tiny_models):
    import shutil

    from core.engine_options import EngineOptions
    from core.events import Started

    model = tiny_models["sd1"]
    checkpoint = str(shutil.copy(model.checkpoint, tmp_path / "dreamy.safetensors"))
    beside = write_vae_file(model.checkpoint, tmp_path / "dreamy.vae.safetensors")
    other = tmp_path / "other-vae.safetensors"
    save_file({k: v * (0.5 if "decoder.conv_out" in k else 1.0) for k, v in load_file(beside).items()}, other)
    engine = make_engine(tmp_path / "home")
    request = tiny_request(model, steps=1).replace(model=checkpoint)

    def run(options: EngineOptions, **changes):  # type: ignore[no-untyped-def]
        engine.configure(options, "cpu")
        events = Recorder()
        [done] = engine.generate(request.replace(**changes), events, output_dir=tmp_path / "out")
        return done, events.of(Started)[0].notices

    automatic, _ = run(EngineOptions())  # the default: Automatic
    own, _ = run(EngineOptions(model_vaes={"dreamy": str(other)}), vae="None")  # the request's None wins
    per_model, _ = run(EngineOptions(vae="None", model_vaes={"dreamy": str(other)}))
    from_request, _ = run(EngineOptions(vae="None", model_vaes={"dreamy": str(other)}), vae=str(beside))
    missing, notices = run(EngineOptions(vae="vae-that-is-gone"))
    assert f"VAE hash: {autov2(beside)}, VAE: dreamy.vae.safetensors" in automatic.infotext
    assert "VAE" not in own.infotext and "VAE" not in missing.infotext
    assert "VAE: other-vae.safetensors" in per_model.infotext
    assert "VAE: dreamy.vae.safetensors" in from_request.infotext
    assert "vae-that-is-gone" in notices[0] and "own VAE" in notices[0]
    image = {name: np.asarray(done.image, dtype=np.int16) for name, done in (
        ("automatic", automatic), ("own", own), ("per_model", per_model), ("request", from_request),
        ("missing", missing))}
    assert np.array_equal(image["automatic"], image["request"]) and np.array_equal(image["own"], image["missing"])
    assert np.abs(image["automatic"] - image["own"]).max() > 5 and np.abs(image["per_model"] - image["own"]).max() > 5
    assert engine.load_count == 1


def _small_vae():  # type: ignore[no-untyped-def]
    """A tiny AutoencoderKL (2x down) whose tiles are small enough to tile a 64-pixel image."""
    import torch
    from diffusers import AutoencoderKL

    torch.manual_seed(0)
    return AutoencoderKL(block_out_channels=(8, 8), down_block_types=("DownEncoderBlock2D",) * 2,
                         up_block_types=("UpDecoderBlock2D",) * 2, latent_channels=4, norm_num_groups=4,
                         layers_per_block=1, sample_size=32)


def test_tiled_decode_is_close_to_the_untiled_one():
    from types import SimpleNamespace

    import torch
    from diffusers.image_processor import VaeImageProcessor

    from core.pipelines.decode import decode_latents

    vae = _small_vae()
    vae.tile_latent_min_size, vae.tile_sample_min_size = 16, 32  # a 32x32 latent is 3x3 overlapping tiles
    pipe = SimpleNamespace(vae=vae, image_processor=VaeImageProcessor(vae_scale_factor=2))
    # A repeating pattern: every tile sees what the whole image holds (the VAE's attention and group norms
    # then agree), so what differs is the tiling itself.
    pattern = torch.randn(1, 4, 4, 4, generator=torch.Generator().manual_seed(3))
    latents = pattern.repeat(1, 1, 8, 8)
    [whole], _ = decode_latents(pipe, latents)
    [tiled], _ = decode_latents(pipe, latents, tiled=True)
    [unrelated], _ = decode_latents(pipe, torch.randn(1, 4, 4, 4).repeat(1, 1, 8, 8))
    whole_px, tiled_px = np.asarray(whole, dtype=np.int16), np.asarray(tiled, dtype=np.int16)
    assert whole.size == tiled.size == (64, 64) and not vae.use_tiling  # tiling is switched off again
    difference = np.abs(whole_px - tiled_px).mean()
    assert 0 < difference < 6  # tiles were used, and they blend into nearly the same picture
    assert difference < np.abs(whole_px - np.asarray(unrelated, dtype=np.int16)).mean() / 5


def test_auto_tiling_follows_the_memory_share_and_the_setting_wins():
    from core.pipelines.decode import tiling_wanted

    gib = 1024**3
    assert not tiling_wanted("auto", 1 * gib, 16 * gib) and tiling_wanted("auto", 5 * gib, 16 * gib)
    assert tiling_wanted("on", 1, 16 * gib) and not tiling_wanted("off", 15 * gib, 16 * gib)


def test_force_upcast_is_honoured_for_sdxl_and_the_fp16_fix_vae_stays_in_half(tmp_path, tiny_models):
    import torch

    from core.device import plan_device
    from core.pipelines.decode import needs_upcast
    from core.pipelines.loader import load_vae

    model = tiny_models["sdxl"]
    plan = plan_device("cpu", "fp32", "off")
    stock = load_vae(write_vae_file(model.checkpoint, tmp_path / "sdxl_vae.safetensors"), model.config_dir, plan)
    fixed = load_vae(write_vae_file(model.checkpoint, tmp_path / "sdxl-vae-fp16-fix.safetensors"),
                     model.config_dir, plan)
    stock.to(torch.float16)
    fixed.to(torch.float16)
    assert needs_upcast(stock, "sdxl") and not needs_upcast(fixed, "sdxl")
    assert not needs_upcast(stock, "sd1")  # SD1/SD2 configs carry diffusers' default, not a need
    assert not needs_upcast(stock.to(torch.float32), "sdxl")


def test_a_vae_that_overflows_in_half_precision_is_decoded_again_in_float32():
    from types import SimpleNamespace

    import torch
    from diffusers.image_processor import VaeImageProcessor

    from core.pipelines.decode import decode_latents

    vae = _small_vae()
    with torch.no_grad():
        vae.decoder.conv_in.weight.mul_(1e5)  # activations beyond float16's 65504: inf, then NaN
    reference = SimpleNamespace(vae=vae, image_processor=VaeImageProcessor(vae_scale_factor=2))
    latents = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    [expected], _ = decode_latents(reference, latents)
    vae.to(torch.float16)
    [retried], notice = decode_latents(reference, latents)
    assert notice is not None and "decoded again in float32" in notice
    assert vae.dtype == torch.float16  # put back after the retry
    [upcast], no_notice = decode_latents(reference, latents, upcast=True)  # force_upcast: float32 at once
    assert no_notice is None
    for image in (retried, upcast):
        assert np.abs(np.asarray(image, dtype=np.int16) - np.asarray(expected, dtype=np.int16)).max() <= 2

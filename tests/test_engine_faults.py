"""What goes wrong during generation is reported clearly, nothing made is lost, the engine stays usable."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from core.events import Cancelled, Failed, Finished, ImageDone, Notice, Progress
from tests.models import Recorder, make_engine, tiny_request


@pytest.fixture
def engine(tmp_path):
    return make_engine(tmp_path / "home")


def loaded_pipe(engine, model, tmp_path):  # type: ignore[no-untyped-def]
    engine.generate(tiny_request(model, steps=1), Recorder(), output_dir=tmp_path)
    return engine.loaded_model.base


def test_cancel_stops_within_one_step_and_the_engine_stays_ready(engine, tiny_models, tmp_path):
    events = Recorder()
    steps_seen = []

    def cancel() -> bool:
        steps_seen.append(len(events.of(Progress)))
        return len(events.of(Progress)) >= 2

    engine.generate(tiny_request(tiny_models["sd1"], steps=10), events, cancel, output_dir=tmp_path)
    assert [p.step for p in events.of(Progress)] == [1, 2]
    assert events.of(Cancelled) and not events.of(ImageDone) and not events.of(Finished)
    again = Recorder()
    engine.generate(tiny_request(tiny_models["sd1"]), again, output_dir=tmp_path)
    assert again.of(Finished) and engine.load_count == 1


def test_out_of_memory_is_reported_with_what_to_lower_and_engine_recovers(engine, tiny_models, tmp_path):
    pipe = loaded_pipe(engine, tiny_models["sd1"], tmp_path)

    def exhaust(*_args):  # type: ignore[no-untyped-def]
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    handle = pipe.unet.register_forward_pre_hook(exhaust)
    events = Recorder()
    engine.generate(tiny_request(tiny_models["sd1"]), events, output_dir=tmp_path)
    handle.remove()
    [failed] = events.of(Failed)
    assert failed.message == "Out of memory while generating."
    assert "Lower the width, height or batch size" in failed.hint
    after = Recorder()
    engine.generate(tiny_request(tiny_models["sd1"]), after, output_dir=tmp_path)
    assert after.of(ImageDone) and not after.of(Failed)


def _nan_hook(times: list[int], limit: int):  # type: ignore[no-untyped-def]
    def hook(_module, _inputs, output):  # type: ignore[no-untyped-def]
        times.append(1)
        return output * float("nan") if len(times) <= limit else output
    return hook


def test_nan_decode_is_retried_in_float32(engine, tiny_models, tmp_path):
    pipe = loaded_pipe(engine, tiny_models["sd1"], tmp_path)
    calls: list[int] = []
    handle = pipe.vae.post_quant_conv.register_forward_hook(_nan_hook(calls, limit=1))
    events = Recorder()
    done = engine.generate(tiny_request(tiny_models["sd1"]), events, output_dir=tmp_path)
    handle.remove()
    assert len(calls) == 2 and not events.of(Failed)
    assert "float32" in events.of(Notice)[0].text
    assert np.asarray(done[0].image).std() > 0


def test_nan_that_persists_is_reported_not_saved_as_black(engine, tiny_models, tmp_path):
    pipe = loaded_pipe(engine, tiny_models["sd1"], tmp_path)
    handle = pipe.vae.post_quant_conv.register_forward_hook(_nan_hook([], limit=99))
    events = Recorder()
    engine.generate(tiny_request(tiny_models["sd1"]), events, output_dir=tmp_path / "nan")
    handle.remove()
    [failed] = events.of(Failed)
    assert "NaN" in failed.message and "VAE" in failed.hint
    assert not (tmp_path / "nan").exists() or not any((tmp_path / "nan").iterdir())


def test_unwritable_output_keeps_the_image_in_memory(engine, tiny_models, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the output folder should be")
    events = Recorder()
    [done] = engine.generate(tiny_request(tiny_models["sd1"]), events, output_dir=blocker / "images")
    assert done.path is None and "Could not save the image" in done.save_error
    assert done.image.size == (64, 64) and "Seed: 1234" in done.infotext


MARKER = "/tmp/easel-engine-pwned"


class Payload:
    """Unpickling this runs a shell command; Easel must never let it."""

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {MARKER}",))


@pytest.mark.parametrize("name", ["evil.safetensors", "evil.SAFETENSORS", "evil.ckpt", "evil"])
def test_a_pickle_in_the_model_slot_is_refused_and_never_runs(engine, tmp_path, name):
    path = tmp_path / name
    path.write_bytes(pickle.dumps({"state_dict": Payload()}))
    events = Recorder()
    engine.generate(tiny_request_for_path(path), events, output_dir=tmp_path)
    [failed] = events.of(Failed)
    assert "code" in (failed.message + failed.hint).lower()
    assert not os.path.exists(MARKER)


def tiny_request_for_path(path):  # type: ignore[no-untyped-def]
    from core.request import GenerationRequest

    return GenerationRequest(model=str(path), prompt="x", steps=1, width=64, height=64)


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"", "empty"),
        (b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>", "web page"),
        (b"\x00\x01garbage" * 100, "not a model"),
        ((10**12).to_bytes(8, "little") + b"{}", "header"),
    ],
)
def test_broken_files_in_the_model_slot_get_a_specific_message(engine, tmp_path, content, expected):
    path = tmp_path / "model.safetensors"
    path.write_bytes(content)
    events = Recorder()
    engine.generate(tiny_request_for_path(path), events, output_dir=tmp_path)
    [failed] = events.of(Failed)
    assert expected in (failed.message + " " + failed.hint).lower()


def test_truncated_checkpoint_says_download_again(engine, tiny_models, tmp_path):
    data = tiny_models["sd1"].checkpoint.read_bytes()
    path = tmp_path / "half.safetensors"
    path.write_bytes(data[: len(data) // 2])
    events = Recorder()
    engine.generate(tiny_request_for_path(path), events, output_dir=tmp_path)
    [failed] = events.of(Failed)
    assert "truncated" in failed.message and "again" in (failed.message + failed.hint)


def test_missing_model_and_wrong_kind_and_unsupported_architecture(engine, tmp_path):
    lora = tmp_path / "detail.safetensors"
    save_file({"lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight": torch.zeros(4, 320),
               "lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight": torch.zeros(320, 4)}, lora)
    flux = tmp_path / "flux-dev.safetensors"
    save_file({"double_blocks.0.img_attn.qkv.weight": torch.zeros(2, 2),
               "single_blocks.0.linear1.weight": torch.zeros(2, 2)}, flux)
    messages = []
    for model in (str(tmp_path / "nope.safetensors"), "no-such-model-name", str(lora), str(flux)):
        events = Recorder()
        engine.generate(tiny_request_for_path(model), events, output_dir=tmp_path)
        [failed] = events.of(Failed)
        messages.append(failed.message)
    assert "does not exist" in messages[0]
    assert "no-such-model-name" in messages[1]
    assert "lora" in messages[2].lower() and "not a checkpoint" in messages[2]
    assert "Flux" in messages[3] and "not support" in messages[3]


def test_unknown_sampler_lists_valid_names(engine, tiny_models, tmp_path):
    events = Recorder()
    engine.generate(tiny_request(tiny_models["sd1"], sampler="Euler z"), events, output_dir=tmp_path)
    [failed] = events.of(Failed)
    assert "Euler z" in failed.message and "DPM++ 2M" in failed.hint

"""The engine end to end on tiny random models loaded through the single-file path."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.events import Failed, Finished, ImageDone, ModelLoading, ModelReady, Progress, Started
from core.images import read_png_text
from core.models.hashing import autov2
from core.request import Mode
from tests.models import Recorder, tiny_request


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def test_txt2img_writes_a_png_with_a1111_infotext(shared_engine, tiny_models, tmp_path):
    model = tiny_models["sd1"]
    events = Recorder()
    done = shared_engine.generate(tiny_request(model), events, output_dir=tmp_path)

    assert [type(e) for e in events.events if not isinstance(e, (Progress, ModelLoading, ModelReady))] == [
        Started, ImageDone, Finished]
    assert [p.step for p in events.of(Progress)] == [1, 2, 3]
    previews = [p.preview for p in events.of(Progress)]
    assert previews[0] is None and previews[1].size == (8, 8) and previews[2] is not None  # every 2nd step + last
    [image] = done
    assert image.path == tmp_path / "00000-1234.png"
    assert Image.open(image.path).size == (64, 64)
    text = read_png_text(image.path)["parameters"]
    assert text.startswith("a red fox in the snow\nNegative prompt: blurry\n")
    assert "Steps: 3, Sampler: Euler" in text and "Seed: 1234" in text and "Size: 64x64" in text
    assert f"Model hash: {autov2(model.checkpoint)}" in text and "Model: tiny-sd1" in text


def test_same_seed_gives_the_same_image_and_another_seed_does_not(shared_engine, tiny_models, tmp_path):
    request = tiny_request(tiny_models["sd1"])
    first = shared_engine.generate(request, Recorder(), output_dir=tmp_path)[0].image
    again = shared_engine.generate(request, Recorder(), output_dir=tmp_path)[0].image
    other = shared_engine.generate(request.replace(seed=99), Recorder(), output_dir=tmp_path)[0].image
    assert np.array_equal(pixels(first), pixels(again))
    assert np.abs(pixels(first) - pixels(other)).max() > 10


def test_batches_use_consecutive_seeds_and_number_files(shared_engine, tiny_models, tmp_path):
    events = Recorder()
    done = shared_engine.generate(
        tiny_request(tiny_models["sd1"], seed=7, batch_size=2, batch_count=2), events, output_dir=tmp_path)
    assert [d.seed for d in done] == [7, 8, 9, 10]
    assert [d.path.name for d in done] == ["00000-7.png", "00001-8.png", "00002-9.png", "00003-10.png"]
    single = shared_engine.generate(tiny_request(tiny_models["sd1"], seed=9), Recorder(), output_dir=tmp_path)[0]
    # A seed means the same image inside a batch too (batched matmuls may round differently).
    assert np.abs(pixels(single.image) - pixels(done[2].image)).max() <= 2


def test_random_seed_is_reported_and_reproduces(shared_engine, tiny_models, tmp_path):
    events = Recorder()
    [first] = shared_engine.generate(tiny_request(tiny_models["sd1"], seed=-1), events, output_dir=tmp_path)
    assert events.of(Started)[0].seeds == (first.seed,) and first.seed >= 0
    [again] = shared_engine.generate(tiny_request(tiny_models["sd1"], seed=first.seed), Recorder(), output_dir=tmp_path)
    assert np.array_equal(pixels(first.image), pixels(again.image))


def test_model_is_loaded_once_across_requests_and_modes(shared_engine, tiny_models, tmp_path):
    request = tiny_request(tiny_models["sd1"])
    shared_engine.generate(request, Recorder(), output_dir=tmp_path)
    loads = shared_engine.load_count
    init = tmp_path / "init.png"
    Image.new("RGB", (64, 64), (200, 30, 30)).save(init)
    events = Recorder()
    [img2img] = shared_engine.generate(
        request.replace(mode=Mode.IMG2IMG, init_image=init, denoising_strength=0.5), events, output_dir=tmp_path)
    shared_engine.generate(request.replace(prompt="another prompt"), events, output_dir=tmp_path)
    assert shared_engine.load_count == loads
    assert not events.of(ModelLoading)
    assert [p.total for p in events.of(Progress)][:1] == [1]  # strength 0.5 of 3 steps runs 1 step
    assert "Denoising strength: 0.5" in img2img.infotext


def test_sizes_not_multiple_of_8_are_rounded_and_said(shared_engine, tiny_models, tmp_path):
    events = Recorder()
    [done] = shared_engine.generate(tiny_request(tiny_models["sd1"], width=70, height=60), events, output_dir=tmp_path)
    assert done.image.size == (72, 64)
    assert any("rounded to 72x64" in n for n in events.of(Started)[0].notices)


def test_a_size_that_cannot_fit_in_memory_is_refused_with_an_estimate(shared_engine, tiny_models, tmp_path):
    events = Recorder()
    shared_engine.generate(tiny_request(tiny_models["sd1"], width=16384, height=16384, batch_size=4), events,
                           output_dir=tmp_path)
    [failed] = events.of(Failed)
    assert "needs about" in failed.message and "GB" in failed.message
    assert "Lower the width" in failed.hint
    assert not events.of(ImageDone)


def test_clip_skip_changes_the_conditioning_and_is_recorded(shared_engine, tiny_models, tmp_path):
    request = tiny_request(tiny_models["sd1"])
    [normal] = shared_engine.generate(request, Recorder(), output_dir=tmp_path)
    [skipped] = shared_engine.generate(request.replace(clip_skip=2), Recorder(), output_dir=tmp_path)
    assert np.abs(pixels(normal.image) - pixels(skipped.image)).max() > 5
    assert "Clip skip: 2" in skipped.infotext and "Clip skip" not in normal.infotext


@pytest.mark.parametrize("name", ["sdxl", "sd1-inpaint", "sd2", "sdxl-inpaint"])
def test_sdxl_and_inpaint_checkpoints_generate(tmp_path, tiny_models, name):
    from tests.models import make_engine

    engine = make_engine(tmp_path / "home")
    events = Recorder()
    done = engine.generate(tiny_request(tiny_models[name]), events, output_dir=tmp_path)
    assert not events.of(Failed), events.of(Failed)
    assert done[0].image.size == (64, 64)
    assert np.asarray(done[0].image).std() > 0


def test_no_mode_prints_a_progress_bar_of_its_own(shared_engine, tiny_models, tmp_path, capfd):
    """Progress is Easel's events; a pipeline's own tqdm bar would garble the CLI's and flood logs."""
    init = tmp_path / "init.png"
    Image.new("RGB", (64, 64), (120, 80, 40)).save(init)
    mask = tmp_path / "mask.png"
    Image.new("L", (64, 64), 255).save(mask)
    model = tiny_models["sd1"]
    for changes in ({}, {"mode": Mode.IMG2IMG, "init_image": init},
                    {"mode": Mode.INPAINT, "init_image": init, "mask": mask}):
        recorder = Recorder()
        shared_engine.generate(tiny_request(model, **changes), recorder, output_dir=tmp_path)
        assert recorder.of(Finished), recorder.events
    assert "it/s" not in capfd.readouterr().err

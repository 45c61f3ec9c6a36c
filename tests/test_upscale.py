"""Upscaler models through spandrel, tiling without seams, exact output sizes, cancel, and batch jobs."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from core.errors import GenerationCancelled, ModelFileError, UnsafeFileError
from core.events import Cancelled, Failed, Finished, ImageDone, Notice, UpscaleProgress
from core.images import read_infotext, read_png_text, save_png_atomically
from core.infotext import parse_infotext
from core.models.scan import ModelFolder, scan
from core.synthetic.lora import write_tiny_lora
from core.upscale import (LANCZOS, NEAREST, find_upscaler, load_upscaler, upscale_image, upscaler_dtype)
from core.upscale_job import UpscaleRequest, run_upscale
from core.upscale_tiles import tile_starts
from tests.test_unsafe_pickles import _torch_zip


def noisy_image(width: int, height: int, seed: int = 0) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def gradient(width: int, height: int) -> Image.Image:
    x = np.linspace(0, 1, width)[None, :]
    y = np.linspace(0, 1, height)[:, None]
    channels = [200 * x + 30 * y, 60 + 150 * y + 0 * x, 40 + 100 * x + 80 * y]
    return Image.fromarray(np.stack(channels, -1).round().astype(np.uint8))


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.float32)


@pytest.fixture(scope="module")
def esrgan(tiny_upscalers):
    return load_upscaler(tiny_upscalers["esrgan"])


@pytest.fixture(scope="module")
def compact(tiny_upscalers):
    return load_upscaler(tiny_upscalers["compact"])


# ---------------------------------------------------------------- loading


def test_pth_and_safetensors_load_through_spandrel_alike(tiny_upscalers, esrgan) -> None:
    from_pickle = load_upscaler(tiny_upscalers["esrgan-pth"])
    assert (esrgan.scale, esrgan.architecture, esrgan.name) == (4, "ESRGAN", "tiny-esrgan-4x")
    assert (from_pickle.scale, from_pickle.architecture) == (4, "ESRGAN")
    image = noisy_image(12, 10)
    assert np.array_equal(pixels(upscale_image(image, esrgan, 4)), pixels(upscale_image(image, from_pickle, 4)))


@pytest.mark.parametrize("key, architecture, scale", [("compact", "RealESRGAN Compact", 2), ("swinir", "SwinIR", 2)])
def test_other_architectures_load(tiny_upscalers, key: str, architecture: str, scale: int) -> None:
    upscaler = load_upscaler(tiny_upscalers[key])
    assert (upscaler.architecture, upscaler.scale) == (architecture, scale)
    assert upscale_image(noisy_image(20, 18), upscaler, scale).size == (40, 36)


def test_scan_lists_the_tiny_upscalers_as_upscalers(tiny_upscalers) -> None:
    entries = scan([ModelFolder(tiny_upscalers["folder"], "upscaler")])
    found = {entry.path.name: (entry.kind, entry.architecture, entry.supported) for entry in entries}
    assert found == {
        "tiny-esrgan-4x.safetensors": ("upscaler", "ESRGAN", True),
        "tiny-esrgan-4x-pickle.pth": ("upscaler", "ESRGAN", True),
        "tiny-compact-2x.safetensors": ("upscaler", "RealESRGAN Compact", True),
        "tiny-swinir-2x.safetensors": ("upscaler", "SwinIR", True),
    }


def test_a_pickle_that_runs_code_is_refused_and_never_run(tmp_path: Path) -> None:
    marker, path = tmp_path / "marker", tmp_path / "4x-evil.pth"
    _torch_zip(path, marker)
    with pytest.raises(UnsafeFileError, match="refuses to run it"):
        load_upscaler(path)
    assert not marker.exists()


def test_a_file_that_is_no_upscaler_gets_a_clear_message(tmp_path: Path) -> None:
    lora = write_tiny_lora(tmp_path / "detail.safetensors", "sd1")
    with pytest.raises(ModelFileError) as caught:
        load_upscaler(lora)
    assert caught.value.message == f"{lora.name} is not an upscaler model Easel can read."
    assert "ESRGAN" in caught.value.hint and "Lanczos" in caught.value.hint
    text = tmp_path / "notes.pth"
    text.write_text("not a model")
    with pytest.raises(ModelFileError, match="notes.pth"):
        load_upscaler(text)


def test_half_precision_only_where_the_architecture_supports_it(esrgan, tiny_upscalers) -> None:
    swinir = load_upscaler(tiny_upscalers["swinir"]).model
    cuda, mps, cpu = torch.device("cuda"), torch.device("mps"), torch.device("cpu")
    assert upscaler_dtype(esrgan.model, cuda, torch.float16) == torch.float16
    assert upscaler_dtype(esrgan.model, mps, torch.float16) == torch.float16
    assert upscaler_dtype(swinir, mps, torch.float16) == torch.float32  # spandrel: SwinIR has no fp16
    assert upscaler_dtype(esrgan.model, cpu, torch.float16) == torch.float32
    assert load_upscaler(tiny_upscalers["esrgan"], "cpu", torch.float16).model.dtype == torch.float32


def test_find_upscaler_by_name_a1111_title_and_unknown(tiny_upscalers, tmp_path: Path) -> None:
    shutil.copy(tiny_upscalers["esrgan"], tmp_path / "RealESRGAN_x4plus.safetensors")
    entries = scan([ModelFolder(tiny_upscalers["folder"], "upscaler"), ModelFolder(tmp_path, "upscaler")])
    assert find_upscaler(entries, "tiny-compact-2x").path == tiny_upscalers["compact"]
    assert find_upscaler(entries, "R-ESRGAN 4x+").path.name == "RealESRGAN_x4plus.safetensors"
    with pytest.raises(ModelFileError) as caught:
        find_upscaler(entries, "4x-UltraSharp")
    assert "No upscaler named '4x-UltraSharp'" in caught.value.message
    assert "tiny-compact-2x" in caught.value.hint and "Lanczos" in caught.value.hint
    lora = write_tiny_lora(tmp_path / "other" / "detail.safetensors", "sd1")
    with pytest.raises(ModelFileError, match="detail.safetensors is a lora, not an upscaler"):
        find_upscaler(entries, str(lora))


# ---------------------------------------------------------------- sizes, tiles, seams


@pytest.mark.parametrize("scale", [4, 2.5, 0.5])
def test_any_factor_gives_the_exact_size(esrgan, scale: float) -> None:
    assert upscale_image(noisy_image(15, 11), esrgan, scale, tile=12).size == (round(15 * scale), round(11 * scale))


def test_factors_beyond_three_passes_give_the_exact_size(compact) -> None:
    assert upscale_image(noisy_image(13, 9), compact, 5.3).size == (69, 48)  # 2x thrice, then down


def test_factors_beyond_native_run_the_model_again(compact) -> None:
    calls: list[tuple[int, int]] = []
    result = upscale_image(noisy_image(64, 48), compact, 4, tile=32, overlap=8, on_tile=lambda *c: calls.append(c))
    assert result.size == (256, 192)
    # 3 x 2 tiles at 64x48, then 5 x 4 tiles at 128x96 for the second 2x pass
    assert calls == [(done, 26) for done in range(1, 27)]


def test_one_tile_when_the_image_fits(compact) -> None:
    calls: list[tuple[int, int]] = []
    upscale_image(noisy_image(30, 20), compact, 2, tile=32, on_tile=lambda *c: calls.append(c))
    assert calls == [(1, 1)]


@pytest.mark.parametrize("key", ["esrgan", "compact", "swinir"])
def test_tiled_equals_untiled(tiny_upscalers, key: str) -> None:
    upscaler = load_upscaler(tiny_upscalers[key])
    image = Image.blend(noisy_image(48, 40, seed=3), gradient(48, 40), 0.5)
    whole = pixels(upscale_image(image, upscaler, upscaler.scale, tile=0))
    tiled = pixels(upscale_image(image, upscaler, upscaler.scale, tile=28, overlap=16))
    difference = np.abs(whole - tiled)
    assert difference.max() <= 2.0  # of 255: rounding, where the tiny model's receptive field reaches a tile edge
    assert difference.mean() < 0.05


def _largest_step_across_tile_edges(upscaler, overlap: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """The largest neighbour difference across a tile edge (columns and rows) and the median elsewhere."""
    size, tile, scale = 48, 24, upscaler.scale
    out = pixels(upscale_image(gradient(size, size), upscaler, scale, tile=tile, overlap=overlap))
    starts = tile_starts(size, tile, overlap)
    edges = sorted({s * scale - 1 for s in starts[1:]} | {(s + tile) * scale - 1 for s in starts[:-1]})
    steps = [np.abs(np.diff(out, axis=axis)).max(axis=(2, 1 - axis) if axis else (1, 2)) for axis in (1, 0)]
    at_edges = max(float(step[edges].max()) for step in steps)
    inner = [c for c in range(4 * scale, size * scale - 4 * scale - 1) if c not in edges]
    typical = max(float(np.median(step[inner])) for step in steps)
    return at_edges, typical


def test_tiled_gradient_has_no_visible_seams(esrgan) -> None:
    at_edges, typical = _largest_step_across_tile_edges(esrgan, overlap=12)
    assert at_edges <= max(2.0, 2 * typical)
    # The measure does see seams: without overlap, tile edges show.
    seam, _ = _largest_step_across_tile_edges(esrgan, overlap=0)
    assert seam > 10 * max(2.0, 2 * typical)


class SmallMemory:
    """The real model, on a device whose memory only holds tiles up to `limit` pixels a side."""

    def __init__(self, model, limit: int) -> None:  # type: ignore[no-untyped-def]
        self.model, self.limit, self.sides = model, limit, []

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.model, name)

    def __call__(self, tile: torch.Tensor) -> torch.Tensor:
        self.sides.append(max(tile.shape[-2:]))
        if max(tile.shape[-2:]) > self.limit:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return self.model(tile)


def test_out_of_memory_halves_the_tile_until_it_fits(compact) -> None:
    small = SmallMemory(compact.model, limit=70)
    image = noisy_image(150, 100)
    result = upscale_image(image, replace(compact, model=small), 2, tile=256)
    assert small.sides[:2] == [150, 128] and max(small.sides[2:]) == 64  # 256 (whole), 128, then 64 fits
    assert np.abs(pixels(result) - pixels(upscale_image(image, compact, 2, tile=64))).max() == 0


def test_cancel_between_tiles(compact) -> None:
    calls: list[tuple[int, int]] = []
    with pytest.raises(GenerationCancelled):
        upscale_image(noisy_image(64, 48), compact, 2, tile=32, overlap=8, on_tile=lambda *c: calls.append(c),
                      cancel=lambda: len(calls) >= 3)
    assert calls == [(1, 6), (2, 6), (3, 6)]


# ---------------------------------------------------------------- without a model


def test_lanczos_and_nearest_without_a_model() -> None:
    image = noisy_image(10, 8)
    assert np.array_equal(pixels(upscale_image(image, None, 3)), pixels(image.resize((30, 24), Image.LANCZOS)))
    nearest = upscale_image(image, None, 2, resample_name=NEAREST)
    assert np.array_equal(pixels(nearest), pixels(image.resize((20, 16), Image.NEAREST)))
    assert upscale_image(image, None, 1.55, resample_name=LANCZOS).size == (16, 12)


def test_transparency_is_kept(esrgan) -> None:
    image = noisy_image(16, 12).convert("RGBA")
    image.putalpha(Image.new("L", (16, 12), 128))
    for upscaler in (None, esrgan):
        result = upscale_image(image, upscaler, 2)
        assert result.mode == "RGBA" and result.size == (32, 24)
        assert set(result.getchannel("A").getdata()) == {128}


# ---------------------------------------------------------------- batch job


def _source(folder: Path, name: str, seed: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    text = f"a red fox\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: {seed}, Size: 24x16"
    return save_png_atomically(noisy_image(24, 16, seed), folder / name, text, {"prompt": "a red fox"})


def _run(request: UpscaleRequest, entries, out: Path, cancel=lambda: False):  # type: ignore[no-untyped-def]
    events: list[object] = []
    written = run_upscale(request, entries, out, events.append, cancel)
    return written, events


def test_batch_of_a_folder_keeps_metadata_and_skips_a_bad_file(tiny_upscalers, tmp_path: Path) -> None:
    _source(tmp_path / "in", "00001-11.png", 11)
    _source(tmp_path / "in", "00002-12.png", 12)
    (tmp_path / "in" / "broken.png").write_bytes(b"\x89PNG not really")
    entries = scan([ModelFolder(tiny_upscalers["folder"], "upscaler")])
    request = UpscaleRequest((tmp_path / "in",), "tiny-compact-2x", scale=3, tile=16)
    written, events = _run(request, entries, tmp_path / "out")
    assert [path.name for path in written] == ["00001-11.png", "00002-12.png"]
    notices = [event.text for event in events if isinstance(event, Notice)]
    assert notices == ["Skipped broken.png: Cannot read the image broken.png. "
                       "Check that the file exists and is a PNG, JPEG or WebP image."]
    done = [event for event in events if isinstance(event, ImageDone)]
    assert [(event.seed, event.path) for event in done] == [(11, written[0]), (12, written[1])]
    progress = [event for event in events if isinstance(event, UpscaleProgress)]
    # 2x Compact twice for 3x: 2 tiles of 16 at 24x16, then 5 x 3 at 48x32; broken.png sorts last
    assert progress[0] == UpscaleProgress(0, 3, 1, 17) and progress[-1] == UpscaleProgress(1, 3, 17, 17)
    assert isinstance(events[-1], Finished) and events[-1].paths == tuple(written)
    chunks = read_png_text(written[0])
    assert Image.open(written[0]).size == (72, 48)
    assert chunks["easel"] == '{"prompt": "a red fox"}'
    assert chunks["postprocessing"] == "Postprocess upscale by: 3, Postprocess upscaler: tiny-compact-2x"
    parsed = parse_infotext(chunks["parameters"])
    assert (parsed.prompt, parsed.negative_prompt) == ("a red fox", "blurry")
    assert parsed.params["Seed"] == "11" and parsed.params["Size"] == "24x16"
    assert parsed.params["Postprocess upscale by"] == "3"
    assert parsed.params["Postprocess upscaler"] == "tiny-compact-2x"


def test_never_overwrites_and_replaces_earlier_postprocess_fields(tmp_path: Path) -> None:
    source = _source(tmp_path / "in", "fox.png", 5)
    first, _ = _run(UpscaleRequest((source,), LANCZOS, scale=2), [], tmp_path / "out")
    again, _ = _run(UpscaleRequest((first[0],), "Nearest", scale=1.5), [], tmp_path / "out")
    assert [path.name for path in first + again] == ["fox.png", "fox-2.png"]
    assert Image.open(again[0]).size == (72, 48)
    text = read_infotext(again[0])
    assert text.count("Postprocess upscale by") == 1
    assert text.endswith("Size: 24x16, Postprocess upscale by: 1.5, Postprocess upscaler: Nearest")


def test_cancel_mid_image_writes_nothing_partial(tiny_upscalers, tmp_path: Path) -> None:
    sources = [_source(tmp_path / "in", f"{n}.png", n) for n in (1, 2, 3)]
    entries = scan([ModelFolder(tiny_upscalers["folder"], "upscaler")])
    ticks: list[int] = []

    def cancel() -> bool:
        ticks.append(1)
        return len(ticks) > 5  # one check before each image and each of its 2 tiles: stop inside the second

    written, events = _run(UpscaleRequest(tuple(sources), "tiny-compact-2x", tile=16), entries, tmp_path / "out",
                           cancel)
    assert [path.name for path in written] == ["1.png"]
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["1.png"]  # no temp files either
    assert events[-1] == Cancelled(images_kept=1)
    assert UpscaleProgress(1, 3, 1, 2) in events


def test_unknown_model_fails_with_a_message(tmp_path: Path) -> None:
    source = _source(tmp_path / "in", "fox.png", 5)
    written, events = _run(UpscaleRequest((source,), "4x-Missing"), [], tmp_path / "out")
    assert written == [] and isinstance(events[-1], Failed)
    assert events[-1].message == "No upscaler named '4x-Missing' was found in your model folders."
    assert not (tmp_path / "out").exists()

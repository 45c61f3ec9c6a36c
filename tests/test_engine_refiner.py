"""An SDXL refiner single file (one OpenCLIP encoder, img2img only) through the engine, as a user would pick one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.events import Failed, ImageDone, ModelLoading
from core.request import Mode
from core.synthetic import SyntheticModel, write_tiny_checkpoint
from tests.models import Recorder, make_engine, tiny_request


@pytest.fixture(scope="module")
def refiner(tmp_path_factory: pytest.TempPathFactory) -> SyntheticModel:
    return write_tiny_checkpoint(tmp_path_factory.mktemp("refiner"), "sdxl-refiner", seed=6)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return make_engine(tmp_path_factory.mktemp("refiner-home"))


def _init_image(folder: Path) -> Path:
    path = folder / "init.png"
    gradient = np.linspace(0, 255, 64, dtype=np.uint8)
    Image.fromarray(np.stack([np.tile(gradient, (64, 1))] * 3, axis=-1)).save(path)
    return path


def test_txt2img_with_a_refiner_fails_with_a_clear_message(engine, refiner: SyntheticModel, tmp_path: Path) -> None:
    events = Recorder()

    done = engine.generate(tiny_request(refiner), events, output_dir=tmp_path)

    [failed] = events.of(Failed)
    assert "cannot generate from a prompt alone" in failed.message
    assert "img2img" in failed.hint
    assert not done and not events.of(ImageDone)
    assert not list(tmp_path.glob("*.png"))
    assert not events.of(ModelLoading)  # refused before spending time on loading


def test_img2img_with_a_refiner_makes_an_image_with_its_infotext(
    engine, refiner: SyntheticModel, tmp_path: Path
) -> None:
    request = tiny_request(refiner, mode=Mode.IMG2IMG, init_image=_init_image(tmp_path), denoising_strength=0.5)
    events = Recorder()

    [done] = engine.generate(request, events, output_dir=tmp_path)

    assert not events.of(Failed), events.of(Failed)
    assert done.image.size == (64, 64)
    assert np.asarray(done.image).std() > 0
    assert "Denoising strength: 0.5" in done.infotext
    assert "Model: tiny-sdxl-refiner" in done.infotext
    assert done.path is not None and done.path.is_file()

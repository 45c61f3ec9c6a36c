"""`easel upscale` as a person runs it: names or paths, progress, metadata kept, exit codes."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from core.cli import main
from core.images import read_png_text, save_png_atomically
from core.infotext import parse_infotext
from desktop.launcher import main as launcher_main

SOURCE_TEXT = "a lighthouse\nNegative prompt: lowres\nSteps: 20, Sampler: DPM++ 2M, CFG scale: 7, Seed: {seed}, Size: 20x14"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def sources(folder: Path, count: int = 2) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    return [save_png_atomically(Image.fromarray(rng.integers(0, 256, (14, 20, 3), dtype=np.uint8)),
                                folder / f"0000{n}-{100 + n}.png", SOURCE_TEXT.format(seed=100 + n), None)
            for n in range(count)]


def test_upscale_two_images_with_a_model_by_name(tiny_upscalers, tmp_path: Path) -> None:
    images = sources(tmp_path / "in")
    code, out, err = run("upscale", *map(str, images), "--model", "tiny-esrgan-4x", "--scale", "2",
                         "--tile", "16", "--models-dir", str(tiny_upscalers["folder"]), "--out", str(tmp_path / "out"))
    assert code == 0, err
    written = [Path(line) for line in out.split()]
    assert [path.name for path in written] == ["00000-100.png", "00001-101.png"]
    assert "Loading model tiny-esrgan-4x" in err
    assert "image 1/2, tile 1/2" in err and "image 2/2, tile 2/2" in err  # 20x14 in 16-pixel tiles: 2
    for number, path in enumerate(written):
        assert Image.open(path).size == (40, 28)
        text = read_png_text(path)["parameters"]
        assert text.startswith(SOURCE_TEXT.format(seed=100 + number) + ", ")
        params = parse_infotext(text).params
        assert (params["Postprocess upscale by"], params["Postprocess upscaler"]) == ("2", "tiny-esrgan-4x")


def test_upscale_with_a_model_path_at_its_native_factor_quietly(tiny_upscalers, tmp_path: Path) -> None:
    [image] = sources(tmp_path / "in", 1)
    code, out, err = run("upscale", str(image), "--model", str(tiny_upscalers["compact"]), "--quiet",
                         "--out", str(tmp_path / "out"))
    assert code == 0, err
    assert err == ""
    assert Image.open(out.strip()).size == (40, 28)
    assert read_png_text(Path(out.strip()))["postprocessing"] == \
        "Postprocess upscale by: 2, Postprocess upscaler: tiny-compact-2x"


def test_lanczos_needs_no_model_and_writes_to_the_extras_folder(tmp_path: Path, easel_home: Path) -> None:
    [image] = sources(tmp_path / "in", 1)
    code, out, err = run("upscale", str(tmp_path / "in"), "--model", "Lanczos", "--scale", "1.5")
    assert code == 0, err
    path = Path(out.strip())
    assert path.parent.parent == easel_home / "outputs" / "extras-images"
    assert Image.open(path).size == (30, 21)
    assert path.read_bytes() != image.read_bytes()


def test_unknown_model_and_bad_image_fail_with_messages(tiny_upscalers, tmp_path: Path) -> None:
    [image] = sources(tmp_path / "in", 1)
    code, out, err = run("upscale", str(image), "--model", "4x-UltraSharp",
                         "--models-dir", str(tiny_upscalers["folder"]), "--out", str(tmp_path / "out"))
    assert (code, out) == (1, "")
    assert "error: No upscaler named '4x-UltraSharp' was found in your model folders." in err
    assert "tiny-esrgan-4x" in err and "Lanczos" in err
    missing = tmp_path / "in" / "missing.png"
    code, out, err = run("upscale", str(missing), str(image), "--model", "Nearest", "--out", str(tmp_path / "out"))
    assert code == 1
    assert "Skipped missing.png: Cannot read the image missing.png." in err
    assert Path(out.strip()).name == "00000-100.png"


def test_the_easel_command_knows_upscale(tmp_path: Path) -> None:
    [image] = sources(tmp_path / "in", 1)
    assert launcher_main(["upscale", str(image), "--model", "Nearest", "--scale", "2", "--quiet",
                          "--out", str(tmp_path / "out")]) == 0
    assert Image.open(tmp_path / "out" / image.name).size == (40, 28)

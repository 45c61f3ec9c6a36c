"""Build the Linux bundle with PyInstaller and run it: `--self-test`, the CLI, and the window (offscreen).

Slow (a PyInstaller build of torch, diffusers and Qt: 10-30 minutes on 2 cores, several GB in a
temporary folder), so skipped by `python3 dev.py test`; run it with

    python3 dev.py test -m slow tests/test_bundle_slow.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="builds the Linux bundle (CI builds the others)"),
]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bundle")
    build = subprocess.run(
        [sys.executable, str(ROOT / "packaging" / "build.py"), "--python", sys.executable,
         "--dist", str(folder / "dist"), "--work", str(folder / "work")],
        capture_output=True, text=True, timeout=3 * 3600,
    )
    assert build.returncode == 0, build.stdout[-5000:] + build.stderr[-5000:]
    print(build.stdout.splitlines()[-1])  # "<bundle>: N GiB"
    return folder / "dist" / "easel"


def _bundle_env(tmp_path: Path) -> dict[str, str]:
    """No way back to the source tree or this virtual environment: the bundle must carry everything."""
    env = {key: value for key, value in os.environ.items()
           if key not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}}
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {**env, "QT_QPA_PLATFORM": "offscreen", "EASEL_HOME": str(home), "TMPDIR": str(tmp_path)}


def test_the_bundle_passes_its_self_test_offscreen(bundle: Path, tmp_path: Path) -> None:
    result = subprocess.run([str(bundle / "easel"), "--self-test"], capture_output=True, text=True,
                            timeout=900, cwd=tmp_path, env=_bundle_env(tmp_path))
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    checks = [line for line in result.stdout.splitlines() if line.startswith(("ok ", "FAIL"))]
    assert len(checks) == 7 and all(line.startswith("ok ") for line in checks)
    assert "(bundled)" in result.stdout
    # The tokenizer and configs came from inside the bundle, not from the checkout.
    assert f"resources: configs and CLIP tokenizer in {bundle}" in result.stdout
    assert "all checks passed" in result.stdout


def test_the_bundle_carries_resources_and_qt_plugins_and_leaves_test_tools_out(bundle: Path) -> None:
    internal = bundle / "_internal"
    for resource in ("resources/configs/sd1/model_index.json", "resources/tokenizers/clip/vocab.json",
                     "resources/poses", "resources/icons/easel.png"):
        assert (internal / resource).exists(), resource
    plugins = internal / "PySide6" / "Qt" / "plugins"
    for plugin in ("platforms/libqoffscreen.so", "platforms/libqxcb.so", "imageformats/libqjpeg.so",
                   "imageformats/libqwebp.so"):
        assert (plugins / plugin).is_file(), plugin
    assert list((internal / "torchvision").glob("_C*.so")), "torchvision's operators (transformers needs nms)"
    for left_out in ("open_clip", "tkinter", "triton", "pytest", "tests", "transformers/models/llama"):
        assert not (internal / left_out).exists(), left_out
    assert (internal / "transformers" / "models" / "clip").is_dir()


def test_the_bundled_cli_answers(bundle: Path, tmp_path: Path) -> None:
    result = subprocess.run([str(bundle / "easel"), "models", "--json"], capture_output=True, text=True,
                            timeout=300, cwd=tmp_path, env=_bundle_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_bundled_app_opens_its_window_offscreen_and_keeps_running(bundle: Path, tmp_path: Path) -> None:
    process = subprocess.Popen([str(bundle / "easel")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               cwd=tmp_path, env=_bundle_env(tmp_path))
    try:
        time.sleep(30)  # the window opens, then the worker imports torch and lists the models
        assert process.poll() is None, process.communicate()[1][-5000:]
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=60)
    assert "Could not load the Qt platform plugin" not in stderr
    assert "Traceback" not in stderr, stderr[-5000:]

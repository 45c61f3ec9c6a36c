"""`easel --self-test`: a tiny model built, loaded, run and its image's metadata read back; one line per check."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
from pathlib import Path

from core.platform_checks import PlatformInfo
from core.self_test import CHECKS, CheckFailed, check_platform, run_self_test

ROOT = Path(__file__).resolve().parent.parent
LINUX = PlatformInfo("Linux", None, False, None, None)
ROSETTA = PlatformInfo("Darwin", (14, 4), True, False, False)


def test_easel_self_test_passes_every_check_without_importing_qt(tmp_path: Path) -> None:
    script = textwrap.dedent("""
        import sys
        from desktop.launcher import main
        code = main(["--self-test", "--device", "cpu"])
        print("qt imported:", any(name.startswith("PySide6") for name in sys.modules))
        # What else loads transformers model families by name: LoRA loading (peft) and the depth preprocessor.
        import diffusers.loaders.peft, peft  # noqa: F401
        try:
            from core.annotators.depth import depth_anything_v2_small
        except ImportError:
            pass
        else:
            depth_anything_v2_small()
        print("families:", " ".join(sorted({name.split(".")[2] for name in sys.modules
                                            if name.startswith("transformers.models.") and name.count(".") >= 2})))
        sys.exit(code)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                            cwd=ROOT, env=_env(tmp_path))
    lines = result.stdout.splitlines()
    assert result.returncode == 0, result.stdout + result.stderr
    checks = [line for line in lines if line.startswith(("ok ", "FAIL"))]
    assert [line.split()[1].rstrip(":") for line in checks] == \
        ["platform", "resources", "device", "tiny", "load", "generate", "metadata"]
    assert all(line.startswith("ok ") for line in checks)
    assert "device: cpu (float32)" in result.stdout
    assert "one 64x64 image" in result.stdout
    assert lines[-3].startswith("all checks passed")
    assert lines[-2] == "qt imported: False"
    # The bundle collects only these transformers model families (packaging/bundle_config.py).
    families = set(lines[-1].removeprefix("families: ").split())
    assert "clip" in families
    assert families <= set(_bundle_config().TRANSFORMERS_MODELS), families - set(_bundle_config().TRANSFORMERS_MODELS)
    # Nothing is left behind, and nothing is written to the user's Easel folder.
    assert not any((tmp_path / "home").iterdir())


def _bundle_config():  # type: ignore[no-untyped-def]
    import importlib.util

    spec = importlib.util.spec_from_file_location("bundle_config", ROOT / "packaging" / "bundle_config.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _env(tmp_path: Path) -> dict[str, str]:
    import os

    (tmp_path / "home").mkdir()
    return {**os.environ, "EASEL_HOME": str(tmp_path / "home"), "TMPDIR": str(tmp_path), "PYTHONPATH": str(ROOT)}


def test_a_failing_check_fails_the_run_and_the_rest_are_reported_not_run() -> None:
    def broken(state) -> str:  # type: ignore[no-untyped-def]
        raise CheckFailed("load: the file is damaged")

    def crashing(state) -> str:  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    def never(state) -> str:  # type: ignore[no-untyped-def]
        raise AssertionError("ran after a failure")

    out = io.StringIO()
    code = run_self_test(out, platform_info=LINUX, checks=(("platform", check_platform), ("load", broken),
                                                           ("generate", never)))
    lines = out.getvalue().splitlines()
    assert code == 1
    assert lines[0].startswith("ok   platform: Linux") or lines[0].startswith("ok   platform:")
    assert lines[1:3] == ["FAIL load: the file is damaged", "FAIL generate: not run (an earlier check failed)"]
    assert lines[3].startswith("1 check(s) failed")

    out = io.StringIO()
    assert run_self_test(out, platform_info=LINUX, checks=(("crash", crashing),)) == 1
    assert out.getvalue().splitlines()[0] == "FAIL crash: RuntimeError: boom"


def test_under_rosetta_the_notice_is_printed_and_the_platform_check_fails() -> None:
    out = io.StringIO()
    code = run_self_test(out, platform_info=ROSETTA, checks=CHECKS[:1])
    lines = out.getvalue().splitlines()
    assert code == 1
    assert lines[0].startswith("note Easel is running under Rosetta")
    assert "arm64" in lines[0]
    assert lines[1].startswith("FAIL ") and "translated by Rosetta" in lines[1]

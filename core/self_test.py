"""`easel --self-test`: prove that this install (a bundle included) can make an image, with no network.

It builds a tiny random model in a temporary folder, loads it through the single-file path a civitai
checkpoint takes (the tokenizer from the shipped resources), generates one 64x64 image on the best
device, writes it with metadata and reads the metadata back. One line per check; exit 0 only if all
passed. Nothing is written outside the temporary folder.
"""

from __future__ import annotations

import math
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, TextIO

from core.platform_checks import PlatformInfo, platform_notices, read_platform, torch_mps_status

SEED = 20240601
PROMPT = "self-test: a lighthouse at dusk"
SIZE = 64


class CheckFailed(Exception):
    """A check's own verdict, with the line to print."""


@dataclass
class SelfTestState:
    """What the checks hand on to each other."""

    folder: Path
    device: str | None
    platform_info: PlatformInfo | None = None
    plan_label: str = ""
    model: object = None  # core.synthetic.SyntheticModel
    events: list = field(default_factory=list)  # core.events from the one generation
    image_path: Path | None = None


Check = tuple[str, Callable[[SelfTestState], str]]


def check_platform(state: SelfTestState) -> str:
    info = state.platform_info or read_platform(mps_status=torch_mps_status)
    state.platform_info = info
    described = f"{platform.system()} {platform.release()} {platform.machine()}, Python {platform.python_version()}"
    if info.translated:
        raise CheckFailed(f"{described}: translated by Rosetta, see the note above")
    frozen = " (bundled)" if getattr(sys, "frozen", False) else ""
    return f"platform: {described}{frozen}"


def check_resources(state: SelfTestState) -> str:
    from core.paths import resources_dir
    from core.tokenizer import load_clip_tokenizer

    root = resources_dir()
    wanted = ["configs/sd1/model_index.json", "configs/sdxl/model_index.json", "tokenizers/clip/vocab.json",
              "poses"]
    missing = [name for name in wanted if not (root / name).exists()]
    if missing:
        raise CheckFailed(f"resources: {', '.join(missing)} missing from {root}")
    ids = load_clip_tokenizer()("a red fox").input_ids
    if ids[0] != 49406 or ids[-1] != 49407 or len(ids) != 5:
        raise CheckFailed(f"resources: the shipped CLIP tokenizer gave unexpected ids {ids}")
    return f"resources: configs and CLIP tokenizer in {root}"


def check_device(state: SelfTestState) -> str:
    from core.device import plan_device

    plan = plan_device(state.device)
    state.plan_label = plan.label
    return f"device: {plan.label}"


def check_tiny_model(state: SelfTestState) -> str:
    from core.models.detect import detect_model
    from core.synthetic import write_tiny_checkpoint

    model = write_tiny_checkpoint(state.folder / "models", "sd1", seed=7)
    info = detect_model(model.checkpoint)
    if (info.kind, info.architecture) != ("checkpoint", "sd1"):
        raise CheckFailed(f"tiny model: detected as {info.kind} {info.architecture}, not an sd1 checkpoint")
    state.model = model
    size_kib = model.checkpoint.stat().st_size / 1024
    return f"tiny model: {model.checkpoint.name} ({size_kib:.0f} KiB, single-file sd1 layout)"


def check_load(state: SelfTestState) -> str:
    from core.engine import Engine
    from core.events import Failed, ModelReady
    from core.model_resolution import ModelResolver
    from core.paths import AppPaths
    from core.request import GenerationRequest
    from core.settings import Settings

    paths = AppPaths(state.folder / "home").ensure()
    engine = Engine(ModelResolver.from_settings(paths, Settings()), paths.outputs_dir, device=state.device)
    request = GenerationRequest(
        model=str(state.model.checkpoint), model_config=state.model.config_dir, prompt=PROMPT,
        negative_prompt="blurry", steps=2, width=SIZE, height=SIZE, seed=SEED, sampler="Euler",
    )
    engine.generate(request, state.events.append)
    failed = [event for event in state.events if isinstance(event, Failed)]
    ready = [event for event in state.events if isinstance(event, ModelReady)]
    if not ready:
        raise CheckFailed(f"load: {_failure(failed)}")
    return f"load: {ready[0].name}.safetensors through the single-file loader in {ready[0].seconds:.1f} s"


def check_generate(state: SelfTestState) -> str:
    from core.events import Failed, Finished, ImageDone

    done = [event for event in state.events if isinstance(event, ImageDone)]
    if not done:
        raise CheckFailed(f"generate: {_failure([e for e in state.events if isinstance(e, Failed)])}")
    image = done[0].image
    if image.size != (SIZE, SIZE):
        raise CheckFailed(f"generate: the image is {image.size[0]}x{image.size[1]}, not {SIZE}x{SIZE}")
    extrema = image.convert("RGB").getextrema()
    if all(low == high for low, high in extrema):
        raise CheckFailed(f"generate: the image is one flat colour {extrema} (NaN or a broken decode)")
    if done[0].path is None:
        raise CheckFailed(f"generate: the image was not saved: {done[0].save_error}")
    state.image_path = done[0].path
    seconds = next((e.seconds for e in state.events if isinstance(e, Finished)), math.nan)
    return f"generate: one {SIZE}x{SIZE} image in 2 steps on {state.plan_label}, {seconds:.1f} s in all"


def check_metadata(state: SelfTestState) -> str:
    from core.images import read_infotext, read_request_json
    from core.infotext import parse

    assert state.image_path is not None
    infotext = read_infotext(state.image_path)
    request_json = read_request_json(state.image_path)
    if not infotext or request_json is None:
        raise CheckFailed(f"metadata: {state.image_path.name} has no parameters/easel text chunk")
    parsed = parse(infotext)
    expected = (PROMPT, SEED, 2, SIZE, SIZE)
    got = (parsed.prompt, parsed.seed, parsed.steps, parsed.width, parsed.height)
    if got != expected or request_json.get("prompt") != PROMPT or request_json.get("seed") != SEED:
        raise CheckFailed(f"metadata: read back (prompt, seed, steps, width, height) {got}, expected {expected}")
    return f"metadata: {state.image_path.name} written and read back (prompt, seed, steps, size)"


CHECKS: tuple[Check, ...] = (
    ("platform", check_platform),
    ("resources", check_resources),
    ("device", check_device),
    ("tiny model", check_tiny_model),
    ("load", check_load),
    ("generate", check_generate),
    ("metadata", check_metadata),
)


def _failure(failed: list) -> str:
    if not failed:
        return "no image and no error reported"
    return f"{failed[0].message} {failed[0].hint}".strip()


def run_self_test(out: TextIO, device: str | None = None, platform_info: PlatformInfo | None = None,
                  checks: tuple[Check, ...] = CHECKS) -> int:
    """Run every check, printing "ok  ..." or "FAIL ..." per check (and "note ..." for platform notices);
    0 when all passed. After a failure the remaining checks are reported as not run."""
    started = time.perf_counter()
    failures = 0
    with tempfile.TemporaryDirectory(prefix="easel-self-test-") as folder:
        state = SelfTestState(Path(folder), device, platform_info)
        for name, check in checks:
            if failures:
                print(f"FAIL {name}: not run (an earlier check failed)", file=out, flush=True)
                continue
            try:
                line = check(state)
            except CheckFailed as verdict:
                line, failures = f"FAIL {verdict}", failures + 1
            except Exception as error:  # noqa: BLE001 - a self-test reports every failure as a line
                line, failures = f"FAIL {name}: {type(error).__name__}: {error}", failures + 1
            else:
                line = f"ok   {line}"
            if name == "platform" and state.platform_info is not None:
                for notice in platform_notices(state.platform_info):
                    print(f"note {notice.message} {notice.hint}", file=out, flush=True)
            print(line, file=out, flush=True)
    verdict = "all checks passed" if not failures else f"{failures} check(s) failed"
    print(f"{verdict} in {time.perf_counter() - started:.1f} s", file=out, flush=True)
    return 0 if not failures else 1


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    """`easel --self-test [--device cpu|cuda|mps]`."""
    args = list(sys.argv[1:] if argv is None else argv)
    device = args[args.index("--device") + 1] if "--device" in args[:-1] else None
    if out is None and (sys.stdout is None or getattr(sys.stdout, "name", None) == os.devnull):
        # A windowed program (Easel.exe) has no console: the lines go to a file in Easel's folder instead.
        from core.paths import AppPaths

        log = AppPaths.from_environment().ensure().home / "self-test.log"
        with log.open("w", encoding="utf-8") as file:
            return run_self_test(file, device=device)
    return run_self_test(out or sys.stdout, device=device)

"""Easel's engine against plain diffusers on the same checkpoint, in one run.

    python benchmarks/bench_engine.py --model tiny            # seconds
    python benchmarks/bench_engine.py --model sd15            # SD1.5-sized random checkpoint (minutes)

Prints, for the same file: time from file to ready pipeline (Easel's loader, diffusers'
`from_single_file`, and a plain safetensors read of every tensor), per-image time of
`Engine.generate` vs a plain diffusers pipeline call, and the peak memory (max RSS) of each
side measured in its own process. Ratios are Easel / plain.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OUT = ROOT / "benchmarks" / "out"
PROMPT = "a lighthouse on a cliff at sunset, oil painting"


def prepare_model(kind: str) -> tuple[Path, Path]:
    from core.synthetic import write_sd15_checkpoint, write_tiny_checkpoint

    if kind == "tiny":
        model = write_tiny_checkpoint(Path(tempfile.mkdtemp(prefix="easel-bench-")), "sd1", seed=0)
        return model.checkpoint, model.config_dir
    OUT.mkdir(parents=True, exist_ok=True)
    checkpoint = OUT / "sd15-random.safetensors"
    marker = OUT / "sd15-random.config"
    if not checkpoint.exists() or not marker.exists():
        model = write_sd15_checkpoint(checkpoint)
        marker.write_text(str(model.config_dir))
    return checkpoint, Path(marker.read_text().strip())


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 1024 / 1024


def warm_imports() -> None:
    """Import what loading needs before the clock starts, for both sides alike."""
    import diffusers
    import transformers

    _ = (diffusers.StableDiffusionPipeline, diffusers.UNet2DConditionModel, diffusers.AutoencoderKL,
         transformers.CLIPTextModel, diffusers.loaders.single_file_utils)


def worker_read(checkpoint: Path, to_float32: bool = False) -> dict:
    """Every tensor of the file in process memory, as stored (or converted to float32, as the CPU runs)."""
    import torch
    from safetensors.torch import load_file

    started = time.perf_counter()
    mapped = load_file(str(checkpoint))  # memory-mapped: nothing is read yet
    dtype = torch.float32 if to_float32 else None
    tensors = {name: tensor.to(dtype=dtype or tensor.dtype, copy=True) for name, tensor in mapped.items()}
    return {"load_s": time.perf_counter() - started, "tensors": len(tensors), "peak_mb": peak_rss_mb()}


def _plain_pipeline(checkpoint: Path, config: Path):  # type: ignore[no-untyped-def]
    import torch
    from diffusers import EulerDiscreteScheduler, StableDiffusionPipeline

    from core.tokenizer import load_clip_tokenizer

    pipe = StableDiffusionPipeline.from_single_file(
        str(checkpoint), config=str(config), local_files_only=True, torch_dtype=torch.float32,
        tokenizer=load_clip_tokenizer(), safety_checker=None, feature_extractor=None,
    )
    pipe.scheduler = EulerDiscreteScheduler.from_config(pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def worker_plain(checkpoint: Path, config: Path, size: int, steps: int, images: int) -> dict:
    import torch

    warm_imports()
    started = time.perf_counter()
    pipe = _plain_pipeline(checkpoint, config)
    load_s = time.perf_counter() - started
    times = []
    for index in range(images + 1):  # the first image is the time to first image, not in the average
        started = time.perf_counter()
        pipe(PROMPT, num_inference_steps=steps, width=size, height=size, guidance_scale=7.0,
             generator=torch.Generator("cpu").manual_seed(index))
        times.append(time.perf_counter() - started)
    return {"load_s": load_s, "first_s": times[0], "image_s": sum(times[1:]) / images, "peak_mb": peak_rss_mb()}


def _fail_loudly(event) -> None:  # type: ignore[no-untyped-def]
    from core.events import Failed

    if isinstance(event, Failed):
        raise SystemExit(f"Easel failed: {event.message}\n{event.details}")


def _easel_engine(checkpoint: Path, config: Path, size: int, steps: int, load=None):  # type: ignore[no-untyped-def]
    from core.engine import Engine
    from core.model_resolution import ModelResolver
    from core.paths import AppPaths
    from core.pipelines.loader import load_model
    from core.request import GenerationRequest
    from core.settings import Settings

    paths = AppPaths(Path(tempfile.mkdtemp(prefix="easel-bench-home-"))).ensure()
    resolver = ModelResolver.from_settings(paths, Settings())
    request = GenerationRequest(model=str(checkpoint), model_config=config, prompt=PROMPT, steps=steps,
                                sampler="Euler", width=size, height=size, cfg_scale=7.0)
    warm_imports()
    return Engine(resolver, paths.outputs_dir, device="cpu", load=load or load_model), request


def worker_easel(checkpoint: Path, config: Path, size: int, steps: int, images: int) -> dict:
    from core.pipelines.loader import load_model

    timings: dict[str, float] = {}

    def timed_load(source, device_plan):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        loaded = load_model(source, device_plan)
        timings["load_s"] = time.perf_counter() - started
        return loaded

    engine, request = _easel_engine(checkpoint, config, size, steps, timed_load)
    times = []
    for index in range(images + 1):
        started = time.perf_counter()
        engine.generate(request.replace(seed=index), _fail_loudly)
        times.append(time.perf_counter() - started)
    first_image_s = times[0] - timings["load_s"]
    return {"load_s": timings["load_s"], "first_s": first_image_s, "image_s": sum(times[1:]) / images,
            "peak_mb": peak_rss_mb()}


def worker_easel_fp16(checkpoint: Path, config: Path) -> dict:
    """Easel's load in half precision, the dtype MPS and CUDA run in (here on the CPU, no image made)."""
    import torch

    from core.device import DevicePlan
    from core.pipelines.loader import ModelSource, load_model

    warm_imports()
    started = time.perf_counter()
    load_model(ModelSource(checkpoint, "sd1", False, config), DevicePlan(torch.device("cpu"), torch.float16, False))
    return {"load_s": time.perf_counter() - started, "peak_mb": peak_rss_mb()}


def worker_per_image(checkpoint: Path, config: Path, size: int, steps: int, rounds: int) -> dict:
    """Per-image time, interleaved in one process on the same weights: Engine.generate, then a plain
    diffusers pipeline call built from the engine's components (so machine noise hits both alike)."""
    import statistics

    import torch
    from diffusers import EulerDiscreteScheduler, StableDiffusionPipeline

    engine, request = _easel_engine(checkpoint, config, size, steps)
    engine.generate(request.replace(seed=0), _fail_loudly)  # loads the model
    plain = StableDiffusionPipeline(**engine.loaded_model.base.components)
    plain.scheduler = EulerDiscreteScheduler.from_config(
        plain.scheduler.config, timestep_spacing="linspace", use_karras_sigmas=False)
    plain.set_progress_bar_config(disable=True)
    easel_times, plain_times = [], []
    for index in range(rounds + 1):  # round 0 warms both up and is not counted
        started = time.perf_counter()
        engine.generate(request.replace(seed=index), _fail_loudly)
        easel_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        plain(PROMPT, num_inference_steps=steps, width=size, height=size, guidance_scale=7.0,
              generator=torch.Generator("cpu").manual_seed(index))
        plain_times.append(time.perf_counter() - started)
    return {"easel_s": statistics.median(easel_times[1:]), "plain_s": statistics.median(plain_times[1:])}


def run_worker(name: str, args: argparse.Namespace, checkpoint: Path, config: Path) -> dict:
    command = [sys.executable, __file__, "--worker", name, "--checkpoint", str(checkpoint), "--config", str(config),
               "--size", str(args.size), "--steps", str(args.steps), "--images", str(args.images)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{name} worker failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", choices=("tiny", "sd15"), default="tiny")
    parser.add_argument("--size", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--images", type=int, default=2)
    parser.add_argument("--worker", choices=("read", "read32", "plain", "easel", "easel16", "per-image"))
    parser.add_argument("--checkpoint", type=Path)
    parser.add_argument("--config", type=Path)
    args = parser.parse_args()
    args.size = args.size or (256 if args.model == "sd15" else 64)
    args.steps = args.steps or (4 if args.model == "sd15" else 10)
    if args.worker:
        work = {"read": lambda: worker_read(args.checkpoint),
                "read32": lambda: worker_read(args.checkpoint, to_float32=True),
                "easel16": lambda: worker_easel_fp16(args.checkpoint, args.config),
                "per-image": lambda: worker_per_image(args.checkpoint, args.config, args.size, args.steps,
                                                      args.images + 1),
                "plain": lambda: worker_plain(args.checkpoint, args.config, args.size, args.steps, args.images),
                "easel": lambda: worker_easel(args.checkpoint, args.config, args.size, args.steps, args.images)}
        print(json.dumps(work[args.worker]()))
        return
    checkpoint, config = prepare_model(args.model)
    print(f"model: {args.model} ({checkpoint.stat().st_size / 2**30:.2f} GiB), {args.size}x{args.size}, "
          f"{args.steps} steps, Euler, CPU, {args.images} timed image(s) after a warm-up")
    run_worker("read", args, checkpoint, config)  # warm the page cache so every side reads from memory
    read = run_worker("read", args, checkpoint, config)
    read32 = run_worker("read32", args, checkpoint, config)
    plain = run_worker("plain", args, checkpoint, config)
    easel = run_worker("easel", args, checkpoint, config)
    easel16 = run_worker("easel16", args, checkpoint, config)
    interleaved = run_worker("per-image", args, checkpoint, config)
    print(f"{'':36}{'Easel':>9}{'diffusers':>11}")
    print(f"{'file -> ready fp32 pipeline (s)':36}{easel['load_s']:9.2f}{plain['load_s']:11.2f}")
    print(f"{'first image after load (s)':36}{easel['first_s']:9.2f}{plain['first_s']:11.2f}")
    print(f"{'per image, warm (s)':36}{easel['image_s']:9.2f}{plain['image_s']:11.2f}")
    print(f"{'peak RSS (MB)':36}{easel['peak_mb']:9.0f}{plain['peak_mb']:11.0f}")
    print(f"plain safetensors read of every tensor: {read['load_s']:.2f} s as stored, "
          f"{read32['load_s']:.2f} s converted to float32")
    print(f"load / plain read: Easel {easel['load_s'] / read['load_s']:.2f}x, "
          f"diffusers from_single_file {plain['load_s'] / read['load_s']:.2f}x "
          f"(read + float32 conversion alone: {read32['load_s'] / read['load_s']:.2f}x)")
    print(f"file -> ready fp16 pipeline (the MPS/CUDA dtype): Easel {easel16['load_s']:.2f} s = "
          f"{easel16['load_s'] / read['load_s']:.2f}x the plain read")
    print(f"per image, interleaved in one process on the same weights (median): Easel "
          f"{interleaved['easel_s']:.2f} s, diffusers {interleaved['plain_s']:.2f} s, "
          f"ratio {interleaved['easel_s'] / interleaved['plain_s']:.3f}")
    print(f"peak memory ratio Easel / diffusers: {easel['peak_mb'] / plain['peak_mb']:.3f}")


if __name__ == "__main__":
    main()

"""Write a random-weight checkpoint of Stable Diffusion 1.5's full size, in the civitai single-file format.

    python benchmarks/make_sd15_checkpoint.py --out /tmp/sd15-random.safetensors [--dtype fp16|fp32] [--seed 0]

The file has SD1.5's exact shapes (UNet 859,520,964 parameters, VAE 83,653,863, CLIP-L text
encoder 123,060,480) under the LDM keys real checkpoints use, so loading and generation times
measured with it match a real model's. Diffusers configs for it are written to `<stem>-config/`
beside the file; load it with `from_single_file(path, config=<that folder>, local_files_only=True)`.
Peak memory stays close to the file's size: weights are drawn tensor by tensor in the target dtype
and streamed to disk.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.synthetic import write_sd15_checkpoint  # noqa: E402

DTYPES = {"fp16": torch.float16, "fp32": torch.float32, "bf16": torch.bfloat16}


def _peak_rss_gib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return peak / 2**30 if sys.platform == "darwin" else peak / 2**20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="the .safetensors file to write")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="fp16", help="weight precision (default fp16)")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same file (default 0)")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    model = write_sd15_checkpoint(args.out, dtype=DTYPES[args.dtype], seed=args.seed)
    elapsed = time.perf_counter() - started
    size_gib = model.checkpoint.stat().st_size / 2**30
    print(f"wrote {model.checkpoint} ({size_gib:.2f} GiB, {args.dtype}) in {elapsed:.1f} s")
    print(f"configs in {model.config_dir}")
    print(f"peak memory {_peak_rss_gib():.2f} GiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

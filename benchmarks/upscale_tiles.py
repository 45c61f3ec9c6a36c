"""Easel's tiled upscale against one plain spandrel call on the whole image, same model, same run.

    python benchmarks/upscale_tiles.py                          # tiny random ESRGAN 4x, 192x144 in (seconds)
    python benchmarks/upscale_tiles.py --arch compact --size 512x384

For each tile size, prints the best of `--repeat` runs of `upscale_image` (PIL in, PIL out, tiles with
overlap and feathered blending) and of the plain call `descriptor(tensor)` on the whole image (tensor in,
tensor out), and the ratio Easel / plain. With tiles smaller than the image the model sees the overlaps
twice, which is most of the extra time; with one tile, the ratio is the cost of Easel's conversions.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def best_seconds(action, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="esrgan", choices=("esrgan", "compact", "swinir"))
    parser.add_argument("--size", default="192x144", help="input WIDTHxHEIGHT")
    parser.add_argument("--tiles", default="512,96,64", help="tile sizes to time (input pixels)")
    parser.add_argument("--overlap", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import numpy as np
    import torch
    from PIL import Image

    from core.synthetic.upscaler import write_tiny_upscaler
    from core.upscale import load_upscaler, upscale_image

    width, height = (int(side) for side in args.size.lower().split("x"))
    upscaler = load_upscaler(write_tiny_upscaler(Path(tempfile.mkdtemp(prefix="easel-bench-")), args.arch))
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8))
    tensor = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255).permute(2, 0, 1).unsqueeze(0)
    print(f"{upscaler.architecture} {upscaler.scale}x (tiny, random), {width}x{height} -> "
          f"{width * upscaler.scale}x{height * upscaler.scale}, torch threads {torch.get_num_threads()}, "
          f"best of {args.repeat}")
    upscaler.model(tensor)  # warm up: the first call of a shape pays for kernel selection
    plain = best_seconds(lambda: upscaler.model(tensor), args.repeat)
    print(f"plain spandrel call, whole image: {plain:.3f} s")
    for tile in (int(value) for value in args.tiles.split(",")):
        tiles: list[int] = []
        upscale_image(image, upscaler, upscaler.scale, tile=tile, overlap=args.overlap,
                      on_tile=lambda done, total: tiles.append(total))
        easel = best_seconds(lambda: upscale_image(image, upscaler, upscaler.scale, tile=tile, overlap=args.overlap),
                             args.repeat)
        print(f"easel upscale_image, tile {tile} overlap {args.overlap} ({tiles[-1]} tiles): {easel:.3f} s, "
              f"ratio easel/plain {easel / plain:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

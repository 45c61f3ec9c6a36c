"""Random-weight annotator files with the published names and layouts, for tests and self-tests:
ControlNetHED.pth and sk_model*.pth as plain state dicts, scannet.pt as {"model": {"module." + key}},
Depth Anything V2 Small's model.safetensors."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch
from safetensors.torch import save_file
from torch import nn

from core.annotator_weights import (DEPTH_ANYTHING_V2_SMALL, HED, LINEART_COARSE, LINEART_REALISTIC, NORMAL_BAE,
                                    AnnotatorFile, download_folder)


def _network(file: AnnotatorFile) -> Callable[[], nn.Module]:
    if file in (LINEART_REALISTIC, LINEART_COARSE):
        from core.annotators.lineart import LineartGenerator
        return LineartGenerator
    if file == HED:
        from core.annotators.hed import ControlNetHED
        return ControlNetHED
    if file == NORMAL_BAE:
        from core.annotators.normal_bae import NormalBae
        return NormalBae
    if file == DEPTH_ANYTHING_V2_SMALL:
        from core.annotators.depth import depth_anything_v2_small
        return depth_anything_v2_small
    raise ValueError(f"No synthetic {file.filename}.")


def random_annotator_state(file: AnnotatorFile, seed: int = 0) -> dict[str, torch.Tensor]:
    """The network's state dict with random weights: the names and shapes of the real network (built
    without memory), scaled like a fresh initialisation so activations stay finite through deep stacks;
    norm layers and running statistics as a fresh network has them."""
    with torch.device("meta"):
        shapes = {key: (value.shape, value.dtype) for key, value in _network(file)().state_dict().items()}
    generator = torch.Generator().manual_seed(seed)
    return {key: _random(key, shape, dtype, generator) for key, (shape, dtype) in shapes.items()}


# transformers 5 names DINOv2's attention q_proj/k_proj/v_proj/o_proj; the published model.safetensors was
# written by transformers 4 and keeps the older names, which transformers maps when it loads.
_PUBLISHED_NAMES = ((".attention.q_proj.", ".attention.attention.query."),
                    (".attention.k_proj.", ".attention.attention.key."),
                    (".attention.v_proj.", ".attention.attention.value."),
                    (".attention.o_proj.", ".attention.output.dense."))


def _as_published(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    def published(key: str) -> str:
        for new, old in _PUBLISHED_NAMES:
            key = key.replace(new, old)
        return key
    return {published(key): value for key, value in state.items()}


def _random(key: str, shape: torch.Size, dtype: torch.dtype, generator: torch.Generator) -> torch.Tensor:
    if not dtype.is_floating_point:
        return torch.zeros(shape, dtype=dtype)  # num_batches_tracked
    if key.endswith("running_var") or (len(shape) == 1 and key.endswith("weight")):
        return torch.ones(shape)
    if key.endswith("running_mean") or (len(shape) == 1 and key.endswith("bias")):
        return torch.zeros(shape)
    fan_in = max(1, shape[1:].numel()) if len(shape) > 1 else shape[0]
    return torch.randn(shape, generator=generator) / fan_in**0.5


def write_annotator(models_dir: Path, file: AnnotatorFile, seed: int = 0,
                    dtype: torch.dtype | None = None) -> Path:
    """`file` with random weights where Easel downloads it in `models_dir`; returns its path.

    `dtype` (e.g. float16, as ControlNetHED.pth is published) halves what the big ones write and read."""
    folder = download_folder(file, models_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / file.filename
    state = random_annotator_state(file, seed)
    if dtype is not None:
        state = {key: value.to(dtype) if value.is_floating_point() else value for key, value in state.items()}
    if path.suffix == ".safetensors":
        save_file(_as_published(state), path)
    elif file == NORMAL_BAE:
        torch.save({"model": {f"module.{key}": value for key, value in state.items()}}, path)
    else:
        torch.save(state, path)
    return path


def time_preprocessors(names: tuple[str, ...] = ("softedge", "lineart", "depth", "normal"),
                       size: tuple[int, int] = (768, 512), resolution: int = 512) -> list[tuple[str, float, float]]:
    """(name, seconds to load and run, seconds to run again) for each weighted preprocessor, with random
    weights of the real architectures, on the CPU."""
    import tempfile
    import time

    import numpy as np
    from PIL import Image

    from core.annotators.session import AnnotatorSession
    from core.preprocessors import preprocessor, run_preprocessor

    picture = Image.fromarray(np.random.default_rng(0).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
    timings = []
    with tempfile.TemporaryDirectory() as folder:
        for name in names:
            for file in preprocessor(name).weights:
                write_annotator(Path(folder), file)
            session = AnnotatorSession([Path(folder)])
            runs = []
            for _ in range(2):
                start = time.perf_counter()
                run_preprocessor(name, picture, resolution=resolution, annotators=session)
                runs.append(time.perf_counter() - start)
            timings.append((name, runs[0], runs[1]))
    return timings


if __name__ == "__main__":
    for name, first, again in time_preprocessors():
        print(f"{name}: 768x512 at res=512, load + run {first:.1f} s, run again {again:.1f} s")

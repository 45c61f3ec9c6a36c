"""Random-weight upscalers built through spandrel's own architecture classes, saved as the community files are.

ESRGAN is saved in the old-arch key layout (`model.0.weight`, ...) that 4x-UltraSharp and most community ESRGANs
use; Compact (SRVGG, Real-ESRGAN's realesr-general/animevideo models) adds the nearest-upscaled input to its
output, so its result looks like the input; SwinIR is a transformer with a window size, no fp16 support and
tiling "discouraged" by spandrel. Each is tiny (a few thousand to a few hundred thousand weights).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch

from core.synthetic.builders import write_safetensors

UPSCALER_ARCHITECTURES = ("esrgan", "compact", "swinir")
FILE_FORMATS = ("pth", "safetensors")
NATIVE_SCALES = {"esrgan": 4, "compact": 2, "swinir": 2}


def _esrgan() -> torch.nn.Module:
    from spandrel.architectures.ESRGAN import ESRGAN

    return ESRGAN(in_nc=3, out_nc=3, num_filters=8, num_blocks=1, scale=NATIVE_SCALES["esrgan"])


def _compact() -> torch.nn.Module:
    from spandrel.architectures.Compact import Compact

    return Compact(num_in_ch=3, num_out_ch=3, num_feat=8, num_conv=2, upscale=NATIVE_SCALES["compact"])


def _swinir() -> torch.nn.Module:
    from spandrel.architectures.SwinIR import SwinIR

    return SwinIR(img_size=16, embed_dim=12, depths=[1], num_heads=[2], window_size=4, mlp_ratio=1.0,
                  upscale=NATIVE_SCALES["swinir"], upsampler="pixelshuffledirect", resi_connection="1conv")


_FACTORIES: dict[str, Callable[[], torch.nn.Module]] = {"esrgan": _esrgan, "compact": _compact, "swinir": _swinir}
# The layer whose output is the image: rescaled so random weights give a visible image, not a clamped one.
_LAST_LAYERS = {"esrgan": "model.10", "compact": None, "swinir": None}


def tiny_upscaler(architecture: str = "esrgan", *, seed: int = 0) -> torch.nn.Module:
    """A tiny spandrel `architecture` network with random weights from `seed`, in eval mode."""
    if architecture not in _FACTORIES:
        raise ValueError(f"architecture must be one of {UPSCALER_ARCHITECTURES}")
    torch.manual_seed(seed)  # the architecture classes initialise their own weights
    model = _FACTORIES[architecture]().eval()
    last = _LAST_LAYERS[architecture]
    if last is not None:
        _calibrate_output(model, dict(model.named_modules())[last], seed)
    return model


@torch.no_grad()
def _calibrate_output(model: torch.nn.Module, last: torch.nn.Module, seed: int) -> None:
    """Scale the last convolution so the output of random weights centres on grey with a spread of 0.15:
    an uncalibrated random ESRGAN is almost all clamped to black, which would make any comparison trivial."""
    generator = torch.Generator().manual_seed(seed)
    probe = torch.rand(1, 3, 24, 24, generator=generator)
    output = model(probe)
    mean = output.mean(dim=(0, 2, 3))
    spread = output.std(dim=(0, 2, 3)).clamp_min(1e-6)
    gain = 0.15 / spread
    last.weight.mul_(gain.view(-1, 1, 1, 1))
    last.bias.copy_(0.5 + (last.bias - mean) * gain)


def write_tiny_upscaler(folder: Path, architecture: str = "esrgan", *, seed: int = 0,
                        file_format: str = "safetensors", name: str | None = None) -> Path:
    """`folder/<name or tiny-<architecture>-<N>x>.<pth|safetensors>`: a plain tensor dict, as community files are."""
    if file_format not in FILE_FORMATS:
        raise ValueError(f"file_format must be one of {FILE_FORMATS}")
    model = tiny_upscaler(architecture, seed=seed)
    tensors = {key: tensor.detach().contiguous().clone() for key, tensor in model.state_dict().items()}
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name or f'tiny-{architecture}-{NATIVE_SCALES[architecture]}x'}.{file_format}"
    if file_format == "pth":
        torch.save(tensors, path)
    else:
        write_safetensors(path, tensors)
    return path

"""Upscaler models (ESRGAN, Real-ESRGAN, SwinIR, HAT, DAT, ... whatever spandrel supports) and plain resizing.

Files are read only through core/models/safe_load.py, so a pickle that would run code is refused before spandrel
sees anything; spandrel then recognises the architecture from the state dict. A model runs at its native factor,
repeatedly when more is asked, tile by tile (core/upscale_tiles.py), and the result is resized with Lanczos to
exactly the asked size, as A1111 does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from PIL import Image

from core.errors import ModelFileError, RequestError
from core.models.safe_load import load_state_dict
from core.models.scan import ModelEntry, find_model
from core.upscale_tiles import count_tiles, run_tiled

LANCZOS = "Lanczos"
NEAREST = "Nearest"
NO_UPSCALER = "None"  # A1111's names for the upscalers without a model; "None" still resizes (with Lanczos)
PLAIN_UPSCALERS = (LANCZOS, NEAREST, NO_UPSCALER)

DEFAULT_TILE = 512  # input pixels: a 4x ESRGAN tile is then 2048² out, well within 16 GB of unified memory
DEFAULT_OVERLAP = 32
MIN_TILE = 64
MAX_SIDE = 16384
MAX_PASSES = 4

# A1111 lists its built-in Real-ESRGAN models by these titles (modules/realesrgan_model.py); old infotext and
# `Hires upscaler` fields carry them, while the files keep their original names.
A1111_TITLES = {
    "r-esrgan 4x+": "RealESRGAN_x4plus",
    "r-esrgan 4x+ anime6b": "RealESRGAN_x4plus_anime_6B",
    "r-esrgan 2x+": "RealESRGAN_x2plus",
    "r-esrgan general 4xv3": "realesr-general-x4v3",
    "r-esrgan general wdn 4xv3": "realesr-general-wdn-x4v3",
    "r-esrgan animevideo": "realesr-animevideov3",
    "swinir 4x": "SwinIR_4x",
}

_UNSUPPORTED_HINT = ("Easel reads the upscalers spandrel knows (ESRGAN, Real-ESRGAN, Compact, SwinIR, HAT, DAT, "
                     "OmniSR, SPAN, ...). Check that this is an upscaler file, or use Lanczos.")


@dataclass(frozen=True)
class LoadedUpscaler:
    name: str
    path: Path
    scale: int
    architecture: str
    model: Any  # spandrel ImageModelDescriptor, on its device in its dtype


def is_plain_upscaler(name: str) -> bool:
    """Lanczos, Nearest or None (any case): resizing without a model."""
    return name.strip().lower() in {plain.lower() for plain in PLAIN_UPSCALERS}


def load_upscaler(path: Path, device: str | torch.device = "cpu",
                  dtype: torch.dtype = torch.float32) -> LoadedUpscaler:
    """The upscaler in `path` on `device`. `dtype` is used where the architecture supports it (float32 on the CPU
    always). Raises ModelFileError (UnsafeFileError for a code-running pickle) for a file that is not one."""
    from spandrel import ImageModelDescriptor, ModelLoader, UnsupportedModelError, canonicalize_state_dict

    path = Path(path)
    state_dict = canonicalize_state_dict(load_state_dict(path))
    try:
        descriptor = ModelLoader("cpu").load_from_state_dict(state_dict)
    except UnsupportedModelError:
        raise ModelFileError(f"{path.name} is not an upscaler model Easel can read.", _UNSUPPORTED_HINT,
                             details=str(path)) from None
    except Exception as error:  # spandrel recognised the layout but the tensors do not fit it
        raise ModelFileError(f"{path.name} looks like an upscaler, but its weights do not fit its architecture.",
                             "The file may be damaged or a variant Easel cannot read; download it again.",
                             details=f"{path}: {type(error).__name__}: {error}") from None
    _check_image_upscaler(descriptor, path, ImageModelDescriptor)
    device = torch.device(device)
    descriptor = descriptor.to(device=device, dtype=upscaler_dtype(descriptor, device, dtype)).eval()
    return LoadedUpscaler(path.stem, path, descriptor.scale, descriptor.architecture.name, descriptor)


def _check_image_upscaler(descriptor: Any, path: Path, image_model: type) -> None:
    if not isinstance(descriptor, image_model):
        raise ModelFileError(f"{path.name} is an inpainting model ({descriptor.architecture.name}), not an upscaler.",
                             "Choose an upscaler file.", details=str(path))
    if descriptor.purpose == "FaceSR":
        raise ModelFileError(f"{path.name} is a face restoration model ({descriptor.architecture.name}), "
                             "not an upscaler.", "Choose an upscaler file.", details=str(path))
    if descriptor.input_channels not in (1, 3) or descriptor.output_channels not in (1, 3):
        raise ModelFileError(f"{path.name} works on {descriptor.input_channels}-channel images; Easel upscales "
                             "RGB and grayscale ones.", "Choose an RGB upscaler.", details=str(path))


def upscaler_dtype(descriptor: Any, device: torch.device, wanted: torch.dtype) -> torch.dtype:
    """`wanted` where the device and the architecture run it; float32 otherwise (and always on the CPU)."""
    if device.type == "cpu" or wanted == torch.float32:
        return torch.float32
    if wanted == torch.float16 and descriptor.supports_half:
        return wanted
    if wanted == torch.bfloat16 and descriptor.supports_bfloat16:
        return wanted
    return torch.float32


def preferred_dtype(device: str | torch.device) -> torch.dtype:
    """Half precision on GPUs (where the architecture allows, see upscaler_dtype), float32 on the CPU."""
    return torch.float32 if torch.device(device).type == "cpu" else torch.float16


def find_upscaler(entries: Sequence[ModelEntry], name_or_path: str) -> ModelEntry:
    """The upscaler entry a name (file name, stem, A1111 title such as "R-ESRGAN 4x+") or path refers to."""
    text = str(name_or_path).strip()
    name = A1111_TITLES.get(text.lower(), text)
    try:
        return find_model(entries, name, kind="upscaler")
    except ModelFileError as error:
        if "was found" not in error.message:  # found, but not usable as an upscaler: say what it is
            raise
        names = sorted({entry.name for entry in entries if entry.kind == "upscaler" and entry.supported})
        known = ", ".join([*names, LANCZOS, NEAREST])
        raise ModelFileError(f"No upscaler named '{text}' was found in your model folders.",
                             f"Use one of: {known}; or put the file in the upscalers folder "
                             "(A1111's models/ESRGAN works too).") from None


def target_size(size: tuple[int, int], scale: float) -> tuple[int, int]:
    """(round(w*scale), round(h*scale)), at least 1 pixel; RequestError for a factor that cannot be made."""
    if not math.isfinite(scale) or scale <= 0:
        raise RequestError(f"The upscale factor {scale} is not a positive number.", "Use a factor such as 2 or 4.")
    width, height = (max(1, round(side * scale)) for side in size)
    if max(width, height) > MAX_SIDE:
        raise RequestError(f"Upscaling {size[0]}x{size[1]} by {scale:g} would make {width}x{height} pixels, "
                           f"more than the {MAX_SIDE} pixels a side Easel allows.", "Use a smaller factor.")
    return width, height


def model_passes(native: int, scale: float) -> int:
    """How often a model of `native` factor runs to reach `scale` (then the result is resized down)."""
    if native <= 1:
        return 1
    passes = max(1, math.ceil(math.log(scale) / math.log(native) - 1e-9))
    return min(passes, MAX_PASSES)


def upscale_image(image: Image.Image, upscaler: LoadedUpscaler | None, scale: float, tile: int = DEFAULT_TILE,
                  overlap: int = DEFAULT_OVERLAP, on_tile: Callable[[int, int], None] | None = None,
                  cancel: Callable[[], bool] = lambda: False, resample_name: str = LANCZOS) -> Image.Image:
    """`image` made exactly (round(w*scale), round(h*scale)) pixels: by the model (tiled, `tile` input pixels a
    side, 0 for one piece) then Lanczos, or by plain `resample_name` resizing when `upscaler` is None.
    `on_tile(done, total)` after each tile; `cancel()` is checked between tiles (GenerationCancelled)."""
    size = target_size(image.size, scale)
    alpha = _alpha(image)
    if upscaler is None:
        resample = Image.Resampling.NEAREST if resample_name.lower() == NEAREST.lower() else Image.Resampling.LANCZOS
        result = _without_alpha(image).resize(size, resample)
        return _with_alpha(result, alpha, size, resample)
    descriptor = upscaler.model
    grayscale = descriptor.input_channels == 1
    pixels = _to_tensor(_without_alpha(image).convert("L" if grayscale else "RGB"))
    passes = model_passes(upscaler.scale, scale)
    output = _run_passes(descriptor, pixels, passes, tile, overlap, on_tile, cancel)
    result = _to_image(output)
    if result.size != size:
        result = result.resize(size, Image.Resampling.LANCZOS)
    return _with_alpha(result.convert("RGB"), alpha, size, Image.Resampling.LANCZOS)


def _run_passes(descriptor: Any, pixels: torch.Tensor, passes: int, tile: int, overlap: int,
                on_tile: Callable[[int, int], None] | None, cancel: Callable[[], bool]) -> torch.Tensor:
    from spandrel import ModelTiling

    if descriptor.tiling is ModelTiling.INTERNAL:
        tile = 0  # the model tiles by itself
    while True:
        try:
            return _tiled_passes(descriptor, pixels, passes, tile, overlap, on_tile, cancel)
        except Exception as error:
            if not _is_out_of_memory(error) or 0 < tile <= MIN_TILE:
                raise
            _free_device_memory(descriptor.device)
            tile = DEFAULT_TILE if tile == 0 else max(MIN_TILE, tile // 2)  # smaller tiles, same result


def _tiled_passes(descriptor: Any, pixels: torch.Tensor, passes: int, tile: int, overlap: int,
                  on_tile: Callable[[int, int], None] | None, cancel: Callable[[], bool]) -> torch.Tensor:
    _, _, height, width = pixels.shape
    scale = descriptor.scale
    total = sum(count_tiles(width * scale**k, height * scale**k, tile, overlap) for k in range(passes))
    done = 0

    def tile_finished() -> None:
        nonlocal done
        done += 1
        if on_tile is not None:
            on_tile(done, total)

    for _ in range(passes):
        if pixels.shape[1] != descriptor.input_channels:  # a grayscale model's output fed to an RGB one, or back
            grayscale = descriptor.input_channels == 1
            pixels = pixels.mean(dim=1, keepdim=True) if grayscale else pixels.expand(-1, 3, -1, -1)
        pixels = run_tiled(descriptor, pixels, scale, tile, overlap, tile_finished, cancel,
                           descriptor.device, descriptor.dtype)
    return pixels


def _is_out_of_memory(error: BaseException) -> bool:
    if isinstance(error, torch.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and "out of memory" in str(error).lower()


def _free_device_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
    elif device.type == "mps":
        torch.mps.empty_cache()


def _to_tensor(image: Image.Image) -> torch.Tensor:
    array = np.asarray(image, dtype=np.float32) / 255.0
    if array.ndim == 2:
        array = array[:, :, None]
    return torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0).contiguous()


def _to_image(pixels: torch.Tensor) -> Image.Image:
    array = (pixels[0].clamp(0, 1) * 255.0).round().to(torch.uint8).permute(1, 2, 0).numpy()
    return Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array, "L" if array.shape[2] == 1 else "RGB")


def _alpha(image: Image.Image) -> Image.Image | None:
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        return image.convert("RGBA").getchannel("A")
    return None


def _without_alpha(image: Image.Image) -> Image.Image:
    return image.convert("RGB") if image.mode not in ("RGB", "L") else image


def _with_alpha(image: Image.Image, alpha: Image.Image | None, size: tuple[int, int],
                resample: Image.Resampling) -> Image.Image:
    if alpha is None:
        return image
    image = image.convert("RGB")
    image.putalpha(alpha.resize(size, resample))
    return image


def describe_upscaler(upscaler: LoadedUpscaler | None, resample_name: str = LANCZOS) -> str:
    """The name A1111 writes in `Postprocess upscaler` / `Hires upscaler`: the model's name or Lanczos/Nearest."""
    if upscaler is not None:
        return upscaler.name
    return NEAREST if resample_name.lower() == NEAREST.lower() else LANCZOS


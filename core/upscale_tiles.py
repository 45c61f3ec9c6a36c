"""Run an image model tile by tile, with overlapping tiles blended by feathered weights.

Each tile is padded by its neighbours' pixels (the overlap), so the model sees context on every inner edge.
Where two tiles overlap, the outer quarter of the overlap of each tile (where zero padding at its edge still
shows) gets no weight, and the middle half cross-fades linearly from one tile to the other. Weights are
normalised by their sum, so any number of overlapping tiles blends without seams.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

from core.errors import GenerationCancelled

TileCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class Tile:
    """A tile in input pixels: columns x0..x1, rows y0..y1 (ends excluded)."""

    x0: int
    y0: int
    x1: int
    y1: int


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Where tiles of `tile` pixels begin along a side of `length`, evenly spread, neighbours sharing at least
    `overlap` pixels; one tile when it covers the side (or `tile` is 0)."""
    if tile <= 0 or length <= tile:
        return [0]
    count = math.ceil((length - overlap) / (tile - overlap))
    return [round(i * (length - tile) / (count - 1)) for i in range(count)]


def tile_grid(width: int, height: int, tile: int, overlap: int) -> list[Tile]:
    """Tiles covering a `width` x `height` image, row by row."""
    tile, overlap = _fitted(tile, overlap)
    size_x, size_y = (min(tile, width), min(tile, height)) if tile > 0 else (width, height)
    return [Tile(x, y, x + size_x, y + size_y)
            for y in tile_starts(height, tile, overlap) for x in tile_starts(width, tile, overlap)]


def _fitted(tile: int, overlap: int) -> tuple[int, int]:
    """An overlap of at most half a tile, so a tile's two feathered edges never meet."""
    return tile, max(0, min(overlap, tile // 2)) if tile > 0 else 0


def feather(length: int, ramp_start: bool, ramp_end: bool, overlap: int) -> torch.Tensor:
    """Weights along one side of a tile's output (`length` pixels): 0 over the outer quarter of `overlap` on a
    side with a neighbour, a linear rise over the middle half, 1 elsewhere."""
    weights = torch.ones(length)
    if overlap <= 0:
        return weights
    margin = overlap / 4
    distance = torch.arange(length, dtype=torch.float32) + 0.5
    rise = ((distance - margin) / (overlap - 2 * margin)).clamp(0, 1)
    if ramp_start:
        weights = weights * rise
    if ramp_end:
        weights = weights * rise.flip(0)
    return weights


def count_tiles(width: int, height: int, tile: int, overlap: int) -> int:
    return len(tile_grid(width, height, tile, overlap))


def run_tiled(model: Callable[[torch.Tensor], torch.Tensor], image: torch.Tensor, scale: int, tile: int,
              overlap: int, on_tile: TileCallback, cancel: Callable[[], bool],
              device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """`model` applied to `image` (1 x C x H x W, float32 on the CPU, 0..1) tile by tile; the result is
    1 x C' x H*scale x W*scale, float32 on the CPU. `on_tile()` after each tile; `cancel()` before each."""
    _, _, height, width = image.shape
    tile, overlap = _fitted(tile, overlap)
    tiles = tile_grid(width, height, tile, overlap)
    result: torch.Tensor | None = None
    weight_sum = torch.zeros(1, 1, height * scale, width * scale)
    for tile_box in tiles:
        if cancel():
            raise GenerationCancelled("Upscaling was cancelled.")
        part = image[:, :, tile_box.y0:tile_box.y1, tile_box.x0:tile_box.x1].to(device=device, dtype=dtype)
        output = model(part).to(device="cpu", dtype=torch.float32)
        if result is None:
            result = torch.zeros(1, output.shape[1], height * scale, width * scale)
        weights = _tile_weights(tile_box, width, height, scale, overlap)
        rows = slice(tile_box.y0 * scale, tile_box.y1 * scale)
        columns = slice(tile_box.x0 * scale, tile_box.x1 * scale)
        result[:, :, rows, columns] += output * weights
        weight_sum[:, :, rows, columns] += weights
        on_tile()
    assert result is not None  # there is always at least one tile
    return result / weight_sum.clamp_min(1e-12)


def _tile_weights(box: Tile, width: int, height: int, scale: int, overlap: int) -> torch.Tensor:
    across = feather((box.x1 - box.x0) * scale, box.x0 > 0, box.x1 < width, overlap * scale)
    down = feather((box.y1 - box.y0) * scale, box.y0 > 0, box.y1 < height, overlap * scale)
    return down.view(-1, 1) * across.view(1, -1)

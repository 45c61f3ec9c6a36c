"""HED soft edges with ControlNet 1.1's own HED network (`annotator/hed`, ControlNetHED_Apache2, the file
ControlNetHED.pth): five VGG-like stages, each projected to one edge map; the maps are resized to the image,
averaged and put through a sigmoid."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class DoubleConvBlock(nn.Module):
    def __init__(self, input_channel: int, output_channel: int, layer_number: int) -> None:
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv2d(input_channel, output_channel, kernel_size=3, padding=1),
            *(nn.Conv2d(output_channel, output_channel, kernel_size=3, padding=1) for _ in range(1, layer_number)))
        self.projection = nn.Conv2d(output_channel, 1, kernel_size=1)

    def forward(self, x: torch.Tensor, down_sampling: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        h = F.max_pool2d(x, kernel_size=2, stride=2) if down_sampling else x
        for conv in self.convs:
            h = F.relu(conv(h))
        return h, self.projection(h)


class ControlNetHED(nn.Module):
    """State-dict keys as in ControlNetHED.pth: norm, block1..block5.{convs.N,projection}."""

    def __init__(self) -> None:
        super().__init__()
        self.norm = nn.Parameter(torch.zeros(1, 3, 1, 1))
        self.block1 = DoubleConvBlock(3, 64, 2)
        self.block2 = DoubleConvBlock(64, 128, 2)
        self.block3 = DoubleConvBlock(128, 256, 3)
        self.block4 = DoubleConvBlock(256, 512, 3)
        self.block5 = DoubleConvBlock(512, 512, 3)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        h = x - self.norm
        projections = []
        for index, block in enumerate((self.block1, self.block2, self.block3, self.block4, self.block5)):
            h, projection = block(h, down_sampling=index > 0)
            projections.append(projection)
        return tuple(projections)


def safe_step(values: np.ndarray, step: int = 2) -> np.ndarray:
    """The annotator's safe_step: edge strengths quantised to a few levels (softedge_hedsafe)."""
    stepped = (values.astype(np.float32) * float(step + 1)).astype(np.int32).astype(np.float32)
    return stepped / float(step)


def hed_edges(net: ControlNetHED, rgb: np.ndarray, safe: bool = False, device: str = "cpu") -> np.ndarray:
    """Edge strength (H, W) uint8 of an RGB uint8 image, as the annotator's HEDdetector computes it."""
    height, width = rgb.shape[:2]
    pixels = torch.from_numpy(np.array(rgb)).float().permute(2, 0, 1)[None].to(device)
    with torch.no_grad():
        projections = net(pixels)
    # cv2.resize INTER_LINEAR of each map is torch's bilinear resize with half-pixel centres.
    resized = [F.interpolate(p.float().cpu(), size=(height, width), mode="bilinear", align_corners=False)
               for p in projections]
    mean = torch.cat(resized, dim=1).mean(dim=1)[0].double().numpy()
    edge = 1 / (1 + np.exp(-mean))
    if safe:
        edge = safe_step(edge)
    return (edge * 255.0).clip(0, 255).astype(np.uint8)

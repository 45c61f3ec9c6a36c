"""Line art with the annotator's Generator (`annotator/lineart`, informative-drawings): sk_model.pth
(lineart_realistic) and sk_model2.pth (lineart_coarse). The network draws dark lines on white; the
extension inverts that, as the lineart ControlNet wants white lines on black."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class ResidualBlock(nn.Module):
    def __init__(self, features: int) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(features, features, 3), nn.InstanceNorm2d(features), nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1), nn.Conv2d(features, features, 3), nn.InstanceNorm2d(features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class LineartGenerator(nn.Module):
    """State-dict keys as in sk_model.pth: model0..model4 (Generator(3, 1, 3) of the annotator)."""

    def __init__(self, input_nc: int = 3, output_nc: int = 1, n_residual_blocks: int = 3) -> None:
        super().__init__()
        self.model0 = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(input_nc, 64, 7), nn.InstanceNorm2d(64),
                                    nn.ReLU(inplace=True))
        down: list[nn.Module] = []
        features = 64
        for _ in range(2):
            down += [nn.Conv2d(features, features * 2, 3, stride=2, padding=1), nn.InstanceNorm2d(features * 2),
                     nn.ReLU(inplace=True)]
            features *= 2
        self.model1 = nn.Sequential(*down)
        self.model2 = nn.Sequential(*(ResidualBlock(features) for _ in range(n_residual_blocks)))
        up: list[nn.Module] = []
        for _ in range(2):
            up += [nn.ConvTranspose2d(features, features // 2, 3, stride=2, padding=1, output_padding=1),
                   nn.InstanceNorm2d(features // 2), nn.ReLU(inplace=True)]
            features //= 2
        self.model3 = nn.Sequential(*up)
        self.model4 = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(64, output_nc, 7), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model4(self.model3(self.model2(self.model1(self.model0(x)))))


def line_art(net: LineartGenerator, rgb: np.ndarray, device: str = "cpu") -> np.ndarray:
    """White lines on black (H, W) uint8 of an RGB uint8 image: the annotator's output, inverted as the
    extension inverts it."""
    pixels = torch.from_numpy(np.array(rgb)).float().div(255.0).permute(2, 0, 1)[None].to(device)
    with torch.no_grad():
        line = net(pixels)[0][0].float().cpu().numpy()
    return 255 - (line * 255.0).clip(0, 255).astype(np.uint8)

"""Surface normals with NormalBae (Bae et al. 2021, `annotator/normalbae`, the file scannet.pt): an
EfficientNet-B5 encoder (timm's tf_efficientnet_b5, the network gen-efficientnet-pytorch's torch.hub entry
built, with the same parameter names) and a decoder that refines normals from 1/8 to full resolution.

In evaluation the decoder's point sampling evaluates every pixel, so this decoder does just that.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

ENCODER = "tf_efficientnet_b5"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_MIN_KAPPA = 0.01


class Encoder(nn.Module):
    """The encoder's features: the stem, then every stage of `blocks`, then conv_head (before its norm)."""

    def __init__(self) -> None:
        super().__init__()
        import timm  # heavy; only when a normal map is made

        # num_classes=0: no classifier, as the annotator replaced global_pool and classifier with Identity.
        self.original_model = timm.create_model(ENCODER, pretrained=False, num_classes=0)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        model = self.original_model
        h = model.bn1(model.conv_stem(x))  # timm's bn1 includes the activation (act1 in gen-efficientnet)
        stages = []
        for stage in model.blocks:
            h = stage(h)
            stages.append(h)
        return [stages[0], stages[1], stages[2], stages[4], model.conv_head(h)]


class UpSampleBN(nn.Module):
    def __init__(self, skip_input: int, output_features: int) -> None:
        super().__init__()
        self._net = nn.Sequential(
            nn.Conv2d(skip_input, output_features, kernel_size=3, stride=1, padding=1),
            nn.BatchNorm2d(output_features), nn.LeakyReLU(),
            nn.Conv2d(output_features, output_features, kernel_size=3, stride=1, padding=1),
            nn.BatchNorm2d(output_features), nn.LeakyReLU())

    def forward(self, x: torch.Tensor, concat_with: torch.Tensor) -> torch.Tensor:
        up_x = F.interpolate(x, size=concat_with.shape[2:], mode="bilinear", align_corners=True)
        return self._net(torch.cat([up_x, concat_with], dim=1))


def _point_head(in_channels: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv1d(in_channels, 128, kernel_size=1), nn.ReLU(),
                         nn.Conv1d(128, 128, kernel_size=1), nn.ReLU(),
                         nn.Conv1d(128, 128, kernel_size=1), nn.ReLU(),
                         nn.Conv1d(128, 4, kernel_size=1))


def norm_normalize(out: torch.Tensor) -> torch.Tensor:
    """Unit normals (x, y, z) and the concentration kappa, as the decoder's last step at each resolution."""
    x, y, z, kappa = torch.split(out, 1, dim=1)
    norm = torch.sqrt(x**2 + y**2 + z**2) + 1e-10
    return torch.cat([x / norm, y / norm, z / norm, F.elu(kappa) + 1.0 + _MIN_KAPPA], dim=1)


class Decoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv2 = nn.Conv2d(2048, 2048, kernel_size=1, stride=1, padding=0)
        self.up1 = UpSampleBN(2048 + 176, 1024)
        self.up2 = UpSampleBN(1024 + 64, 512)
        self.up3 = UpSampleBN(512 + 40, 256)
        self.up4 = UpSampleBN(256 + 24, 128)
        self.out_conv_res8 = nn.Conv2d(512, 4, kernel_size=3, stride=1, padding=1)
        self.out_conv_res4 = _point_head(512 + 4)
        self.out_conv_res2 = _point_head(256 + 4)
        self.out_conv_res1 = _point_head(128 + 4)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        block0, block1, block2, block3, block4 = features
        d1 = self.up1(self.conv2(block4), block3)
        d2 = self.up2(d1, block2)  # 1/8
        d3 = self.up3(d2, block1)  # 1/4
        d4 = self.up4(d3, block0)  # 1/2
        prediction = norm_normalize(self.out_conv_res8(d2))
        for feature, head in ((d2, self.out_conv_res4), (d3, self.out_conv_res2), (d4, self.out_conv_res1)):
            prediction = _refined(feature, prediction, head)
        return prediction  # full resolution


def _refined(feature: torch.Tensor, prediction: torch.Tensor, head: nn.Sequential) -> torch.Tensor:
    feature = F.interpolate(feature, scale_factor=2, mode="bilinear", align_corners=True)
    previous = F.interpolate(prediction, scale_factor=2, mode="bilinear", align_corners=True)
    joined = torch.cat([feature, previous], dim=1)
    batch, channels, height, width = joined.shape
    return norm_normalize(head(joined.view(batch, channels, -1)).view(batch, 4, height, width))


class NormalBae(nn.Module):
    """State-dict keys as in scannet.pt's 'model' entry, less its 'module.' prefix."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = Encoder()
        self.decoder = Decoder()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


def normal_map(net: NormalBae, rgb: np.ndarray, device: str = "cpu") -> np.ndarray:
    """The normal map (H, W, 3) uint8 of an RGB uint8 image, as the annotator's NormalBaeDetector makes it."""
    pixels = torch.from_numpy(np.array(rgb)).float().div(255.0).permute(2, 0, 1)[None]
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        normal = net(((pixels - mean) / std).to(device))[:, :3].float().cpu()
    normal = ((normal + 1) * 0.5).clip(0, 1)[0].permute(1, 2, 0).numpy()
    return (normal * 255.0).clip(0, 255).astype(np.uint8)

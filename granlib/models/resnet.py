"""SNGAN ResNet generators and discriminators, with the block layout and widths of Mimicry
(Lee & Town 2020, ``torch_mimicry/nets/sngan/sngan_{32,48,64,128}.py``), which follows the official SNGAN
Chainer code (Miyato et al. 2018). Spectral norm is *not* built in: it is one normaliser among others
(:mod:`granlib.normalizers`). D uses ReLU and no BatchNorm; G uses BatchNorm, bilinear upsampling.

| resolution | G: ngf, bottom width, block widths | D: ndf, block widths (↓ = downsample) |
|---|---|---|
| 32  | 256, 4, 256→256→256→256             | 128: opt↓128, 128↓, 128, 128 |
| 48  | 512, 6, 512→256→128→64              | 1024: opt↓64, 128↓, 256↓, 512↓, 1024 |
| 64  | 1024, 4, 1024→512→256→128→64        | 1024: opt↓64, 128↓, 256↓, 512↓, 1024↓ |
| 128 | 1024, 4, 1024→1024→512→256→128→64   | 1024: opt↓64, 128↓, 256↓, 512↓, 1024↓, 1024 |

Full-width parameter counts (asserted in tests/models/test_resnet.py):
32: G 4,276,739, D 1,053,825; 48: G 4,878,083, D 10,141,441;
64: G 12,220,675, D 10,141,441; 128: G 32,150,787, D 29,017,857.
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor, nn

# Per resolution: (ngf, bottom width, generator width divisors), (ndf, D stem divisor, [(divisor, downsample)]).
GENERATOR_LAYOUTS = {32: (256, 4, (1, 1, 1, 1)), 48: (512, 6, (1, 2, 4, 8)),
                     64: (1024, 4, (1, 2, 4, 8, 16)), 128: (1024, 4, (1, 1, 2, 4, 8, 16))}
DISCRIMINATOR_LAYOUTS = {
    32: (128, 1, ((1, True), (1, False), (1, False))),
    48: (1024, 16, ((8, True), (4, True), (2, True), (1, False))),
    64: (1024, 16, ((8, True), (4, True), (2, True), (1, True))),
    128: (1024, 16, ((8, True), (4, True), (2, True), (1, True), (1, False))),
}


def _conv(c_in: int, c_out: int, kernel: int, gain: float) -> nn.Conv2d:
    conv = nn.Conv2d(c_in, c_out, kernel, 1, kernel // 2)
    nn.init.xavier_uniform_(conv.weight, gain)  # SNGAN/Mimicry initialisation
    return conv


# How generator blocks double the resolution: Mimicry's bilinear interpolation (granlib's default), or the
# nearest-neighbour upsampling of SNGAN's official code and GN-GAN's (cheaper, above all in its backward on GPUs).
UPSAMPLING = ("bilinear", "nearest")

class GeneratorBlock(nn.Module):
    """BN-ReLU-(up)-conv3-BN-ReLU-conv3, plus a (up-)1×1-conv shortcut when the shape changes."""

    def __init__(self, c_in: int, c_out: int, upsample: bool = True, mode: str = "bilinear"):
        super().__init__()
        self.upsample, self.mode = upsample, mode  # mode: F.interpolate's, "bilinear" or "nearest"
        self.bn1, self.conv1 = nn.BatchNorm2d(c_in), _conv(c_in, c_out, 3, math.sqrt(2))
        self.bn2, self.conv2 = nn.BatchNorm2d(c_out), _conv(c_out, c_out, 3, math.sqrt(2))
        self.shortcut = _conv(c_in, c_out, 1, 1.0) if (c_in != c_out or upsample) else None

    def _up(self, x: Tensor) -> Tensor:
        if not self.upsample:
            return x
        if self.mode == "nearest":
            return F.interpolate(x, scale_factor=2, mode="nearest")
        return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv1(self._up(F.relu(self.bn1(x))))
        h = self.conv2(F.relu(self.bn2(h)))
        return h + (self.shortcut(self._up(x)) if self.shortcut is not None else x)


class DiscriminatorBlock(nn.Module):
    """ReLU-conv3-ReLU-conv3-(avgpool), plus a 1×1-conv-(avgpool) shortcut when the shape changes.

    ``first=True`` is SNGAN's "optimised" first block: no leading ReLU, shortcut avgpool then 1×1 conv.
    """

    def __init__(self, c_in: int, c_out: int, downsample: bool, first: bool = False):
        super().__init__()
        self.downsample, self.first = downsample, first
        self.conv1 = _conv(c_in, c_out if first else c_in, 3, math.sqrt(2))  # Mimicry: hidden = in (out if first)
        self.conv2 = _conv(c_out if first else c_in, c_out, 3, math.sqrt(2))
        self.shortcut = _conv(c_in, c_out, 1, 1.0) if (first or c_in != c_out or downsample) else None

    def _down(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(x, 2) if self.downsample else x

    def forward(self, x: Tensor) -> Tensor:
        h = x if self.first else F.relu(x)
        h = self._down(self.conv2(F.relu(self.conv1(h))))
        if self.shortcut is None:
            return h + x
        sc = self.shortcut(self._down(x)) if self.first else self._down(self.shortcut(x))
        return h + sc


class ResNetGenerator(nn.Module):
    def __init__(self, resolution: int = 32, nz: int = 128, ngf: int | None = None, upsample: str = "bilinear"):
        super().__init__()
        if upsample not in UPSAMPLING:
            raise ValueError(f"unknown upsampling {upsample!r}; choose one of {UPSAMPLING}")
        default_ngf, self.bottom_width, divisors = GENERATOR_LAYOUTS[resolution]
        self.nz, self.ngf = nz, ngf or default_ngf
        widths = [max(1, self.ngf // d) for d in divisors]
        self.fc = nn.Linear(nz, self.bottom_width**2 * widths[0])
        nn.init.xavier_uniform_(self.fc.weight)
        self.blocks = nn.Sequential(*(GeneratorBlock(a, b, mode=upsample) for a, b in zip(widths[:-1], widths[1:])))
        self.out_bn, self.out_conv = nn.BatchNorm2d(widths[-1]), _conv(widths[-1], 3, 3, 1.0)
        self.c0 = widths[0]

    def forward(self, z: Tensor) -> Tensor:
        h = self.fc(z).view(-1, self.c0, self.bottom_width, self.bottom_width)
        return self.out_conv(F.relu(self.out_bn(self.blocks(h)))).tanh()


class ResNetDiscriminator(nn.Module):
    def __init__(self, resolution: int = 32, ndf: int | None = None):
        super().__init__()
        default_ndf, stem_divisor, plan = DISCRIMINATOR_LAYOUTS[resolution]
        ndf = ndf or default_ndf
        c = max(1, ndf // stem_divisor)
        blocks: list[nn.Module] = [DiscriminatorBlock(3, c, downsample=True, first=True)]
        for divisor, down in plan:
            blocks.append(DiscriminatorBlock(c, max(1, ndf // divisor), downsample=down))
            c = max(1, ndf // divisor)
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(c, 1)
        nn.init.xavier_uniform_(self.fc.weight)

    def forward(self, x: Tensor) -> Tensor:
        h = F.relu(self.blocks(x)).sum(dim=(2, 3))  # global sum pooling, as in SNGAN
        return self.fc(h)

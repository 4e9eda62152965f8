"""SNGAN's "standard CNN" (Miyato et al. 2018, Table 3), as used by GN-GAN's and GraN-GAN's CNN experiments.

Generator: z ∈ R^128 → linear → M×M×512 → 3 × [4×4 transposed conv, stride 2, BN, ReLU] (256, 128, 64)
→ 3×3 conv → tanh, with M = 4 at 32×32 and M = 6 at 48×48.
Discriminator: seven convs (3×3 s1 / 4×4 s2 alternating: 64, 64, 128, 128, 256, 256, 512), LeakyReLU(0.1),
a linear layer to one score; no BatchNorm, so f is piecewise linear.

Full-width parameter counts (asserted in tests/models/test_cnn.py):
32×32: G 3,813,379 and D 2,935,873; 48×48: G 5,134,339 and D 2,946,113.
"""

from __future__ import annotations

from torch import Tensor, nn


class CNNGenerator(nn.Module):
    def __init__(self, nz: int = 128, ngf: int = 512, bottom_width: int = 4):
        super().__init__()
        self.nz, self.ngf, self.bottom_width = nz, ngf, bottom_width
        self.fc = nn.Linear(nz, bottom_width * bottom_width * ngf)
        self.fc_norm = nn.BatchNorm2d(ngf)
        layers: list[nn.Module] = []
        channels = [ngf, ngf // 2, ngf // 4, ngf // 8]
        for c_in, c_out in zip(channels[:-1], channels[1:]):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1), nn.BatchNorm2d(c_out), nn.ReLU()]
        layers += [nn.Conv2d(channels[-1], 3, 3, 1, 1), nn.Tanh()]
        self.body = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        h = self.fc(z).view(-1, self.ngf, self.bottom_width, self.bottom_width)
        return self.body(nn.functional.relu(self.fc_norm(h)))


class CNNDiscriminator(nn.Module):
    def __init__(self, ndf: int = 64, resolution: int = 32, negative_slope: float = 0.1):
        super().__init__()
        if resolution % 8:
            raise ValueError(f"CNN discriminator needs a resolution divisible by 8, got {resolution}")
        widths = [ndf, ndf, 2 * ndf, 2 * ndf, 4 * ndf, 4 * ndf, 8 * ndf]
        layers: list[nn.Module] = []
        c_in = 3
        for i, c_out in enumerate(widths):
            strided = i % 2 == 1  # 4×4 stride-2 convs halve the resolution three times
            layers += [nn.Conv2d(c_in, c_out, 4 if strided else 3, 2 if strided else 1, 1),
                       nn.LeakyReLU(negative_slope)]
            c_in = c_out
        self.body = nn.Sequential(*layers)
        self.fc = nn.Linear((resolution // 8) ** 2 * widths[-1], 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.body(x).flatten(1))

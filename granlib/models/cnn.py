"""SNGAN's "standard CNN" (Miyato et al. 2018), in the two discriminator widths that carry that name.

Discriminator (:data:`DISCRIMINATOR_WIDTHS`): seven convs, 3×3 stride 1 and 4×4 stride 2 alternating, each followed
by LeakyReLU(0.1), then a linear layer from M×M×(last width) to one score (M = resolution / 8); no BatchNorm, so
f is piecewise linear.

* ``"paper_table"``: the table in the SNGAN paper (Table 3): 64, 64↓, 128, 128↓, 256, 256↓, 512.
* ``"reference_code"``: what the code behind the published CNN numbers builds: 64, 128↓, 128, 256↓, 256, 512↓, 512,
  in GN-GAN's ``models/dcgan.py`` (``Discriminator32``/``Discriminator48``), pytorch-gan-collections'
  SNGAN ``Discriminator32`` and chainer-gan-lib's ``SNDCGANDiscriminator(bottom_width=4, ch=512)`` (whose LeakyReLU is
  Chainer's default slope, 0.2).

Which of the two GraN-GAN used is not stated in any available text. :func:`granlib.models.build_models` defaults to
``"reference_code"`` so that our CNN rows sit like for like beside the published CNN numbers of those codes (GN-GAN's
and pytorch-gan-collections' CIFAR-10 CNN FIDs), which were produced with that net.

Generator, as in GN-GAN and pytorch-gan-collections: z ∈ R^nz → linear → M×M×512 → BN → ReLU → 3 × [4×4 transposed
conv, stride 2, BN, ReLU] (256, 128, 64) → 3×3 conv → tanh (GN-GAN's last layer is a 3×3 stride-1 transposed conv,
same parameter count). The BN after the linear layer is per channel (BatchNorm2d(512)); chainer-gan-lib's
``DCGANGenerator`` normalises each of the M·M·512 features instead (15,360 more parameters at 32×32).

Full-width parameter counts (asserted in tests/models/test_cnn.py):

| resolution | G | D reference_code | D paper_table |
|---|---|---|---|
| 32×32 | 3,813,379 | 5,860,865 | 2,935,873 |
| 48×48 | 5,134,339 | 5,871,105 | 2,946,113 |
"""

from __future__ import annotations

from torch import Tensor, nn

# Discriminator conv widths in units of ndf; even index: 3×3 stride 1, odd index: 4×4 stride 2.
DISCRIMINATOR_WIDTHS: dict[str, tuple[int, ...]] = {
    "reference_code": (1, 2, 2, 4, 4, 8, 8),  # GN-GAN, pytorch-gan-collections, chainer-gan-lib
    "paper_table": (1, 1, 2, 2, 4, 4, 8),  # SNGAN paper, Table 3
}
CNN_VARIANTS: tuple[str, ...] = tuple(DISCRIMINATOR_WIDTHS)
DEFAULT_CNN_VARIANT = "reference_code"  # the published CNN anchors' net; see the module docstring
CNN_NGF, CNN_NDF = 512, 64  # published base widths: G's first feature map, D's first conv


class CNNGenerator(nn.Module):
    def __init__(self, nz: int = 128, ngf: int = CNN_NGF, bottom_width: int = 4):
        super().__init__()
        self.nz, self.ngf, self.bottom_width = nz, ngf, bottom_width
        self.fc = nn.Linear(nz, bottom_width * bottom_width * ngf)
        self.fc_norm = nn.BatchNorm2d(ngf)  # per channel, after the reshape to ngf×M×M
        self.fc_act = nn.ReLU()
        layers: list[nn.Module] = []
        channels = [ngf, ngf // 2, ngf // 4, ngf // 8]
        for c_in, c_out in zip(channels[:-1], channels[1:]):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1), nn.BatchNorm2d(c_out), nn.ReLU()]  # M → 2M
        layers += [nn.Conv2d(channels[-1], 3, 3, 1, 1), nn.Tanh()]
        self.body = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        h = self.fc(z).view(-1, self.ngf, self.bottom_width, self.bottom_width)
        return self.body(self.fc_act(self.fc_norm(h)))


class CNNDiscriminator(nn.Module):
    def __init__(self, ndf: int = CNN_NDF, resolution: int = 32, negative_slope: float = 0.1,
                 variant: str = DEFAULT_CNN_VARIANT):
        super().__init__()
        if resolution % 8:
            raise ValueError(f"CNN discriminator needs a resolution divisible by 8, got {resolution}")
        if variant not in DISCRIMINATOR_WIDTHS:
            raise ValueError(f"unknown CNN variant {variant!r}; available: {CNN_VARIANTS}")
        self.variant = variant
        widths = [ndf * k for k in DISCRIMINATOR_WIDTHS[variant]]
        layers: list[nn.Module] = []
        c_in = 3
        for i, c_out in enumerate(widths):
            strided = i % 2 == 1  # 4×4 stride-2 convs halve the resolution three times
            layers += [nn.Conv2d(c_in, c_out, 4 if strided else 3, 2 if strided else 1, 1),
                       nn.LeakyReLU(negative_slope)]
            c_in = c_out
        self.body = nn.Sequential(*layers)
        self.fc = nn.Linear((resolution // 8) ** 2 * widths[-1], 1)  # M×M×C → 1

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.body(x).flatten(1))

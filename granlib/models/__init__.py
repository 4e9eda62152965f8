"""Generators and discriminators of the paper's study, by (architecture, resolution)."""

from __future__ import annotations

from torch import nn

from granlib.models.cnn import CNNDiscriminator, CNNGenerator
from granlib.models.resnet import ResNetDiscriminator, ResNetGenerator

ARCHITECTURES = {("cnn", 32), ("cnn", 48), ("resnet", 32), ("resnet", 48), ("resnet", 64), ("resnet", 128)}


def build_models(
    architecture: str,
    resolution: int,
    nz: int = 128,  # latent dimension
    ngf: int | None = None,  # generator base width; None = the published width
    ndf: int | None = None,  # discriminator base width; None = the published width
) -> tuple[nn.Module, nn.Module]:
    """(generator, raw discriminator) for ``architecture`` ∈ {cnn, resnet} at ``resolution``."""
    if (architecture, resolution) not in ARCHITECTURES:
        raise ValueError(f"no {architecture} model at {resolution}×{resolution}; available: {sorted(ARCHITECTURES)}")
    if architecture == "cnn":
        generator = CNNGenerator(nz=nz, ngf=ngf or 512, bottom_width=resolution // 8)
        return generator, CNNDiscriminator(ndf=ndf or 64, resolution=resolution)
    return ResNetGenerator(resolution, nz=nz, ngf=ngf), ResNetDiscriminator(resolution, ndf=ndf)


__all__ = ["ARCHITECTURES", "build_models", "CNNGenerator", "CNNDiscriminator", "ResNetGenerator",
           "ResNetDiscriminator"]

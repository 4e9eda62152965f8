"""Generators and discriminators of the paper's study, by (architecture, resolution): SNGAN's standard CNN (two
discriminator widths, :mod:`granlib.models.cnn`) and the SNGAN/Mimicry ResNets (:mod:`granlib.models.resnet`), with
their initialisations (:mod:`granlib.models.init`). Imports torch only; every other part of granlib may import it."""

from __future__ import annotations

from torch import nn

from granlib.models.cnn import (
    CNN_NDF,
    CNN_NGF,
    CNN_VARIANTS,
    DEFAULT_CNN_VARIANT,
    DISCRIMINATOR_WIDTHS,
    CNNDiscriminator,
    CNNGenerator,
)
from granlib.models.init import INITS, initialize
from granlib.models.resnet import (
    DISCRIMINATOR_LAYOUTS,
    GENERATOR_LAYOUTS,
    UPSAMPLING,
    ResNetDiscriminator,
    ResNetGenerator,
)

ARCHITECTURES = {("cnn", 32), ("cnn", 48), ("resnet", 32), ("resnet", 48), ("resnet", 64), ("resnet", 128)}

# What each architecture's constructors draw; "normal_0.02" may replace it.
CONSTRUCTOR_INIT = {"cnn": "pytorch", "resnet": "xavier_sngan"}
# cnn: the published CNN anchors' init (granlib.models.cnn); resnet: unchanged, SNGAN/Mimicry's own.
DEFAULT_INIT = {"cnn": "normal_0.02", "resnet": "xavier_sngan"}
DEFAULT_RESNET_UPSAMPLE = "bilinear"  # Mimicry's, whose ResNet protocol granlib follows (granlib.models.resnet)


def published_widths(architecture: str, resolution: int) -> tuple[int, int]:
    """(ngf, ndf) that :func:`build_models` uses when they are left None."""
    _check(architecture, resolution)
    if architecture == "cnn":
        return CNN_NGF, CNN_NDF
    return GENERATOR_LAYOUTS[resolution][0], DISCRIMINATOR_LAYOUTS[resolution][0]


def build_models(
    architecture: str,
    resolution: int,
    nz: int = 128,  # latent dimension
    ngf: int | None = None,  # generator base width; None = the published width
    ndf: int | None = None,  # discriminator base width; None = the published width
    *,
    cnn_variant: str | None = None,  # cnn only: one of CNN_VARIANTS; None = DEFAULT_CNN_VARIANT
    init: str | None = None,  # CONSTRUCTOR_INIT[architecture] or "normal_0.02"; None = DEFAULT_INIT[architecture]
    resnet_upsample: str | None = None,  # resnet only: one of UPSAMPLING; None = "bilinear" (Mimicry)
) -> tuple[nn.Module, nn.Module]:
    """(generator, raw discriminator) for ``architecture`` ∈ {cnn, resnet} at ``resolution``."""
    _check(architecture, resolution)
    init = init or DEFAULT_INIT[architecture]
    if init not in (CONSTRUCTOR_INIT[architecture], "normal_0.02"):
        # Refused rather than ignored, so a recorded init is always the one the weights have.
        raise ValueError(f"{architecture} takes init {CONSTRUCTOR_INIT[architecture]!r} or 'normal_0.02', got {init!r}")
    default_ngf, default_ndf = published_widths(architecture, resolution)
    ngf, ndf = ngf or default_ngf, ndf or default_ndf
    if architecture == "cnn":
        cnn_variant = cnn_variant or DEFAULT_CNN_VARIANT
        generator = CNNGenerator(nz=nz, ngf=ngf, bottom_width=resolution // 8)
        d_net = CNNDiscriminator(ndf=ndf, resolution=resolution, variant=cnn_variant)
    elif cnn_variant is not None:
        raise ValueError(f"cnn_variant applies to the cnn architecture only, got {cnn_variant!r} for resnet")
    else:
        generator = ResNetGenerator(resolution, nz=nz, ngf=ngf, upsample=resnet_upsample or DEFAULT_RESNET_UPSAMPLE)
        d_net = ResNetDiscriminator(resolution, ndf=ndf)
    if architecture == "cnn" and resnet_upsample is not None:
        raise ValueError(f"resnet_upsample applies to the resnet architecture only, got {resnet_upsample!r} for cnn")
    return initialize(generator, init), initialize(d_net, init)


def _check(architecture: str, resolution: int) -> None:
    if (architecture, resolution) not in ARCHITECTURES:
        raise ValueError(f"no {architecture} model at {resolution}×{resolution}; available: {sorted(ARCHITECTURES)}")


__all__ = ["ARCHITECTURES", "CNN_VARIANTS", "CONSTRUCTOR_INIT", "DEFAULT_CNN_VARIANT", "DEFAULT_INIT",
           "DEFAULT_RESNET_UPSAMPLE", "DISCRIMINATOR_WIDTHS", "INITS", "UPSAMPLING", "build_models", "initialize",
           "published_widths", "CNNGenerator", "CNNDiscriminator", "ResNetGenerator", "ResNetDiscriminator"]

"""Weight initialisations, as a model option recorded next to the architecture.

* ``"normal_0.02"``: every Conv/ConvTranspose/Linear weight ~ N(0, 0.02²), bias 0, as in the codes behind the
  published CNN numbers (GN-GAN ``models/dcgan.py``, pytorch-gan-collections, chainer-gan-lib's ``wscale=0.02``);
  BatchNorm keeps γ = 1, β = 0. The only one :func:`initialize` draws.
* ``"pytorch"``: PyTorch's layer defaults (weights kaiming-uniform with a = √5, uniform biases), which the CNN
  constructors draw.
* ``"xavier_sngan"``: SNGAN/Mimicry's xavier-uniform weights (gain √2 on the residual 3×3 convs, 1 elsewhere;
  PyTorch-default biases), which the ResNet constructors draw.
"""

from __future__ import annotations

from torch import nn

INITS = ("pytorch", "normal_0.02", "xavier_sngan")

_REDRAWN = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)  # the only weighted layers besides BatchNorm


def initialize(module: nn.Module, init: str) -> nn.Module:
    """Apply ``init`` ∈ :data:`INITS` in place to every Conv/ConvTranspose/Linear of ``module``; returns it.

    ``"pytorch"`` and ``"xavier_sngan"`` are what constructors already draw, so they leave ``module`` as built;
    :func:`granlib.models.build_models` refuses one that the architecture does not draw.
    """
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; available: {INITS}")
    if init != "normal_0.02":
        # Left as built rather than redrawn: drawing again would consume the RNG and change the weights a seed
        # gave before this option existed.
        return module
    for layer in module.modules():
        if isinstance(layer, _REDRAWN):
            nn.init.normal_(layer.weight, mean=0.0, std=0.02)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
    return module

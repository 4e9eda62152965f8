"""GAN losses on discriminator scores d = D(x) (logits for the non-saturating loss).

Each discriminator loss returns ``(total, real_part, fake_part)``; each generator loss a scalar.
GraND-GAN is the non-saturating loss on GraN's g; GraNC-GAN is the Wasserstein loss on g.
"""

from __future__ import annotations

from collections.abc import Callable

import torch.nn.functional as F
from torch import Tensor

LOSSES = ("ns", "hinge", "wasserstein")
LOSS_NAMES = {"ns": "non-saturating", "hinge": "hinge", "wasserstein": "Wasserstein"}  # as tables and notebooks say


def ns_d(d_real: Tensor, d_fake: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """−log σ(d_real) − log(1 − σ(d_fake)) = softplus(−d_real) + softplus(d_fake): stable for any |d|."""
    real, fake = F.softplus(-d_real).mean(), F.softplus(d_fake).mean()
    return real + fake, real, fake


def ns_g(d_fake: Tensor) -> Tensor:
    """Non-saturating generator loss −log σ(d_fake) = softplus(−d_fake)."""
    return F.softplus(-d_fake).mean()


def hinge_d(d_real: Tensor, d_fake: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """E[max(0, 1 − d_real)] + E[max(0, 1 + d_fake)]."""
    real, fake = F.relu(1 - d_real).mean(), F.relu(1 + d_fake).mean()
    return real + fake, real, fake


def wasserstein_d(d_real: Tensor, d_fake: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Critic loss −E[d_real] + E[d_fake]."""
    real, fake = -d_real.mean(), d_fake.mean()
    return real + fake, real, fake


def mean_negated_g(d_fake: Tensor) -> Tensor:
    """−E[d_fake]: the generator loss of both hinge and Wasserstein GANs."""
    return -d_fake.mean()


def get_loss(name: str) -> tuple[Callable[[Tensor, Tensor], tuple[Tensor, Tensor, Tensor]], Callable[[Tensor], Tensor]]:
    """(discriminator loss, generator loss) by name."""
    table = {"ns": (ns_d, ns_g), "hinge": (hinge_d, mean_negated_g), "wasserstein": (wasserstein_d, mean_negated_g)}
    if name not in table:
        raise ValueError(f"unknown loss {name!r}; choose one of {LOSSES}")
    return table[name]

"""A gradient penalty applied to a fixed 2-D network: what notebook 01 compares with the normalisers."""

from __future__ import annotations

import copy

import torch
from torch import nn


def fit_gradient_penalty(net: nn.Module, steps: int = 300, target: float = 1.0, limit: float = 2.0,
                         batch: int = 256, lr: float = 1e-2, seed: int = 0) -> nn.Module:
    """A copy of ``net`` trained for ``steps`` Adam steps on the penalty E[(‖∇ₓf‖ − target)²] alone, with x
    uniform on the square [−limit, limit]²: the soft constraint of WGAN-GP without the critic's loss."""
    net = copy.deepcopy(net)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(net.parameters(), lr)
    for _ in range(steps):
        x = ((torch.rand(batch, 2, generator=generator) * 2 - 1) * limit).requires_grad_(True)
        (grad,) = torch.autograd.grad(net(x).sum(), x, create_graph=True)
        penalty = ((grad.norm(dim=1) - target) ** 2).mean()
        optimizer.zero_grad()
        penalty.backward()
        optimizer.step()
    return net

"""Toy problems for intuition: small 2-D ReLU networks, their linear regions, and the ring of 8 Gaussians."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def relu_mlp(d_in: int = 2, width: int = 16, depth: int = 3, d_out: int = 1, seed: int | None = 0,
             leaky: float = 0.0) -> nn.Sequential:
    """A random ReLU (or LeakyReLU) MLP with biases: piecewise linear. With a ``seed`` its weights are drawn from
    that seed alone and the global RNG is left as it was; ``seed`` None draws them from the global RNG as it stands
    (the caller owns that stream)."""
    if seed is None:
        return _mlp(d_in, width, depth, d_out, leaky)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return _mlp(d_in, width, depth, d_out, leaky)


def _mlp(d_in: int, width: int, depth: int, d_out: int, leaky: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    d = d_in
    for _ in range(depth):
        layers += [nn.Linear(d, width), nn.LeakyReLU(leaky) if leaky else nn.ReLU()]
        d = width
    layers.append(nn.Linear(d, d_out))
    return nn.Sequential(*layers)


def grid(limit: float = 2.0, resolution: int = 200) -> tuple[Tensor, Tensor, Tensor]:
    """(xx, yy, points) of a square grid, points as [resolution², 2]."""
    axis = torch.linspace(-limit, limit, resolution)
    yy, xx = torch.meshgrid(axis, axis, indexing="ij")
    return xx, yy, torch.stack([xx.flatten(), yy.flatten()], dim=1)


def activation_pattern(net: nn.Sequential, x: Tensor) -> Tensor:
    """Per point, an integer id of its linear region (the on/off pattern of every ReLU)."""
    codes, h = [], x
    for layer in net:
        pre = h
        h = layer(h)
        if isinstance(layer, (nn.ReLU, nn.LeakyReLU)):
            codes.append(pre > 0)
    bits = torch.cat(codes, dim=1).long()
    weights = torch.randint(1, 2**31 - 1, (bits.shape[1],), generator=torch.Generator().manual_seed(0))
    return (bits * weights).sum(dim=1)  # a hash: equal patterns give equal ids


def input_gradient_norm(fn, x: Tensor) -> Tensor:
    """‖∇ₓ fn(x)‖ per point."""
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(fn(x).sum(), x)
    return grad.norm(dim=1)


def eight_gaussians(n: int, std: float = 0.02, radius: float = 2.0, generator: torch.Generator | None = None) -> Tensor:
    """The classic ring of 8 Gaussians in 2-D."""
    k = torch.randint(8, (n,), generator=generator)
    angle = k.float() * (2 * math.pi / 8)
    centres = radius * torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    return centres + std * torch.randn(n, 2, generator=generator)

"""Executable checks of the paper's claims: piecewise linearity, gradient bounds, jumps, SN's looseness."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from granlib.models import build_models


def empirical_lipschitz(fn, x: Tensor, radius: float = 0.1, pairs: int = 2048, seed: int = 0) -> float:
    """max |fn(x) − fn(y)| / ‖x − y‖ over random pairs y = x + δ, ‖δ‖ ≤ radius (a lower bound on Lip(fn))."""
    gen = torch.Generator().manual_seed(seed)
    idx = torch.randint(len(x), (pairs,), generator=gen)
    a = x[idx]
    delta = torch.randn(a.shape, generator=gen, dtype=a.dtype)
    delta = delta / delta.flatten(1).norm(dim=1).view(-1, *[1] * (a.dim() - 1))
    delta = delta * radius * torch.rand(pairs, generator=gen, dtype=a.dtype).view(-1, *[1] * (a.dim() - 1))
    ratio = (fn(a + delta) - fn(a)).detach().abs().flatten() / delta.flatten(1).norm(dim=1)
    return ratio.max().item()


def affine_residual(net: nn.Module, x: Tensor, step: float = 1e-6, seed: int = 0) -> Tensor:
    """|f(x+δ) − f(x) − ∇f(x)·δ| per sample for a tiny random δ: 0 (to rounding) when f is locally affine."""
    gen = torch.Generator().manual_seed(seed)
    delta = step * torch.randn(x.shape, generator=gen, dtype=x.dtype)
    x = x.detach().requires_grad_(True)
    f = net(x).flatten()
    (grad,) = torch.autograd.grad(f.sum(), x)
    with torch.no_grad():
        return (net(x + delta).flatten() - f - (grad * delta).flatten(1).sum(dim=1)).abs()


def jumps_along_line(fn, start: Tensor, direction: Tensor, length: float = 4.0, points: int = 4001
                     ) -> tuple[Tensor, Tensor]:
    """(t, |Δfn|) along start + t·direction, t ∈ [0, length]; jumps of fn show as spikes of |Δfn| over a step."""
    t = torch.linspace(0, length, points, dtype=start.dtype)
    line = start.unsqueeze(0) + t.view(-1, *[1] * start.dim()) * direction.unsqueeze(0)
    values = fn(line).detach().flatten()  # no torch.no_grad(): GraN needs autograd to evaluate g
    return t[1:], (values[1:] - values[:-1]).abs()


def layer_spectral_norms(net: nn.Module, input_shape: tuple[int, ...], iterations: int = 50,
                         seed: int = 0) -> list[float]:
    """The operator 2-norm of every Conv2d/Linear of ``net`` (power iteration on the layer as a linear map, started
    from a vector drawn with its own generator seeded by ``seed``: a re-measurement gives the same numbers)."""
    norms, inputs = [], {}
    layers = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]

    def remember_input_shape(module, args, output) -> None:
        inputs[module] = args[0].shape[1:]

    hooks = [layer.register_forward_hook(remember_input_shape) for layer in layers]
    with torch.no_grad():
        net(torch.zeros(1, *input_shape, dtype=next(net.parameters()).dtype))
    for h in hooks:
        h.remove()
    start = torch.Generator().manual_seed(seed)
    for layer in layers:
        v = torch.randn(1, *inputs[layer], generator=start, dtype=next(layer.parameters()).dtype)

        def linear(z: Tensor, m: nn.Module = layer) -> Tensor:  # the layer without its bias: a linear map
            if isinstance(m, nn.Conv2d):
                return nn.functional.conv2d(z, m.weight, None, m.stride, m.padding, m.dilation, m.groups)
            return z @ m.weight.T

        for _ in range(iterations):
            v = v.detach().requires_grad_(True)
            out = linear(v)
            (v_next,) = torch.autograd.grad((out * out).sum() / 2, v)  # AᵀA v
            v = v_next / v_next.norm()
        with torch.no_grad():
            norms.append(linear(v).norm().item())
    return norms


def spectral_bound(net: nn.Module, input_shape: tuple[int, ...]) -> float:
    """SN's layer-wise Lipschitz bound: the product of the layers' spectral norms (activations are 1-Lipschitz)."""
    bound = 1.0
    for norm in layer_spectral_norms(net, input_shape):
        bound *= norm
    return bound


def resnet_bound(net: nn.Module, input_shape: tuple[int, ...]) -> float:
    """An upper bound on ‖∇ₓf‖ of granlib's ResNet discriminator, which is not a chain: each block adds its
    shortcut to its branch, so per block σ(conv₁)·σ(conv₂)·p + s, with p = 1/2 after a 2×2 average pool (else 1) and
    s = σ(shortcut conv)·p or 1 for an identity shortcut; then √(H·W) for the global sum pooling over the last map
    and σ of the final linear layer."""
    h, bound = torch.zeros(1, *input_shape, dtype=torch.float64), 1.0
    for block in net.blocks:  # σ of conv1, conv2 and the shortcut conv, measured at the block's input shape
        norms, pool = layer_spectral_norms(block, tuple(h.shape[1:])), 0.5 if block.downsample else 1.0
        bound *= norms[0] * norms[1] * pool + (norms[2] * pool if block.shortcut is not None else 1.0)
        with torch.no_grad():
            h = block(h)
    sum_pool = math.sqrt(h.shape[2] * h.shape[3])  # the operator norm of summing H·W values
    return bound * sum_pool * torch.linalg.matrix_norm(net.fc.weight, ord=2).item()


def layerwise_bound(net: nn.Module, input_shape: tuple[int, ...]) -> float:
    """The layer-wise bound on ‖∇ₓf‖ of a granlib discriminator: :func:`resnet_bound` for the ResNet (it has
    blocks), else the product of the layers' spectral norms (:func:`spectral_bound`, the standard CNN's chain)."""
    return resnet_bound(net, input_shape) if hasattr(net, "blocks") else spectral_bound(net, input_shape)


def initial_gradient_norms(architecture: str, resolution: int, seeds: tuple[int, ...] = (0,), samples: int = 4,
                           **model_options) -> Tensor:
    """‖∇ₓf‖ of freshly built raw discriminators (float64), one per seed (its initial weights), at ``samples``
    uniform inputs in [−1, 1] each: where GraN's g = K·f·n/(n²+ε) starts, ≈ K·f·n/ε when n² ≪ ε and ≈ K·f/n when
    n² ≫ ε. The global RNG is left as it was."""
    norms = []
    with torch.random.fork_rng(devices=[]):
        for seed in seeds:
            torch.manual_seed(seed)  # the weights, as a run of this seed draws them
            d_net = build_models(architecture, resolution, **model_options)[1].double()
            x = (torch.rand(samples, 3, resolution, resolution, dtype=torch.float64) * 2 - 1).requires_grad_(True)
            (grad,) = torch.autograd.grad(d_net(x).sum(), x)
            norms.append(grad.flatten(1).norm(dim=1))
    return torch.cat(norms)


def initial_gradient_norm(architecture: str, resolution: int, seed: int = 0, samples: int = 4,
                          **model_options) -> float:
    """The mean of :func:`initial_gradient_norms` of one seed."""
    return initial_gradient_norms(architecture, resolution, (seed,), samples, **model_options).mean().item()

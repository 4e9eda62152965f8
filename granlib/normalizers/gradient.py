"""Normalisers built on the input gradient ∇ₓf: GraN (the paper's R(n) = n/(n²+ε) and its 1/(n+ε) ablation),
GN-GAN's f/(‖∇f‖+|f|), and GraN's "equivalent" form without f's offset. Their D step double-backprops through
∇ₓf; their generator step holds ‖∇ₓf‖ constant (exact a.e., see :mod:`granlib.gran`).

Their declarations (names, default K) are in :mod:`.builtin`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from granlib.gran import DEFAULT_EPS, GraN, per_sample_norm
from granlib.normalizers.discriminators import Discriminator


class GradientNormalizedDiscriminator(Discriminator):
    """GraN (``gran``, ``gran_inverse``) or GN-GAN (``gn``) around f; see :mod:`granlib.gran`."""

    def __init__(self, net: nn.Module, K: float, eps: float = DEFAULT_EPS, variant: str = "gran"):  # noqa: N803
        nn.Module.__init__(self)  # f lives once, inside GraN (see the ``net`` property)
        self.name = {"gran": "gran", "inverse": "gran_inverse", "gn": "gn", "floor": "gran_floor",
                     "scale_free": "gran_scalefree"}[variant]
        if not K > 0:
            raise ValueError(f"K must be > 0, got {K}")
        self.K = float(K)
        self.gran = GraN(net, eps=eps, K=K, variant=variant)

    @property
    def net(self) -> nn.Module:  # type: ignore[override]
        return self.gran.net

    def forward(self, x: Tensor, generator_step: bool = False) -> Tensor:
        return self.gran(x, generator_step=generator_step)


class ScaleFreeDiscriminator(GradientNormalizedDiscriminator):
    """GraN with ε_t = ε_rel · mean_b ‖∇ₓf‖² (a form of ours, see :mod:`granlib.gran`)."""

    def __init__(self, net: nn.Module, K: float, eps_rel: float):  # noqa: N803
        super().__init__(net, K, eps=eps_rel, variant="scale_free")


class EquivalentDiscriminator(Discriminator):
    """D(x) = K·⟨∇ₓf(x), x⟩/max(‖∇ₓf(x)‖, ε): on a region where f = wᵀx + b this is K·wᵀx/‖w‖, GraN's g (ε → 0)
    without its offset K·b/‖w‖, and ∇ₓD = K·w/‖w‖ there, as for GraN (ε only keeps D = 0 where f is flat).
    The D step double-backprops through ∇ₓf, as GraN's does; the generator step holds ∇ₓf constant (its
    derivative in x, f's Hessian, is 0 a.e.)."""

    name = "equivalent"

    def __init__(self, net: nn.Module, K: float, eps: float = DEFAULT_EPS):  # noqa: N803
        super().__init__(net, K)
        self.eps = float(eps)

    def forward(self, x: Tensor, generator_step: bool = False) -> Tensor:
        if not x.requires_grad:
            x = x.detach().requires_grad_(True)
        f = self.raw(x)
        (grad,) = torch.autograd.grad(f.sum(), x, create_graph=not generator_step, retain_graph=True)
        if generator_step:
            grad = grad.detach()
        n = per_sample_norm(grad).clamp_min(self.eps)  # max(‖∇ₓf‖, ε), float32 or wider
        inner = (grad * x).flatten(1).sum(dim=1)  # ⟨∇ₓf, x⟩
        # K·⟨∇f/‖∇f‖, x⟩; + 0·f keeps f's last bias in the graph with its true gradient, 0 (optimisers, DDP and
        # gradient checks then see every parameter)
        return self.K * inner / n + 0 * f


"""Normalisers built on the input gradient ∇ₓf: GraN (the paper's R(n) = n/(n²+ε) and its 1/(n+ε) ablation),
GN-GAN's f/(‖∇f‖+|f|), and GraN's "equivalent" form without f's offset. Their D step double-backprops through
∇ₓf; their generator step holds ‖∇ₓf‖ constant (exact a.e., see :mod:`granlib.gran`).

**GraN's default K = 0.1 (τ = 10).** In short full-width CIFAR-10 runs with the standard CNN and the
non-saturating loss, K = 1 collapsed (|g| ≈ 28, grey samples) where K = 0.1 trained; the committed CPU K sweep
(``results/rows/k_sweep.jsonl``, notebook 20) is where the choice is re-examined with the data behind it. The
equivalent form takes GraN's K (its ∇ₓD is GraN's on each region); GN-GAN's g = f/(‖∇f‖+|f|) has no scale, so 1.
"""

from __future__ import annotations

from functools import partial

import torch
from torch import Tensor, nn

from granlib.gran import DEFAULT_EPS, GraN, per_sample_norm
from granlib.normalizers.discriminators import Discriminator
from granlib.normalizers.registry import NormalizerSpec, register_normalizer

GRAN_DEFAULT_K = 0.1  # K = 1/τ of GraN and its forms; see the module docstring


class GradientNormalizedDiscriminator(Discriminator):
    """GraN (``gran``, ``gran_inverse``) or GN-GAN (``gn``) around f; see :mod:`granlib.gran`."""

    def __init__(self, net: nn.Module, K: float, eps: float = DEFAULT_EPS, variant: str = "gran"):  # noqa: N803
        nn.Module.__init__(self)  # f lives once, inside GraN (see the ``net`` property)
        self.name = {"gran": "gran", "inverse": "gran_inverse", "gn": "gn"}[variant]
        if not K > 0:
            raise ValueError(f"K must be > 0, got {K}")
        self.K = float(K)
        self.gran = GraN(net, eps=eps, K=K, variant=variant)

    @property
    def net(self) -> nn.Module:  # type: ignore[override]
        return self.gran.net

    def forward(self, x: Tensor, generator_step: bool = False) -> Tensor:
        return self.gran(x, generator_step=generator_step)


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


register_normalizer(NormalizerSpec(
    name="gn", label="gradient normalisation", build=partial(GradientNormalizedDiscriminator, variant="gn"),
    default_K=1.0, method_names={"ns": "GN-GAN"},
    formula=r"$D = K f/(\lVert\nabla f\rVert+\lvert f\rvert)$", reference="Wu et al. 2021", input_gradient=True))
register_normalizer(NormalizerSpec(
    name="gran", label="GraN", build=partial(GradientNormalizedDiscriminator, variant="gran"),
    default_K=GRAN_DEFAULT_K, hyperparameters={"eps": DEFAULT_EPS},
    method_names={"ns": "GraND-GAN", "wasserstein": "GraNC-GAN", "hinge": "GraN-GAN (hinge)"},
    paper_losses=("ns", "wasserstein"),
    formula=r"$g = K f\lVert\nabla f\rVert/(\lVert\nabla f\rVert^2+\epsilon)$",
    reference="Bhaskara et al. 2022", input_gradient=True, named_with_K=True))
register_normalizer(NormalizerSpec(
    name="gran_inverse", label="GraN with R(n) = 1/(n+ε)",
    build=partial(GradientNormalizedDiscriminator, variant="inverse"), default_K=GRAN_DEFAULT_K,
    hyperparameters={"eps": DEFAULT_EPS}, method_names={"ns": "GraND-GAN, 1/(n+ε) ablation"},
    formula=r"$g = K f/(\lVert\nabla f\rVert+\epsilon)$", reference="the paper's ablation of R",
    input_gradient=True, named_with_K=True))
register_normalizer(NormalizerSpec(
    name="equivalent", label="GraN's equivalent form", build=EquivalentDiscriminator, default_K=GRAN_DEFAULT_K,
    hyperparameters={"eps": DEFAULT_EPS},
    formula=r"$D = K\langle\nabla f/\lVert\nabla f\rVert, x\rangle$ (GraN without $f$'s offset)",
    reference="GraN's piecewise-linear form", input_gradient=True, named_with_K=True))

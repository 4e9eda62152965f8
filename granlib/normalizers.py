"""Discriminator normalisers as pluggable pieces, selected by name.

Every normaliser wraps a raw discriminator ``net`` (f: images -> one score per sample) into a
:class:`Discriminator` with the same three-method interface:

* ``forward(x, generator_step=False) -> [B]``: the score D(x) that the loss sees;
* ``penalty(real, fake) -> scalar``: a term added to the discriminator loss (WGAN-GP only);
* ``after_step()``: called after each optimiser step of D (weight clipping only).

K scales every baseline's output, D = K·f, as in the paper's study of K: with SN (and, softly, with GP/WC) f is
about 1-Lipschitz, so K·f is about K-Lipschitz. For GraN and GN, K = 1/τ divides inside the normalisation.

| name           | D(x)                                  | reference |
|----------------|---------------------------------------|-----------|
| ``none``       | K·f(x)                                | plain GAN |
| ``sn``         | K·f_SN(x), every conv/linear spectrally normalised | Miyato et al. 2018 |
| ``gp``         | K·f(x) + λ·E[(‖∇f(x̂)‖−1)²] in D's loss | Gulrajani et al. 2017 |
| ``wc``         | K·f(x), weights clipped to [−c, c]     | Arjovsky et al. 2017 |
| ``gn``         | K·f/(‖∇f‖+|f|)                         | Wu et al. 2021 (GN-GAN) |
| ``gran``       | K·f·n/(n²+ε)                           | Bhaskara et al. 2022 |
| ``gran_inverse``| K·f/(n+ε)                             | the paper's ablation of R |
| ``equivalent`` | K·⟨∇f(x)/‖∇f(x)‖, x⟩                   | GraN without f's offset b/‖w‖ (the "equivalent" form) |
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from granlib.gran import DEFAULT_EPS, DEFAULT_K, GraN, per_sample_norm

NORMALIZERS = ("none", "sn", "gp", "wc", "gn", "gran", "gran_inverse", "equivalent")
GRADIENT_NORMALIZERS = ("gn", "gran", "gran_inverse")  # normalisers built on GraN; their D step double-backprops
# K when none is given, the one table of these defaults: GraN's for its two forms and for "equivalent" (whose ∇ₓD is
# GraN's on each region); 1 for the baselines (their published form, D = f) and for GN-GAN, whose g = f/(‖∇f‖+|f|)
# has no scale.
DEFAULT_K_FOR = {"none": 1.0, "sn": 1.0, "gp": 1.0, "wc": 1.0, "gn": 1.0, "gran": DEFAULT_K, "gran_inverse": DEFAULT_K,
                 "equivalent": DEFAULT_K}
DEFAULT_GP_WEIGHT = 10.0  # λ of WGAN-GP (Gulrajani et al. 2017)
DEFAULT_CLIP = 0.01  # c of WGAN weight clipping (Arjovsky et al. 2017)
_GRAN_VARIANT = {"gran": "gran", "gran_inverse": "inverse", "gn": "gn"}  # normaliser name -> granlib.gran variant


def flat_scores(net: nn.Module, x: Tensor) -> Tensor:
    """net(x) as [B]; raises unless the net gives one scalar per sample."""
    out = net(x)
    if out.numel() != x.shape[0]:
        raise ValueError(f"discriminator must return one scalar per sample, got {tuple(out.shape)}")
    return out.reshape(x.shape[0])


class Discriminator(nn.Module):
    """D = K·f: the plain discriminator, and the base of every normaliser."""

    name = "none"

    def __init__(self, net: nn.Module, K: float = 1.0):
        super().__init__()
        if not K > 0:
            raise ValueError(f"K must be > 0, got {K}")
        self.net = net
        self.K = float(K)  # output scale, the Lipschitz constant targeted by the paper's study of K

    def raw(self, x: Tensor) -> Tensor:
        """The unnormalised f(x), [B]."""
        return flat_scores(self.net, x)

    def forward(self, x: Tensor, generator_step: bool = False) -> Tensor:
        return self.K * self.raw(x)

    def penalty(self, real: Tensor, fake: Tensor, alpha: Tensor | None = None) -> Tensor:
        """Extra D-loss term; ``alpha`` injects the interpolation weights where a penalty draws them."""
        return real.new_zeros(())

    @torch.no_grad()
    def after_step(self) -> None:
        """Hook run after every optimiser step of D."""


class SpectralNormDiscriminator(Discriminator):
    """Spectral norm (one power iteration per forward) on every Conv/Linear of f."""

    name = "sn"

    def __init__(self, net: nn.Module, K: float = 1.0):
        for module in list(net.modules()):
            if isinstance(module, (nn.Conv2d, nn.Linear, nn.ConvTranspose2d)):
                spectral_norm(module)
        super().__init__(net, K)


class GradientPenaltyDiscriminator(Discriminator):
    """WGAN-GP: λ·E[(‖∇ₓf(x̂)‖₂ − 1)²] on x̂ = αx_real + (1−α)x_fake, α ~ U[0,1] per sample (two-sided)."""

    name = "gp"

    def __init__(self, net: nn.Module, K: float = 1.0, gp_weight: float = DEFAULT_GP_WEIGHT):
        super().__init__(net, K)
        self.gp_weight = float(gp_weight)  # λ of Gulrajani et al.

    def penalty(self, real: Tensor, fake: Tensor, alpha: Tensor | None = None) -> Tensor:
        if alpha is None:
            alpha = torch.rand(real.shape[0], device=real.device, dtype=real.dtype)
        alpha = alpha.reshape(-1, *([1] * (real.dim() - 1)))
        x_hat = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
        (grad,) = torch.autograd.grad(self.raw(x_hat).sum(), x_hat, create_graph=True)
        norm = per_sample_norm(grad)  # float32 even under bf16 autocast
        return self.gp_weight * ((norm - 1) ** 2).mean()  # λ·E[(‖∇f(x̂)‖ − 1)²]


class WeightClippingDiscriminator(Discriminator):
    """WGAN: every parameter of f clamped to [−c, c] after each D step."""

    name = "wc"

    def __init__(self, net: nn.Module, K: float = 1.0, clip: float = DEFAULT_CLIP):
        super().__init__(net, K)
        self.clip = float(clip)  # c of Arjovsky et al.

    @torch.no_grad()
    def after_step(self) -> None:
        for p in self.net.parameters():
            p.clamp_(-self.clip, self.clip)


class GradientNormalizedDiscriminator(Discriminator):
    """GraN (``gran``, ``gran_inverse``) or GN-GAN (``gn``) around f; see :mod:`granlib.gran`."""

    def __init__(self, net: nn.Module, K: float | None = None, eps: float = DEFAULT_EPS,  # noqa: N803
                 variant: str = "gran"):
        nn.Module.__init__(self)  # f lives once, inside GraN (see the ``net`` property)
        self.name = {v: k for k, v in _GRAN_VARIANT.items()}[variant]
        K = default_K(self.name) if K is None else K
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

    def __init__(self, net: nn.Module, K: float = DEFAULT_K, eps: float = DEFAULT_EPS):  # noqa: N803
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


def default_K(normalizer: str) -> float:  # noqa: N802 - the paper's name
    """K used when none is given (:data:`DEFAULT_K_FOR`)."""
    if normalizer not in DEFAULT_K_FOR:
        raise ValueError(f"unknown normalizer {normalizer!r}; choose one of {NORMALIZERS}")
    return DEFAULT_K_FOR[normalizer]


def build_discriminator(
    normalizer: str,
    net: nn.Module,
    *,
    K: float | None = None,  # Lipschitz scale; None picks default_K(normalizer)
    eps: float = DEFAULT_EPS,  # ε of GraN's R(n)
    gp_weight: float = DEFAULT_GP_WEIGHT,  # λ of WGAN-GP
    clip: float = DEFAULT_CLIP,  # c of weight clipping
) -> Discriminator:
    """The one code path that turns a raw discriminator into a normalised one, by name."""
    K = default_K(normalizer) if K is None else K
    if normalizer == "none":
        return Discriminator(net, K)
    if normalizer == "sn":
        return SpectralNormDiscriminator(net, K)
    if normalizer == "gp":
        return GradientPenaltyDiscriminator(net, K, gp_weight=gp_weight)
    if normalizer == "wc":
        return WeightClippingDiscriminator(net, K, clip=clip)
    if normalizer in GRADIENT_NORMALIZERS:
        return GradientNormalizedDiscriminator(net, K, eps=eps, variant=_GRAN_VARIANT[normalizer])
    if normalizer == "equivalent":
        return EquivalentDiscriminator(net, K, eps=eps)
    raise ValueError(f"unknown normalizer {normalizer!r}; choose one of {NORMALIZERS}")


def gradient_norms(disc: Discriminator, x: Tensor) -> tuple[Tensor, Tensor]:
    """(‖∇ₓf‖, ‖∇ₓD‖) per sample, for logging; D's n held as in the generator step (a.e. exact)."""
    x = x.detach().requires_grad_(True)
    (grad_f,) = torch.autograd.grad(disc.raw(x).sum(), x)
    (grad_d,) = torch.autograd.grad(disc(x, generator_step=True).sum(), x)
    return grad_f.flatten(1).norm(dim=1), grad_d.flatten(1).norm(dim=1)

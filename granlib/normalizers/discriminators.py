"""The plain discriminator D = K·f and the baselines that constrain f itself: spectral normalisation, the gradient
penalty and weight clipping.

K scales every baseline's output, D = K·f, as in the paper's study of K: with SN (and, softly, with GP/WC) f is
about 1-Lipschitz, so K·f is about K-Lipschitz. Their declarations (names, default K) are in :mod:`.builtin`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from granlib.gran import per_sample_norm

DEFAULT_GP_WEIGHT = 10.0  # λ of WGAN-GP (Gulrajani et al. 2017)
DEFAULT_CLIP = 0.01  # c of WGAN weight clipping (Arjovsky et al. 2017)


def flat_scores(net: nn.Module, x: Tensor) -> Tensor:
    """net(x) as [B]; raises unless the net gives one scalar per sample."""
    out = net(x)
    if out.numel() != x.shape[0]:
        raise ValueError(f"discriminator must return one scalar per sample, got {tuple(out.shape)}")
    return out.reshape(x.shape[0])


class Discriminator(nn.Module):
    """D = K·f: the plain discriminator, and the base of every normaliser.

    * ``forward(x, generator_step=False) -> [B]``: the score D(x) that the loss sees;
    * ``penalty(real, fake) -> scalar``: a term added to the discriminator loss (WGAN-GP only);
    * ``after_step()``: called after each optimiser step of D (weight clipping only).
    """

    name = "none"

    def __init__(self, net: nn.Module, K: float):  # noqa: N803 - the paper's name
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

    def __init__(self, net: nn.Module, K: float):  # noqa: N803
        for module in list(net.modules()):
            if isinstance(module, (nn.Conv2d, nn.Linear, nn.ConvTranspose2d)):
                spectral_norm(module)
        super().__init__(net, K)


class GradientPenaltyDiscriminator(Discriminator):
    """WGAN-GP: λ·E[(‖∇ₓf(x̂)‖₂ − 1)²] on x̂ = αx_real + (1−α)x_fake, α ~ U[0,1] per sample (two-sided)."""

    name = "gp"

    def __init__(self, net: nn.Module, K: float, gp_weight: float = DEFAULT_GP_WEIGHT):  # noqa: N803
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

    def __init__(self, net: nn.Module, K: float, clip: float = DEFAULT_CLIP):  # noqa: N803
        super().__init__(net, K)
        self.clip = float(clip)  # c of Arjovsky et al.

    @torch.no_grad()
    def after_step(self) -> None:
        for p in self.net.parameters():
            p.clamp_(-self.clip, self.clip)


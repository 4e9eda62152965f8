r"""Piecewise gradient normalization (GraN), Bhaskara et al., WACV 2022 (arXiv 2111.03162).

A discriminator $f$ made of conv/linear layers and ReLU/LeakyReLU is *piecewise linear*: on each
linear region $\Omega_i$ of input space

$$f(x) = w_i^\top x + b_i, \qquad \nabla_x f(x) = w_i .$$

GraN divides $f$ by a function of its own gradient norm $n(x) = \lVert \nabla_x f(x) \rVert_2$:

$$g(x) = \frac{f(x)\, R(n(x))}{\tau}, \qquad R(n) = \frac{n}{n^2 + \epsilon}
\quad(\text{ablation: } R(n) = \tfrac{1}{n + \epsilon}),\qquad K = 1/\tau .$$

Because $n$ is constant on each region, $\nabla_x g = R(n)\, w_i / \tau$ there and

$$\lVert \nabla_x g \rVert = \frac{K\, n^2}{n^2 + \epsilon} < K ,$$

so $g$ is $K$-Lipschitz inside every region (piecewise $K$-Lipschitz); $g$ may jump at region
boundaries, which is why GraN constrains the gradient exactly without constraining single layers.

**Why the generator step needs no double backprop.** For the generator, $x = G(z)$ and the loss depends
on $g(x)$. Differentiating $g = f\,R(n)/\tau$ gives
$\nabla_x g = R(n)\nabla_x f/\tau + f\,R'(n)\nabla_x n/\tau$. The second term contains $\nabla_x n$,
which involves the Hessian of $f$; for a piecewise-linear net the Hessian is zero on every region
(ReLU'' = 0 where it is defined), so $\nabla_x n = 0$ almost everywhere (everywhere but the measure-zero
region boundaries). Holding $n$ constant therefore gives the *exact* gradient a.e. at the price of one
forward and one ordinary backward to get $n$, instead of building a second-order graph.
For GN ($g = f/(n + |f|)$) the $|f|$ term is kept differentiable, since it does depend on $x$.

**The discriminator step does need double backprop**: $n$ depends on D's parameters through $w_i$, so the
parameter gradient must flow through $\nabla_x f$ (``create_graph=True``).

**Two forms of ours, not the paper's** (for the study of where GraN collapses).
*Floored*: $\tilde R(n) = R(\max(n, \sqrt\epsilon))$. $R$ peaks at $n = \sqrt\epsilon$, so $\tilde R$ is continuous
there; below it $g = K f/(2\sqrt\epsilon)$ and $\lVert\nabla_x g\rVert = K n/(2\sqrt\epsilon) < K/2$, at and above it
$g$ is GraN's. The bound $\lVert\nabla_x g\rVert < K$ holds on every region, and $g$ no longer vanishes where $f$ is
nearly flat ($R(n) \to 0$ as $n \to 0$ is GraN's "flat-region trap").
*Scale-free*: $\epsilon_t = \epsilon_{rel}\,\overline{n^2}$, the mean over the batch (detached), so that $g$ does
not change when $f$ is multiplied by a constant; per sample it is GraN with a constant $\epsilon$, so the bound holds.

**Defaults.** ε = 1e-4 here. K has no default in this module: the wrapper is given the K it is to bound; the
library's default K per normaliser is declared once, with the reason for it, in :mod:`granlib.normalizers`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

VARIANTS = ("gran", "inverse", "gn", "floor", "scale_free")

DEFAULT_EPS = 1e-4  # ε of R(n) = n/(n²+ε); the one source of this default (configs resolve to it)


def refuse_batchnorm(net: nn.Module) -> None:
    """Raise if ``net`` holds BatchNorm: it couples samples, so ∇ₓ of the summed output is not per-sample."""
    for name, module in net.named_modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            raise ValueError(
                f"GraN needs a per-sample gradient, but '{name or type(net).__name__}' is "
                f"{type(module).__name__}, which mixes samples of a batch; remove BatchNorm from the discriminator"
            )


def at_least_float32(t: Tensor) -> Tensor:
    """bf16/fp16 activations are widened for the norm and the division; float64 stays float64."""
    return t if t.dtype in (torch.float32, torch.float64) else t.float()


def per_sample_norm(grad: Tensor) -> Tensor:
    """‖grad_b‖₂ over every dimension but the batch, in float32 or wider; no reshape, so a channels_last gradient
    is not copied into contiguous order first."""
    return torch.linalg.vector_norm(at_least_float32(grad), dim=tuple(range(1, grad.dim())))


def effective_eps(n: Tensor, eps: float, variant: str) -> Tensor | float:
    """The ε that R(n) uses: ``eps`` itself, or for ``scale_free`` ε_t = ε_rel · mean_b n_b² (``eps`` is ε_rel; the
    mean is over the batch D is called on, detached), which makes g invariant to the scale of f."""
    return eps * (n.detach() ** 2).mean() if variant == "scale_free" else eps


def normalize(f: Tensor, n: Tensor, eps: float, K: float, variant: str) -> Tensor:  # noqa: N803 - the paper's name
    """g from f and n = ‖∇ₓf‖ (both [B]); float32 or wider for the division."""
    tau = 1.0 / K  # divided, not multiplied by K: the arithmetic the committed runs used
    if variant == "gran":
        return f * n / (n * n + eps) / tau  # g = f · n/(n²+ε) / τ
    if variant == "inverse":
        return f / (n + eps) / tau  # g = f / (n+ε) / τ
    if variant == "floor":
        m = n.clamp_min(eps**0.5)  # R̃(n) = R(max(n, √ε)): below √ε, g = K·f/(2√ε) and ‖∇ₓg‖ = K·n/(2√ε) < K/2
        return f * m / (m * m + eps) / tau
    if variant == "scale_free":
        eps_t = effective_eps(n, eps, variant)
        return f * n / (n * n + eps_t) / tau  # g = f · n/(n²+ε_t) / τ, ε_t = ε_rel · mean_b n²
    return f / (n + f.abs()) / tau  # GN-GAN: g = f / (‖∇f‖ + |f|), τ still divides


class GraN(nn.Module):
    """Wrap a piecewise-linear discriminator ``net`` so that it returns g(x) of shape [B].

    Args:
        net: maps [B, ...] to B scalars (any shape with B elements); no BatchNorm.
        eps: ε > 0 in R(n) = n/(n²+ε) (or 1/(n+ε) for ``variant="inverse"``; ε_rel for ``"scale_free"``; unused by
            ``"gn"``).
        K: the Lipschitz bound K = 1/τ > 0 (g = K·f·R(n)).
        variant: ``"gran"``, ``"inverse"`` or ``"gn"`` (GN-GAN, Wu et al. 2021); two forms of ours, not the
            paper's: ``"floor"`` (R(max(n, √ε))) and ``"scale_free"`` (ε_t = ε · mean_b n², detached).
    """

    def __init__(self, net: nn.Module, eps: float = DEFAULT_EPS, *, K: float,  # noqa: N803
                 variant: str = "gran"):
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"unknown GraN variant {variant!r}; choose one of {VARIANTS}")
        if not eps > 0:
            raise ValueError(f"eps must be > 0, got {eps}")
        if not K > 0:
            raise ValueError(f"K must be > 0, got {K}")
        refuse_batchnorm(net)
        self.net = net
        self.eps = float(eps)
        self.K = float(K)  # noqa: N815 - the paper's name
        self.variant = variant

    def raw(self, x: Tensor) -> Tensor:
        """f(x) flattened to [B]; raises unless the net gives exactly one scalar per sample."""
        out = self.net(x)
        if out.numel() != x.shape[0]:
            raise ValueError(
                f"GraN needs one scalar per sample: net returned shape {tuple(out.shape)} for a batch of {x.shape[0]}"
            )
        return out.reshape(x.shape[0])

    def forward(self, x: Tensor, generator_step: bool = False) -> Tensor:
        g, _, _ = self.forward_with_stats(x, generator_step=generator_step)
        return g

    def forward_with_stats(self, x: Tensor, generator_step: bool = False) -> tuple[Tensor, Tensor, Tensor]:
        """(g, f, n), each [B]. ``generator_step=True`` holds n constant (a.e.-exact, no create_graph)."""
        if not x.requires_grad:
            x = x.detach().requires_grad_(True)
        f = self.raw(x)
        # n = ‖∇ₓf‖₂ per sample: samples are independent, so ∇ₓ Σ_b f_b gives every ∇ₓ f_b at once.
        (grad,) = torch.autograd.grad(f.sum(), x, create_graph=not generator_step, retain_graph=True)
        n = per_sample_norm(grad)
        if generator_step:
            n = n.detach()  # ∇ₓn = 0 a.e. for piecewise-linear f: dropping it is exact, not an approximation
        g = normalize(at_least_float32(f), n, self.eps, self.K, self.variant)
        return g, f, n

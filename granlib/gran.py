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

**Defaults.** The paper's text is not available in this workplace, so the defaults are not copied from it.
They were chosen from measurements on CIFAR-10 with the standard CNN and the non-saturating loss
(``../shared/notes/prototype-runs.md``, one H200, 50 s per run): with ε = 1e-4, K = 1 collapsed (|g| ≈ 28,
grey samples), while K = 0.1 (τ = 10) trained and gave the best feature distance of the GraN runs
(140 vs 231 for K = 10). Hence ``eps=1e-4`` and ``tau=10.0`` (K = 0.1); pass ``tau=1.0`` for K = 1.
ε is not only a guard against division by zero: it matters wherever $n^2 \lesssim \epsilon$. Measured in
notebook 02 (float64, 4 random inputs): the SNGAN standard CNN at PyTorch's default initialisation has
$n \approx 8.5\cdot10^{-4}$, so $n^2 \approx 7\cdot10^{-7} \ll \epsilon$ and GraN starts in its
$g \approx K f n/\epsilon$ regime, while the ResNet32 D has $n \approx 1.7$ and starts at $g \approx K f/n$.
A small CPU study on the CIFAR-10 JPEG copy (``params/cifar10_jpeg_cpu.yaml``: standard CNN at reduced width
ngf=64/ndf=16, batch 32, 2000 iterations, seeds 0 and 1, 1000-sample FD-EffNetLite0;
``results/rows/k_sweep.jsonl``) did not separate K ∈ {0.1, 1, 10} (FD 271 ± 11, 268 ± 4, 303 ± 59; K = 10 gave
345 and 261) and showed no collapse at K = 1 within that horizon, while max |g| at the last log grew with K (about
1.6, 8-11 and 39-59). The defaults therefore rest on the prototype's runs; the K sweep (notebook 20) on a GPU is
where they should be re-examined.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

VARIANTS = ("gran", "inverse", "gn")

DEFAULT_EPS = 1e-4  # ε of R(n) = n/(n²+ε); see the module docstring for how it was chosen
DEFAULT_TAU = 10.0  # τ = 1/K; K = 0.1 trained where K = 1 collapsed (prototype-runs.md)


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


def normalize(f: Tensor, n: Tensor, eps: float, tau: float, variant: str) -> Tensor:
    """g from f and n = ‖∇ₓf‖ (both [B]); float32 or wider for the division."""
    if variant == "gran":
        return f * n / (n * n + eps) / tau  # g = f · n/(n²+ε) / τ
    if variant == "inverse":
        return f / (n + eps) / tau  # g = f / (n+ε) / τ
    return f / (n + f.abs()) / tau  # GN-GAN: g = f / (‖∇f‖ + |f|), τ still divides


class GraN(nn.Module):
    """Wrap a piecewise-linear discriminator ``net`` so that it returns g(x) of shape [B].

    Args:
        net: maps [B, ...] to B scalars (any shape with B elements); no BatchNorm.
        eps: ε > 0 in R(n) = n/(n²+ε) (or 1/(n+ε) for ``variant="inverse"``; unused by ``"gn"``).
        tau: τ > 0; the Lipschitz bound is K = 1/τ.
        variant: ``"gran"``, ``"inverse"`` or ``"gn"`` (GN-GAN, Wu et al. 2021).
    """

    def __init__(self, net: nn.Module, eps: float = DEFAULT_EPS, tau: float = DEFAULT_TAU, variant: str = "gran"):
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"unknown GraN variant {variant!r}; choose one of {VARIANTS}")
        if not eps > 0:
            raise ValueError(f"eps must be > 0, got {eps}")
        if not tau > 0:
            raise ValueError(f"tau must be > 0, got {tau}")
        refuse_batchnorm(net)
        self.net = net
        self.eps = float(eps)
        self.tau = float(tau)
        self.variant = variant

    @property
    def K(self) -> float:  # noqa: N802 - the paper's name
        return 1.0 / self.tau

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
        g = normalize(at_least_float32(f), n, self.eps, self.tau, self.variant)
        return g, f, n

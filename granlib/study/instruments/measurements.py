"""Measurements on a trained discriminator, of 2-D points or of images, for the claims ledger.

* ‖∇ₓD‖ at four kinds of points (real, generated, their interpolates, off-data) and the share above K (P1, P3);
* finite-difference slopes |D(x+hu) − D(x)|/h, which see jumps where autograd sees one region only (P1);
* SN's layer-wise bound K·∏σᵢ against the measured ‖∇ₓD‖, and the layers' spectral norms under GraN (P2);
* jumps of D along segments between real and generated samples, against K·distance (C3);
* low-gradient plateaus of a run's parameter gradients (P6).

:func:`measure_discriminator` takes the first four together: what the ledger measures on every trained D.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor

from granlib.normalizers import Discriminator, gradient_norms
from granlib.study.instruments.lipschitz import jumps_along_line, layer_spectral_norms

POINT_KINDS = ("real", "generated", "interpolated", "off-data")
BOUND_TOLERANCE = 1e-3  # a point exceeds the bound K when ‖∇ₓD‖ > K·(1 + 1e-3)


def point_kinds(real: Tensor, fake: Tensor, box: float, seed: int = 0) -> dict[str, Tensor]:
    """Real points, generated points, x̂ = αx_real + (1−α)x_fake (α ~ U[0,1]) and uniform points on [−box, box]^d
    (2-D points or images alike)."""
    gen = torch.Generator().manual_seed(seed)
    n = min(len(real), len(fake))
    alpha = torch.rand(n, *[1] * (real.dim() - 1), generator=gen, dtype=real.dtype)  # one α per point, any shape
    off = (2 * torch.rand(n, *real.shape[1:], generator=gen, dtype=real.dtype) - 1) * box
    return {"real": real[:n], "generated": fake[:n], "interpolated": alpha * real[:n] + (1 - alpha) * fake[:n],
            "off-data": off}


def frozen_float64(disc: Discriminator) -> Discriminator:
    """A float64 copy of D in eval mode (spectral norm then reuses its vectors, as D did at its last step)."""
    return copy.deepcopy(disc).double().eval().requires_grad_(False)


def input_gradient_norms(disc: Discriminator, x: Tensor) -> Tensor:
    """‖∇ₓD(x)‖ per point; for GraN ‖∇ₓg‖ = K·n²/(n²+ε) on the point's region (exact a.e.)."""
    with torch.enable_grad():
        return gradient_norms(disc, x)[1]


def finite_difference_slopes(disc: Discriminator, x: Tensor, step: float = 1e-6, seed: int = 0) -> Tensor:
    """|D(x + h·u) − D(x)| / h per point, u a random unit direction: a crossing of a region boundary within h shows."""
    gen = torch.Generator().manual_seed(seed)
    u = torch.randn(x.shape, generator=gen, dtype=x.dtype)
    u = u / u.flatten(1).norm(dim=1).view(-1, *[1] * (x.dim() - 1))  # a unit vector per point (2-D or images)
    with torch.enable_grad():  # GraN needs autograd to evaluate g
        return (disc(x + step * u) - disc(x)).detach().abs() / step


def share_above(values: Tensor, bound: float, tolerance: float = BOUND_TOLERANCE) -> float:
    """Share of values above bound·(1 + tolerance)."""
    return float((values > bound * (1 + tolerance)).double().mean())


def gradient_report(disc: Discriminator, kinds: dict[str, Tensor], K: float,  # noqa: N803
                    fd_step: float = 1e-6) -> dict[str, float]:
    """Per kind of point: share of ‖∇ₓD‖ (autograd) and of finite-difference slopes above K, max and median ‖∇ₓD‖/K."""
    out = {}
    for kind, x in kinds.items():
        norms = input_gradient_norms(disc, x)
        slopes = finite_difference_slopes(disc, x, step=fd_step)
        out[f"grad_above_K[{kind}]"] = share_above(norms, K)
        out[f"fd_above_K[{kind}]"] = share_above(slopes, K)
        out[f"grad_max_over_K[{kind}]"] = float(norms.max() / K)
        out[f"grad_median_over_K[{kind}]"] = float(norms.median() / K)
    return out


def spectral_report(disc: Discriminator, kinds: dict[str, Tensor], seed: int = 0) -> dict[str, float]:
    """Layer spectral norms σᵢ of f (SN's are ≈ 1; power iteration seeded by ``seed``), SN's bound K·∏σᵢ on ‖∇ₓD‖,
    and the largest measured ‖∇ₓD‖ over every kind of point as a share of that bound."""
    shape = tuple(next(iter(kinds.values())).shape[1:])  # convs: at the image size
    sigmas = layer_spectral_norms(disc.net, shape, seed=seed)
    bound = disc.K * float(torch.tensor(sigmas, dtype=torch.float64).prod())
    measured = torch.cat([input_gradient_norms(disc, x) for x in kinds.values()])
    return {"sigma_product": bound / disc.K, "sigma_max": max(sigmas), "sigma_min": min(sigmas),
            "sigma_max_dev": max(abs(s - 1) for s in sigmas), "sn_bound": bound,
            "grad_max_over_bound": float(measured.max()) / bound,
            "grad_median_over_bound": float(measured.median()) / bound}


def segment_jumps(fn, starts: Tensor, ends: Tensor, K: float, points: int = 1001,  # noqa: N803
                  tolerance: float = BOUND_TOLERANCE) -> dict[str, float]:
    """Jumps of ``fn`` along segments a→b: a step of length h is a jump when |Δfn| > K·h·(1 + tolerance), more than
    a K-Lipschitz function can change over it.

    Returns the share of segments with a jump, jumps per segment, the largest jump over K·‖b − a‖ (median over
    segments) and the share of segments with |fn(b) − fn(a)| > K·‖b − a‖ (no global K-Lipschitz bound there).
    """
    with_jump, counts, largest, end_to_end = [], [], [], []
    for a, b in zip(starts, ends):
        length = float((b - a).norm())
        if length == 0:
            continue
        _, deltas = jumps_along_line(fn, a, (b - a) / length, length=length, points=points)
        h = length / (points - 1)
        jumps = deltas[deltas > K * h * (1 + tolerance)]
        with_jump.append(len(jumps) > 0)
        counts.append(len(jumps))
        largest.append(float(jumps.max()) / (K * length) if len(jumps) else 0.0)
        with torch.enable_grad():
            ends_values = fn(torch.stack([a, b])).detach()
        end_to_end.append(bool((ends_values[1] - ends_values[0]).abs() > K * length * (1 + tolerance)))
    n = max(len(with_jump), 1)
    largest_t = torch.tensor(largest or [0.0], dtype=torch.float64)
    return {"jump_share": sum(with_jump) / n, "jumps_per_segment": sum(counts) / n,
            "jump_median_over_K_length": float(largest_t.median()), "jump_max_over_K_length": float(largest_t.max()),
            "end_to_end_above_K": sum(end_to_end) / n}


def measure_discriminator(disc: Discriminator, real: Tensor, fake: Tensor, box: float, seed: int,
                          segments: int | None, segment_points: int) -> dict[str, float]:
    """P1-P3 and C3 on a trained D, in float64, at the real and generated points given: ‖∇ₓD‖ and finite-difference
    slopes at the four kinds of points (off-data uniform on [−box, box]^d), the layers' spectral norms against the
    measured slope (power iteration seeded by ``seed``) and, when ``segments``, the jumps along that many
    real→generated segments of ``segment_points`` points each. Nothing ({}) when a generated point is not finite."""
    disc = frozen_float64(disc)
    real, fake = real.double(), fake.double()
    if not torch.isfinite(fake).all():
        return {}
    kinds = point_kinds(real, fake, box, seed=seed)
    row = {**gradient_report(disc, kinds, disc.K), **spectral_report(disc, kinds, seed=seed)}
    if segments:
        row.update(segment_jumps(disc, real[:segments], fake[:segments], disc.K, points=segment_points))
    return row


def plateau_share(grad_norms: Tensor, relative: float = 0.05, quantile: float = 0.9) -> float:
    """Share of steps on a low-gradient plateau: ‖∇_θ L‖ below ``relative`` × the run's ``quantile`` of ‖∇_θ L‖
    (scale-free, so K's scaling of the gradient does not count as a plateau by itself)."""
    finite = grad_norms[torch.isfinite(grad_norms)].double()
    if len(finite) == 0:
        return float("nan")
    return float((finite < relative * torch.quantile(finite, quantile)).double().mean())

"""The built-in normalisers, declared once each: the table every part of granlib reads (:data:`NORMALIZERS`).

**Default K.** The baselines take K = 1, their published form D = f (with SN, and softly with GP or clipping, f is
about 1-Lipschitz, so K·f is about K-Lipschitz), and so does GN-GAN, whose g = f/(‖∇f‖+|f|) has no scale. GraN
takes K = 0.1 (τ = 10): in short full-width CIFAR-10 runs with the standard CNN and the non-saturating loss, K = 1
collapsed (|g| ≈ 28, grey samples) where K = 0.1 trained; the committed CPU K sweep
(``results/rows/k_sweep.jsonl``, notebook 20) is where the choice is re-examined with the data behind it. Its
ablation and its equivalent form take GraN's K (the equivalent form's ∇ₓD is GraN's on each region).
"""

from __future__ import annotations

from functools import partial

import granlib.normalizers.discriminators as constrained_f  # the baselines: D = K·f with f constrained
import granlib.normalizers.gradient as gradient  # the normalisers built on ∇ₓf
from granlib.gran import DEFAULT_EPS
from granlib.normalizers.registry import NormalizerSpec, register_normalizer

BASELINE_K = 1.0  # K of the baselines and GN-GAN: D = f as published
GRAN_K = 0.1  # K = 1/τ of GraN and its forms; see the module docstring

register_normalizer(NormalizerSpec(
    name="none", label="no normalisation", build=constrained_f.Discriminator, default_K=BASELINE_K,
    method_names={"ns": "GAN (no normalisation)"}, formula=r"$D = K f$", reference="Goodfellow et al. 2014"))
register_normalizer(NormalizerSpec(
    name="sn", label="spectral normalisation", build=constrained_f.SpectralNormDiscriminator, default_K=BASELINE_K,
    method_names={"ns": "SNGAN", "hinge": "SNGAN (hinge)"}, paper_losses=("ns",),
    formula=r"$D = K f_{\mathrm{SN}}$, every layer's weight divided by its spectral norm",
    reference="Miyato et al. 2018"))
register_normalizer(NormalizerSpec(
    name="gp", label="gradient penalty", build=constrained_f.GradientPenaltyDiscriminator, default_K=BASELINE_K,
    hyperparameters={"gp_weight": constrained_f.DEFAULT_GP_WEIGHT}, method_names={"wasserstein": "WGAN-GP"},
    formula=r"$D = K f$, plus $\lambda\,\mathbb E(\lVert\nabla f(\hat x)\rVert-1)^2$ in D's loss",
    reference="Gulrajani et al. 2017"))
register_normalizer(NormalizerSpec(
    name="wc", label="weight clipping", build=constrained_f.WeightClippingDiscriminator, default_K=BASELINE_K,
    hyperparameters={"clip": constrained_f.DEFAULT_CLIP}, method_names={"wasserstein": "WGAN (weight clipping)"},
    formula=r"$D = K f$, every weight clipped to $[-c, c]$", reference="Arjovsky et al. 2017"))
register_normalizer(NormalizerSpec(
    name="gn", label="gradient normalisation", build=partial(gradient.GradientNormalizedDiscriminator, variant="gn"),
    default_K=BASELINE_K, method_names={"ns": "GN-GAN"},
    formula=r"$D = K f/(\lVert\nabla f\rVert+\lvert f\rvert)$", reference="Wu et al. 2021", input_gradient=True))
register_normalizer(NormalizerSpec(
    name="gran", label="GraN", build=partial(gradient.GradientNormalizedDiscriminator, variant="gran"),
    default_K=GRAN_K,
    hyperparameters={"eps": DEFAULT_EPS},
    method_names={"ns": "GraND-GAN", "wasserstein": "GraNC-GAN", "hinge": "GraN-GAN (hinge)"},
    paper_losses=("ns", "wasserstein"), formula=r"$g = K f\lVert\nabla f\rVert/(\lVert\nabla f\rVert^2+\epsilon)$",
    reference="Bhaskara et al. 2022", input_gradient=True, named_with_K=True))
register_normalizer(NormalizerSpec(
    name="gran_inverse", label="GraN with R(n) = 1/(n+ε)",
    build=partial(gradient.GradientNormalizedDiscriminator, variant="inverse"), default_K=GRAN_K,
    hyperparameters={"eps": DEFAULT_EPS}, method_names={"ns": "GraND-GAN, 1/(n+ε) ablation"},
    formula=r"$g = K f/(\lVert\nabla f\rVert+\epsilon)$", reference="the paper's ablation of R",
    input_gradient=True, named_with_K=True))
register_normalizer(NormalizerSpec(
    name="equivalent", label="GraN's equivalent form", build=gradient.EquivalentDiscriminator, default_K=GRAN_K,
    hyperparameters={"eps": DEFAULT_EPS},
    formula=r"$D = K\langle\nabla f/\lVert\nabla f\rVert, x\rangle$ (GraN without $f$'s offset)",
    reference="GraN's piecewise-linear form", input_gradient=True, named_with_K=True))

# Two forms of ours, not the paper's (granlib.gran): the study of where GraN collapses compares them with GraN.
register_normalizer(NormalizerSpec(
    name="gran_floor", label="GraN with n floored at √ε (ours, not the paper's)",
    build=partial(gradient.GradientNormalizedDiscriminator, variant="floor"), default_K=GRAN_K,
    hyperparameters={"eps": DEFAULT_EPS}, method_names={"ns": "GraND-GAN, floored n (ours)"}, paper_losses=(),
    formula=r"$g = K f\,\tilde R(\lVert\nabla f\rVert)$, $\tilde R(n) = R(\max(n, \sqrt\epsilon))$",
    reference="this library's variant of GraN", input_gradient=True, named_with_K=True, variant_of="gran"))
# ε_rel keeps the initial ratio n₀²/ε of the published CIFAR CNN (D base width 64, N(0, 0.02) init, ε = 1e-4):
# mean n₀² over 192 uniform images and 3 seeds is 5.95e-5 (granlib.study.instruments.lipschitz.initial_gradient_norm
# measures its mean n₀), so ε_t = 1.68 · mean n² gives n²/ε_t ≈ 0.595 at every width and scale of f.
SCALE_FREE_EPS_REL = 1.68
register_normalizer(NormalizerSpec(
    name="gran_scalefree", label="GraN with a scale-free ε (ours, not the paper's)",
    build=gradient.ScaleFreeDiscriminator, default_K=GRAN_K, hyperparameters={"eps_rel": SCALE_FREE_EPS_REL},
    method_names={"ns": "GraND-GAN, scale-free ε (ours)"}, paper_losses=(),
    formula=r"$g = K f n/(n^2+\epsilon_t)$, $\epsilon_t = \epsilon_{rel}\,\overline{n^2}$ (batch mean, detached)",
    reference="this library's variant of GraN", input_gradient=True, named_with_K=True, variant_of="gran"))

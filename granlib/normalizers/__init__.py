"""Discriminator normalisers as pluggable pieces, declared once each in a registry and selected by name.

Every normaliser wraps a raw discriminator ``net`` (f: images -> one score per sample) into a
:class:`Discriminator` with one interface (``forward``, ``penalty``, ``after_step``), and is declared by a
:class:`NormalizerSpec` beside its class: its names, default K and hyper-parameters, and the GANs the paper builds
from it. :data:`NORMALIZERS` maps names to specs; :func:`build_discriminator` is the one code path from a name to a
discriminator. Built in, declared in one table (:mod:`.builtin`, with the reasons for their default K): ``none``,
``sn``, ``gp``, ``wc`` (:mod:`.discriminators`) and ``gn``, ``gran``, ``gran_inverse``, ``equivalent``
(:mod:`.gradient`); ``method_table(paper_methods())`` lists them as the paper does.

May import the top-level modules (``gran``, ``losses``); nothing else of granlib.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from granlib.normalizers import builtin  # noqa: F401 - registers the built-in normalisers
from granlib.normalizers.discriminators import (
    DEFAULT_CLIP,
    DEFAULT_GP_WEIGHT,
    Discriminator,
    GradientPenaltyDiscriminator,
    SpectralNormDiscriminator,
    WeightClippingDiscriminator,
    flat_scores,
)
from granlib.normalizers.gradient import EquivalentDiscriminator, GradientNormalizedDiscriminator
from granlib.normalizers.registry import (
    NORMALIZERS,
    NormalizerSpec,
    default_K,
    get_normalizer,
    method_label,
    method_table,
    paper_methods,
    parse_method,
    register_normalizer,
    unregister_normalizer,
)

__all__ = ["DEFAULT_CLIP", "DEFAULT_GP_WEIGHT", "NORMALIZERS", "Discriminator", "EquivalentDiscriminator",
           "GradientNormalizedDiscriminator", "GradientPenaltyDiscriminator", "NormalizerSpec",
           "SpectralNormDiscriminator", "WeightClippingDiscriminator", "build_discriminator", "default_K",
           "flat_scores", "get_normalizer", "gradient_norms", "method_label", "method_table", "paper_methods",
           "parse_method", "register_normalizer", "unregister_normalizer"]


def build_discriminator(normalizer: str, net: nn.Module, *, K: float | None = None,  # noqa: N803
                        **hyperparameters: float) -> Discriminator:
    """The one code path from a normaliser's name to a normalised discriminator around ``net``.

    ``K`` = None takes the normaliser's default; ``hyperparameters`` set its declared ones (ε, λ, c, …), each
    defaulting to its declared value. One it does not declare is refused, naming the normaliser and what it takes:
    a misspelt name, or another normaliser's setting, never goes unnoticed.
    """
    spec = get_normalizer(normalizer)
    unknown = set(hyperparameters) - set(spec.hyperparameters)
    if unknown:
        raise TypeError(f"normaliser {normalizer!r} takes no hyper-parameter {sorted(unknown)}; it takes "
                        f"{sorted(spec.hyperparameters) or 'none'}")
    own = {name: hyperparameters.get(name, default) for name, default in spec.hyperparameters.items()}
    disc = spec.build(net, K=spec.default_K if K is None else K, **own)
    disc.name = spec.name
    return disc


def gradient_norms(disc: Discriminator, x: Tensor) -> tuple[Tensor, Tensor]:
    """(‖∇ₓf‖, ‖∇ₓD‖) per sample, for logging; D's n held as in the generator step (a.e. exact)."""
    x = x.detach().requires_grad_(True)
    (grad_f,) = torch.autograd.grad(disc.raw(x).sum(), x)
    (grad_d,) = torch.autograd.grad(disc(x, generator_step=True).sum(), x)
    return grad_f.flatten(1).norm(dim=1), grad_d.flatten(1).norm(dim=1)

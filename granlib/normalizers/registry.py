"""The method registry: one declaration per normaliser, read by everything that names, builds or lists one.

A :class:`NormalizerSpec` says what a normaliser is called (in configs and rows, and as its source names it), how
it is built, its default K and other hyper-parameters, and which GANs the paper builds from it (loss → name). The
config resolution, the trainer, run-directory reloading, result tables, the ledgers, the cost study, profiles
(``methods: paper``) and the notebooks' method tables all read :data:`NORMALIZERS`; adding a normaliser is one
:func:`register_normalizer` call beside its class (see the README's worked example).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from functools import partial
from types import MappingProxyType

from torch import nn

from granlib.losses import LOSS_NAMES, LOSSES


@dataclass(frozen=True)
class NormalizerSpec:
    """What the library knows of one normaliser."""

    name: str  # the key in configs, profiles ("name/loss"), run directories and rows
    label: str  # the normaliser as its source names it, e.g. "GraN", "spectral normalisation"
    build: Callable[..., nn.Module]  # build(net, K=..., **hyperparameters) -> a granlib Discriminator
    default_K: float  # K when a config leaves it open  # noqa: N815 - the paper's name
    hyperparameters: Mapping[str, float] = field(default_factory=dict)  # build's other keywords, with defaults
    method_names: Mapping[str, str] = field(default_factory=dict)  # loss -> the GAN's name (in the paper or its source)
    paper_losses: tuple[str, ...] | None = None  # the losses of the paper's comparison; None: every named one
    formula: str = ""  # D(x) in LaTeX, for method tables
    reference: str = ""  # where the normaliser comes from
    input_gradient: bool = False  # D's forward uses ∇ₓf: the D step double-backprops and D may jump between regions
    named_with_K: bool = False  # K is part of the method (GraN's K = 1/τ): always shown beside its name
    variant_of: str | None = None  # a form of another normaliser made for a study (one of ours): its step costs what
    # that one's does, so the cost study times that one, and no paper comparison names it

    def __post_init__(self):
        if not self.default_K > 0:
            raise ValueError(f"normaliser {self.name!r}: default_K must be > 0, got {self.default_K}")
        unknown = (set(self.method_names) | set(self.paper_losses or ())) - set(LOSSES)
        if unknown:
            raise ValueError(f"normaliser {self.name!r}: method_names names unknown losses {sorted(unknown)}; "
                             f"losses: {list(LOSSES)}")
        object.__setattr__(self, "hyperparameters", MappingProxyType(dict(self.hyperparameters)))
        object.__setattr__(self, "method_names", MappingProxyType(dict(self.method_names)))
        if self.paper_losses is None:
            object.__setattr__(self, "paper_losses", tuple(self.method_names))


_REGISTRY: dict[str, NormalizerSpec] = {}
NORMALIZERS: Mapping[str, NormalizerSpec] = MappingProxyType(_REGISTRY)  # name -> spec, in registration order


def _declared_where(build: Callable) -> tuple:
    """What identifies a builder across re-imports and re-run notebook cells: its module and qualified name (and a
    partial's arguments), not the object, which a re-run defines anew."""
    if isinstance(build, partial):
        return (*_declared_where(build.func), build.args, tuple(sorted(build.keywords.items())))
    return getattr(build, "__module__", None), getattr(build, "__qualname__", repr(build))


def _same_declaration(a: NormalizerSpec, b: NormalizerSpec) -> bool:
    return _declared_where(a.build) == _declared_where(b.build) and all(
        getattr(a, f.name) == getattr(b, f.name) for f in fields(NormalizerSpec) if f.name != "build")


def register_normalizer(spec: NormalizerSpec) -> NormalizerSpec:
    """Add ``spec`` to :data:`NORMALIZERS`; returns it. Registering the same declaration again (a module imported
    twice, a notebook cell run again) replaces it with the new one; another normaliser under a taken name is
    refused."""
    if spec.name in _REGISTRY and not _same_declaration(_REGISTRY[spec.name], spec):
        raise ValueError(f"a different normaliser named {spec.name!r} is already registered")
    if "/" in spec.name or not spec.name:
        raise ValueError(f"normaliser name {spec.name!r}: a non-empty name without '/'")
    _REGISTRY[spec.name] = spec
    return spec


def unregister_normalizer(name: str) -> None:
    """Remove a normaliser registered by :func:`register_normalizer` (for code that registers one temporarily)."""
    _REGISTRY.pop(name, None)


def get_normalizer(name: str) -> NormalizerSpec:
    """The spec registered under ``name``; a ValueError naming the choices otherwise."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown normalizer {name!r}; choose one of {list(_REGISTRY)}")
    return _REGISTRY[name]


def default_K(normalizer: str) -> float:  # noqa: N802 - the paper's name
    """K used when none is given: the normaliser's declared default."""
    return get_normalizer(normalizer).default_K


def parse_method(method: str) -> tuple[str, str]:
    """'gran/ns' -> ('gran', 'ns'), both checked against the registry and :data:`granlib.losses.LOSSES`; a method
    written without a loss ('gran') takes the non-saturating one."""
    normalizer, _, loss = method.partition("/")
    get_normalizer(normalizer)
    loss = loss or "ns"
    if loss not in LOSSES:
        raise ValueError(f"method {method!r}: unknown loss {loss!r}; choose one of {list(LOSSES)}")
    return normalizer, loss


def method_label(method: str, loss: str | None = None, K: float | None = None) -> str:  # noqa: N803
    """The one name of a method, as the paper gives it: 'GraND-GAN' for 'gran/ns' (or ``method`` = 'gran' and
    ``loss`` = 'ns'), the pair spelled out where the paper has none ('weight clipping, hinge loss'). With ``K``,
    'GraND-GAN, K=0.1': K is shown where it is part of the method (GraN's K = 1/τ, the spec's ``named_with_K``)
    and for any other normaliser whose output it scales (K ≠ 1); None or NaN shows none."""
    normalizer, loss = parse_method(method) if loss is None else (method, loss)
    spec = get_normalizer(normalizer)
    name = spec.method_names.get(loss) or f"{spec.label}, {LOSS_NAMES.get(loss, loss)} loss"
    shown = K is not None and not math.isnan(K) and (spec.named_with_K or K != 1)
    return f"{name}, K={K:g}" if shown else name


def paper_methods() -> list[str]:
    """The paper's comparison as the registered normalisers declare it (their ``paper_losses``), as
    'normaliser/loss' in registration order: what a profile's ``methods: [paper]`` stands for."""
    return [f"{spec.name}/{loss}" for spec in _REGISTRY.values() for loss in spec.paper_losses]


def method_table(methods: Iterable[str]) -> str:
    """A Markdown table of ``methods`` ('normaliser/loss'): the spec, its name, the discriminator and the loss."""
    lines = ["| profile spec | name | discriminator | loss |", "|---|---|---|---|"]
    for method in methods:
        normalizer, loss = parse_method(method)
        spec = get_normalizer(normalizer)
        discriminator = f"{spec.label}: {spec.formula}" if spec.formula else spec.label
        source = f" ({spec.reference})" if spec.reference else ""
        lines.append(f"| `{normalizer}/{loss}` | **{method_label(normalizer, loss)}** | {discriminator}{source} | "
                     f"{LOSS_NAMES[loss]} |")
    return "\n".join(lines)

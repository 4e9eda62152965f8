"""The training configuration: one dataclass, one field per hyper-parameter, named presets, and
:func:`resolve_config`, the one place where a config's open defaults become numbers.

A config as written may leave fields open (``None``: "the library's default"); :func:`resolve_config` fills each
with the value this version of granlib uses, so that a run directory's ``config.json`` records numbers and a resume
notices when a library default has changed since the run started. :func:`validate_config` refuses impossible
values by field name before anything is written.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from granlib.gran import DEFAULT_EPS
from granlib.losses import LOSSES
from granlib.models import (
    CNN_VARIANTS,
    CONSTRUCTOR_INIT,
    DEFAULT_CNN_VARIANT,
    DEFAULT_INIT,
    DEFAULT_RESNET_UPSAMPLE,
    UPSAMPLING,
    published_widths,
)
from granlib.normalizers import DEFAULT_CLIP, DEFAULT_GP_WEIGHT, NORMALIZERS, default_K, get_normalizer
from granlib.training.devices import resolve_device
from granlib.training.fast_path import PRECISIONS, precision


class ConfigError(ValueError):
    """A config value is impossible or of the wrong type; the message names the field."""


@dataclass
class TrainConfig:
    # --- data
    dataset: str = "synthetic"  # a name of granlib.data, or "imagefolder:<path>"
    data_root: str | None = None  # None: $GRANLIB_DATA, else ./data
    dataset_variant: str = ""  # display label with the variant, e.g. "CIFAR-10 (JPEG-q75 copy)"; "" = the set's name
    resolution: int = 32  # image side in pixels
    in_memory: bool | None = None  # decode the whole set once into one uint8 tensor (on the GPU when training
    # there); False streams it from disk; None: in memory up to granlib.data.IN_MEMORY_MAX_BYTES (8 GiB)
    # --- models
    architecture: str = "cnn"  # "cnn" (standard CNN) or "resnet" (SNGAN/Mimicry ResNet)
    cnn_variant: str | None = None  # standard CNN discriminator (granlib.models.cnn); None = DEFAULT_CNN_VARIANT
    init: str | None = None  # weight initialisation (granlib.models); None = DEFAULT_INIT
    resnet_upsample: str | None = None  # ResNet generator's upsampling, bilinear | nearest; None = bilinear
    nz: int = 128  # latent dimension
    ngf: int | None = None  # generator base width; None = the published width
    ndf: int | None = None  # discriminator base width; None = the published width
    # --- normaliser and loss
    normalizer: str = "gran"  # a name of granlib.normalizers.NORMALIZERS: none | sn | gp | wc | gn | gran | …
    loss: str = "ns"  # ns (GraND-GAN with gran) | hinge | wasserstein (GraNC-GAN with gran)
    K: float | None = None  # Lipschitz scale K = 1/τ; None = the normaliser's declared default (its NormalizerSpec)
    eps: float | None = None  # ε of GraN's R(n) = n/(n²+ε); None = granlib.gran.DEFAULT_EPS
    gp_weight: float = DEFAULT_GP_WEIGHT  # λ of WGAN-GP
    clip: float = DEFAULT_CLIP  # c of WGAN weight clipping
    # hyper-parameters that a registered normaliser declares and that have no field above, by name; resolved to
    # the normaliser's declared defaults
    normalizer_options: dict[str, float] = field(default_factory=dict)
    # --- optimisation
    n_dis: int = 1  # discriminator steps per generator step
    batch_size_d: int = 64  # real (and fake) images per discriminator step
    batch_size_g: int = 128  # fake images per generator step
    lr_d: float = 2e-4
    lr_g: float = 2e-4
    betas_d: tuple[float, float] = (0.0, 0.9)
    betas_g: tuple[float, float] = (0.0, 0.9)
    lr_decay: str = "linear"  # "linear" (to 0 at the last iteration) or "none"
    ema_decay: float = 0.999  # EMA of G's weights; EMA-G is what gets evaluated
    ema_start: int = 0  # EMA-G copies G until this iteration
    iterations: int = 100_000  # generator iterations
    seed: int = 0
    # --- cadences (in generator iterations; 0 = never)
    log_every: int = 100
    sample_every: int = 1000
    checkpoint_every: int = 1000
    eval_every: int = 0
    eval_samples: int = 10_000  # generated images per periodic evaluation
    eval_feature_extractor: str = "inception"  # "inception" or "effnet_lite0" (offline proxy)
    probe_dataset: str | None = None  # real images of the probes logged with the stats (granlib.training.probes);
    # None = the training set; e.g. "imagefolder:<path>/test" for held-out images
    # --- execution
    device: str = "auto"  # "auto" = cuda if available, else cpu
    fast: bool | None = None  # fast path (bf16, channels_last, CUDA graphs); None = on for CUDA, off for CPU
    precision: str | None = None  # "fp32" | "bf16" (autocast, a fast-path measure); None = bf16 on the fast CUDA
    # path, fp32 elsewhere; resolved to what the run trains in (granlib.training.fast_path.precision)
    cuda_graph: bool = True  # on the fast CUDA path, replay each iteration from one CUDA graph (training.graphs)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        """From plain values (JSON, YAML); numbers written as strings (YAML 1.1 reads ``2e-4`` so) become numbers."""
        unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ConfigError(f"unknown config fields: {sorted(unknown)}")
        hints = typing.get_type_hints(cls)
        return cls(**{name: _coerce(name, value, hints[name]) for name, value in values.items()})

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        """From a .json or .yaml file (a ``preset`` key applies a preset first)."""
        text = Path(path).read_text()
        values = (yaml.safe_load(text) or {}) if str(path).endswith((".yaml", ".yml")) else json.loads(text)
        name = values.pop("preset", None)
        return preset(name, **values) if name else cls.from_dict(values)

    def replace(self, **changes) -> TrainConfig:
        return dataclasses.replace(self, **changes)


def _coerce(name: str, value, hint):
    """``value`` as the field's type: '2e-4' -> 2e-4 for a float, [0, 0.9] -> (0.0, 0.9) for the betas."""
    if value is None:
        return None
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    if bool in options:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"config field {name}: expected true or false, got {value!r}")
    if float in options or int in options:
        if isinstance(value, bool):
            raise ConfigError(f"config field {name}: expected a number, got {value!r}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"config field {name}: expected a number, got {value!r}") from None
        if float in options:
            return number
        if not number.is_integer():
            raise ConfigError(f"config field {name}: expected a whole number, got {value!r}")
        return int(number)
    if typing.get_origin(hint) is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"config field {name}: expected a mapping of names to numbers, got {value!r}")
        return {str(key): _coerce(f"{name}.{key}", number, float) for key, number in value.items()}
    if typing.get_origin(hint) is tuple:
        try:
            return tuple(float(v) for v in value)
        except (TypeError, ValueError):
            raise ConfigError(f"config field {name}: expected a list of numbers, got {value!r}") from None
    return value


def config_differences(old: dict, new: dict) -> list[str]:
    """Human-readable 'field: old -> new' lines for every field that differs."""
    keys = sorted(set(old) | set(new))
    return [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys if _normal(old.get(k)) != _normal(new.get(k))]


def _normal(value):
    return list(value) if isinstance(value, tuple) else value


def validate_config(config: TrainConfig) -> None:
    """Raise :class:`ConfigError` naming the first impossible field (checked before any file is written)."""
    choices = {"normalizer": tuple(NORMALIZERS), "loss": LOSSES, "architecture": ("cnn", "resnet"),
               "lr_decay": ("linear", "none"), "eval_feature_extractor": ("inception", "effnet_lite0"),
               "precision": (None, *PRECISIONS),
               "init": (None, CONSTRUCTOR_INIT.get(config.architecture), "normal_0.02"),
               "cnn_variant": (None, *CNN_VARIANTS) if config.architecture == "cnn" else (None,),
               "resnet_upsample": (None, *UPSAMPLING) if config.architecture == "resnet" else (None,)}
    for name, allowed in choices.items():
        if getattr(config, name) not in allowed:
            raise ConfigError(f"config field {name}: {getattr(config, name)!r} is not one of {list(allowed)}")
    at_least_one = ("iterations", "n_dis", "batch_size_d", "batch_size_g", "nz", "resolution")
    for name in at_least_one:
        if getattr(config, name) < 1:
            raise ConfigError(f"config field {name} must be at least 1, got {getattr(config, name)}")
    for name in ("log_every", "sample_every", "checkpoint_every", "eval_every", "ema_start"):
        if getattr(config, name) < 0:
            raise ConfigError(f"config field {name} must be 0 (never) or positive, got {getattr(config, name)}")
    declared = set(get_normalizer(config.normalizer).hyperparameters)
    for name, unset in UNSET_HYPERPARAMETERS.items():  # a config field of another normaliser's hyper-parameter
        if name not in declared and getattr(config, name) != unset:
            raise ConfigError(f"config field {name}: normaliser {config.normalizer!r} takes no {name} (its "
                              f"hyper-parameters: {sorted(declared) or 'none'})")
    options = declared - FIELD_NAMES
    unknown = set(config.normalizer_options) - options
    if unknown:
        raise ConfigError(f"config field normalizer_options: {config.normalizer!r} takes no {sorted(unknown)} "
                          f"(its options: {sorted(options)})")
    for name in ("lr_d", "lr_g", "K", "eps", "gp_weight", "clip", "ngf", "ndf", "eval_samples"):
        value = getattr(config, name)
        if value is not None and not value > 0:
            raise ConfigError(f"config field {name} must be > 0, got {value}")
    if not 0 <= config.ema_decay < 1:
        raise ConfigError(f"config field ema_decay must be in [0, 1), got {config.ema_decay}")
    for name in ("betas_d", "betas_g"):
        betas = getattr(config, name)
        if len(betas) != 2 or not all(0 <= b < 1 for b in betas):
            raise ConfigError(f"config field {name} must be two numbers in [0, 1), got {betas}")


def resolve_config(config: TrainConfig) -> TrainConfig:
    """The config with every open default replaced by this library version's value (after validation).

    K and the options per normaliser (its :class:`granlib.normalizers.NormalizerSpec`), ε
    (:data:`granlib.gran.DEFAULT_EPS`), the published widths and CNN variant/initialisation (:mod:`granlib.models`),
    the device ("auto" -> cuda or cpu), the fast path (on for CUDA) and the precision the run trains in
    (:func:`granlib.training.fast_path.precision`: a bf16 request on a CPU without bf16 becomes fp32). ``in_memory``
    depends on the dataset's size and is resolved where it is loaded (:func:`granlib.data.holds_in_memory`).
    """
    validate_config(config)
    device = resolve_device(config.device)
    fast = device.type == "cuda" if config.fast is None else config.fast
    if config.precision == "bf16" and not fast:
        raise ConfigError("config field precision: 'bf16' is a measure of the fast path, and this run takes the "
                          "reference path (eager fp32); set fast: true")
    ngf, ndf = published_widths(config.architecture, config.resolution)
    resnet = config.architecture == "resnet"
    declared = get_normalizer(config.normalizer).hyperparameters
    return config.replace(
        K=default_K(config.normalizer) if config.K is None else config.K,
        normalizer_options={name: config.normalizer_options.get(name, default)
                            for name, default in get_normalizer(config.normalizer).hyperparameters.items()
                            if name not in FIELD_NAMES},
        eps=(DEFAULT_EPS if config.eps is None else config.eps) if "eps" in declared else None,
        cnn_variant=None if resnet else (config.cnn_variant or DEFAULT_CNN_VARIANT),
        init=config.init or DEFAULT_INIT[config.architecture],
        resnet_upsample=(config.resnet_upsample or DEFAULT_RESNET_UPSAMPLE) if resnet else None,
        ngf=config.ngf or ngf, ndf=config.ndf or ndf,
        device=str(device), fast=fast, precision=precision(fast, device.type, config.precision))


FIELD_NAMES = frozenset(f.name for f in dataclasses.fields(TrainConfig))
# The config fields that are one normaliser's hyper-parameter (GraN's ε, WGAN-GP's λ, clipping's c), as a config of
# any other normaliser must leave them: unset (ε) or at the library's value.
UNSET_HYPERPARAMETERS = {"eps": None, "gp_weight": DEFAULT_GP_WEIGHT, "clip": DEFAULT_CLIP}


def normalizer_arguments(config: TrainConfig) -> dict[str, float]:
    """The keyword arguments of ``config.normalizer``'s declared hyper-parameters (ε, λ, c, or an option of a
    registered normaliser), read from the config: what the trainer and a reloaded run build D with."""
    return {name: getattr(config, name) if name in FIELD_NAMES else config.normalizer_options[name]
            for name in get_normalizer(config.normalizer).hyperparameters}


# The optimisation settings that change what a run computes (beside data, networks, method, K, ε and seed, which
# every row names on its own): part of every result row's run key, so rows of two protocols are never one run.
RUN_SETTINGS = ("nz", "n_dis", "batch_size_d", "batch_size_g", "lr_d", "lr_g", "betas_d", "betas_g", "lr_decay",
                "ema_decay", "ema_start")


def run_settings(config: TrainConfig) -> dict:
    """The settings of a resolved ``config`` that a result row's run key adds to its data, networks, method, K and
    seed: :data:`RUN_SETTINGS` (betas as text, "0,0.9"), the normaliser's declared hyper-parameters (ε, λ, c or
    options, as sorted JSON text) and the precision it trains in."""
    settings = {name: getattr(config, name) for name in RUN_SETTINGS}
    for name in ("betas_d", "betas_g"):
        settings[name] = ",".join(f"{beta:g}" for beta in settings[name])
    settings["hyperparameters"] = json.dumps(normalizer_arguments(config), sort_keys=True)
    settings["precision"] = precision(  # the trainer's own decision
        bool(config.fast), resolve_device(config.device).type, config.precision)
    return settings


def upgrade_saved_config(saved: dict) -> dict:
    """A ``config.json`` written by an earlier version of granlib, as this version spells it (the values it was
    trained with, under today's field names); every reader of a saved config goes through here."""
    saved = dict(saved)
    if saved.get("architecture") == "cnn" and "cnn_variant" not in saved:  # written before the CNN had variants:
        saved.update(cnn_variant="paper_table", init="pytorch")  # the only net and initialisation there were then
    saved.setdefault("normalizer_options", {})  # written before normalisers could declare options of their own
    if saved.get("normalizer") in NORMALIZERS:  # written when every config carried ε (and λ, c) for all methods
        declared = get_normalizer(saved["normalizer"]).hyperparameters
        saved.update({name: unset for name, unset in UNSET_HYPERPARAMETERS.items() if name not in declared})
    if "precision" not in saved:  # written before precision was a field: bf16 was the fast CUDA path's, and only its
        fast_cuda = bool(saved.get("fast")) and str(saved.get("device", "")).startswith("cuda")
        saved["precision"] = "bf16" if fast_cuda else "fp32"
    return saved


PRESETS: dict[str, dict] = {
    # Mimicry's protocol (Lee & Town 2020): ResNet, 100k iterations, n_dis=5, Adam 2e-4 (0, 0.9), batch 64,
    # linear decay.
    "mimicry_resnet": dict(architecture="resnet", n_dis=5, batch_size_d=64, batch_size_g=64, lr_d=2e-4, lr_g=2e-4,
                           betas_d=(0.0, 0.9), betas_g=(0.0, 0.9), lr_decay="linear", iterations=100_000),
    # GN-GAN's CNN configuration (Wu et al. 2021): standard CNN, n_dis=1, D batch 64, G batch 128.
    "gngan_cnn": dict(architecture="cnn", n_dis=1, batch_size_d=64, batch_size_g=128, lr_d=2e-4, lr_g=2e-4,
                      betas_d=(0.0, 0.9), betas_g=(0.0, 0.9), lr_decay="linear", iterations=100_000),
    # Tiny CPU model for tests and the smoke profile: not a result.
    "tiny": dict(architecture="cnn", ngf=32, ndf=8, nz=16, batch_size_d=8, batch_size_g=8, iterations=20,
                 log_every=5, sample_every=10, checkpoint_every=10, dataset="synthetic", device="cpu"),
}


def preset(name: str, **overrides) -> TrainConfig:
    """A named protocol with ``overrides`` applied on top."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    return TrainConfig.from_dict({**PRESETS[name], **overrides})

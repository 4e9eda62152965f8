"""The training configuration: one dataclass, one field per hyper-parameter, and named presets."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path


@dataclass
class TrainConfig:
    # --- data
    dataset: str = "synthetic"  # a name of granlib.data, or "imagefolder:<path>"
    data_root: str | None = None  # None: $GRANLIB_DATA, else ./data
    dataset_variant: str = ""  # provenance label; "" derives one from the name (granlib.data.dataset_label)
    resolution: int = 32  # image side in pixels
    in_memory: bool | None = None  # decode the whole set once into one uint8 tensor (on the GPU when training
    # there); False streams it from disk; None: in memory up to granlib.data.IN_MEMORY_MAX_BYTES (8 GiB)
    # --- models
    architecture: str = "cnn"  # "cnn" (SNGAN standard CNN) or "resnet" (SNGAN/Mimicry ResNet)
    nz: int = 128  # latent dimension
    ngf: int | None = None  # generator base width; None = the published width
    ndf: int | None = None  # discriminator base width; None = the published width
    # --- normaliser and loss
    normalizer: str = "gran"  # none | sn | gp | wc | gn | gran | gran_inverse
    loss: str = "ns"  # ns (GraND-GAN with gran) | hinge | wasserstein (GraNC-GAN with gran)
    K: float | None = None  # Lipschitz scale K = 1/τ; None = granlib.normalizers.default_K(normalizer)
    eps: float = 1e-4  # ε of GraN's R(n) = n/(n²+ε)
    gp_weight: float = 10.0  # λ of WGAN-GP
    clip: float = 0.01  # c of WGAN weight clipping
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
    # --- execution
    device: str = "auto"  # "auto" = cuda if available, else cpu
    fast: bool | None = None  # fast path (bf16, channels_last, CUDA graphs); None = on for CUDA, off for CPU
    cuda_graph: bool = True  # on the fast CUDA path, replay each iteration from one CUDA graph (granlib.graphs)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown config fields: {sorted(unknown)}")
        values = dict(values)
        for name in ("betas_d", "betas_g"):
            if name in values:
                values[name] = tuple(values[name])
        return cls(**values)

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        """From a .json or .yaml file (a ``preset`` key applies a preset first)."""
        text = Path(path).read_text()
        if str(path).endswith((".yaml", ".yml")):
            import yaml

            values = yaml.safe_load(text) or {}
        else:
            values = json.loads(text)
        name = values.pop("preset", None)
        return preset(name, **values) if name else cls.from_dict(values)

    def replace(self, **changes) -> TrainConfig:
        return dataclasses.replace(self, **changes)


def config_differences(old: dict, new: dict) -> list[str]:
    """Human-readable 'field: old -> new' lines for every field that differs."""
    keys = sorted(set(old) | set(new))
    return [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys if _normal(old.get(k)) != _normal(new.get(k))]


def _normal(value):
    return list(value) if isinstance(value, tuple) else value


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
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    return TrainConfig.from_dict({**PRESETS[name], **overrides})

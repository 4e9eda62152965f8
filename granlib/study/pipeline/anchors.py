"""Published numbers used as anchors in the result tables, each with the protocol it was measured under. Never
ours: every row names its source.

Every anchor carries :data:`ANCHOR_KEYS`: the dataset (label and ``dataset_key``, as
:func:`granlib.data.dataset_identity` gives it), resolution, architecture (``cnn``/``resnet``) and CNN variant
(:mod:`granlib.models.cnn`), method and loss as granlib spells them, generator iterations, the number of generated
(``n_fake``) and real (``n_real``) images, the split the reference statistics come from, the metric, the values
(``fid``, and ``is``/``kid`` where published) and the source. A field the source does not state is ``None`` (shown
as "not stated"); a number whose source names no dataset has no key and joins nothing.

What each source states, as read in it:

* pytorch-gan-collections (Y.-L. Wu, GN-GAN's first author), README "Results": CIFAR-10 at 32×32, "FID is
  calculated by 50k generated images and CIFAR10 train set" (the number of real images is not stated); its configs
  (``configs/*_CIFAR10_{CNN,RES}.txt``) train 100k generator steps, SNGAN with the hinge loss, WGAN and WGAN-GP with
  the Wasserstein loss; its CNN discriminator (``source/models/*.py``, ``Discriminator32``) is the
  ``reference_code`` net, its ResNet the SNGAN ResNet of Mimicry's layout.
* Mimicry (Lee & Town 2020), README "Baselines": ResNet backbones, 100K iterations (``n_iter``), FID from "50K
  real/generated samples", the split of each dataset in its "Datasets" table (which its FID code draws the real
  images from); SNGAN with its default hinge loss, WGAN-GP with the Wasserstein loss.
* The GraN-GAN paper's Fig. 1: the dataset is not named in the text of the caption available to this project, nor
  any protocol field, so these rows are attached to no dataset.

Values are Inception FIDs/ISs/KIDs on the original datasets: not comparable with anything computed on a different
data copy, with a proxy feature extractor, or under another protocol (FID falls with more samples and training).
"""

from __future__ import annotations

import math

from granlib.data import LABELS

_KEYS = {label: key for key, label in LABELS.items()}  # "CIFAR-10" -> "cifar10"

PAPER_FIG1 = ("GraN-GAN paper, Fig. 1 (Bhaskara et al. 2022); the dataset is not named in the text of the caption "
              "available to this project, so these are attached to no dataset")
MIMICRY = "Mimicry README, Baselines (Lee & Town 2020), github.com/kwotsin/mimicry"
PYTORCH_GAN_COLLECTIONS = ("pytorch-gan-collections README, Results (Y.-L. Wu), "
                           "github.com/w86763777/pytorch-gan-collections")
SOURCE_NAMES = {PAPER_FIG1: "GraN-GAN paper, Fig. 1", MIMICRY: "Mimicry",
                PYTORCH_GAN_COLLECTIONS: "pytorch-gan-collections"}  # short names for headings

ANCHOR_KEYS = ("dataset", "dataset_key", "resolution", "architecture", "cnn_variant", "method", "loss", "iterations",
               "n_fake", "n_real", "reference_split", "metric", "fid", "is", "kid", "source")
NOT_STATED = "not stated"
NETWORK_NAMES = {"cnn": "standard CNN", "resnet": "ResNet"}
SPLIT_STATISTICS = {"train": "training-set statistics", "test": "test-set statistics",
                    "unlabeled": "unlabeled-split statistics", "all": "statistics of all splits"}


def _anchor(source: str, dataset: str, method: str, loss: str, *, resolution: int | None, architecture: str | None,
            cnn_variant: str | None, iterations: int | None, n_fake: int | None, n_real: int | None,
            reference_split: str | None, fid: float, is_: float | None = None, kid: float | None = None) -> dict:
    """One anchor with every key of :data:`ANCHOR_KEYS` (keyword-only protocol: none can be left out by accident)."""
    return {"dataset": dataset, "dataset_key": _KEYS.get(dataset), "resolution": resolution,
            "architecture": architecture, "cnn_variant": cnn_variant, "method": method, "loss": loss,
            "iterations": iterations, "n_fake": n_fake, "n_real": n_real, "reference_split": reference_split,
            "metric": "FID", "fid": fid, "is": is_, "kid": kid, "source": source}


_UNSTATED = dict(resolution=None, architecture=None, cnn_variant=None, iterations=None, n_fake=None, n_real=None,
                 reference_split=None)
# pytorch-gan-collections: CIFAR-10 32×32, 100k generator steps, 50k generated vs the training set's statistics.
_PGC = dict(resolution=32, iterations=100_000, n_fake=50_000, n_real=None, reference_split="train")
_PGC_CNN = dict(_PGC, architecture="cnn", cnn_variant="reference_code")
_PGC_RESNET = dict(_PGC, architecture="resnet", cnn_variant=None)
# Mimicry: ResNet, 100K iterations, 50K generated vs 50K real; resolution and split per dataset.
_MIMICRY = dict(architecture="resnet", cnn_variant=None, iterations=100_000, n_fake=50_000, n_real=50_000)

ANCHORS: list[dict] = [
    _anchor(PAPER_FIG1, "not stated", "gp", "wasserstein", fid=13.6, **_UNSTATED),
    _anchor(PAPER_FIG1, "not stated", "sn", "ns", fid=13.2, **_UNSTATED),
    _anchor(PAPER_FIG1, "not stated", "gran", "ns", fid=10.8, **_UNSTATED),
    _anchor(PYTORCH_GAN_COLLECTIONS, "CIFAR-10", "sn", "hinge", fid=17.81, is_=7.84, **_PGC_CNN),
    _anchor(PYTORCH_GAN_COLLECTIONS, "CIFAR-10", "gp", "wasserstein", fid=19.83, is_=7.66, **_PGC_CNN),
    _anchor(PYTORCH_GAN_COLLECTIONS, "CIFAR-10", "wc", "wasserstein", fid=40.03, is_=6.62, **_PGC_CNN),
    _anchor(PYTORCH_GAN_COLLECTIONS, "CIFAR-10", "sn", "hinge", fid=14.32, is_=8.31, **_PGC_RESNET),
    _anchor(PYTORCH_GAN_COLLECTIONS, "CIFAR-10", "gp", "wasserstein", fid=16.95, is_=7.95, **_PGC_RESNET),
    _anchor(MIMICRY, "CIFAR-10", "gp", "wasserstein", fid=22.29, is_=7.33, kid=0.0204, resolution=32,
            reference_split="train", **_MIMICRY),
    _anchor(MIMICRY, "CIFAR-10", "sn", "hinge", fid=16.77, is_=7.97, kid=0.0125, resolution=32,
            reference_split="train", **_MIMICRY),
    _anchor(MIMICRY, "CIFAR-100", "sn", "hinge", fid=22.61, is_=7.57, kid=0.0156, resolution=32,
            reference_split="train", **_MIMICRY),
    _anchor(MIMICRY, "STL-10", "gp", "wasserstein", fid=43.01, is_=8.55, kid=0.0440, resolution=48,
            reference_split="unlabeled", **_MIMICRY),
    _anchor(MIMICRY, "STL-10", "sn", "hinge", fid=39.56, is_=8.04, kid=0.0369, resolution=48,
            reference_split="unlabeled", **_MIMICRY),
    _anchor(MIMICRY, "CelebA", "sn", "hinge", fid=5.71, is_=2.68, kid=0.0033, resolution=64, reference_split="all",
            **_MIMICRY),
    _anchor(MIMICRY, "LSUN bedroom", "sn", "hinge", fid=25.87, is_=2.30, kid=0.0141, resolution=128,
            reference_split="train", **_MIMICRY),
]


def _stated(value: object) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def like_for_like(dataset_key: str | None, resolution: int | None, architecture: str | None, method: str, loss: str,
                  cnn_variant: str | None = None) -> list[dict]:
    """The anchors measured on the same dataset key, resolution, architecture, method and loss; a CNN variant given
    here and stated by the anchor must agree too. An anchor without a dataset key matches nothing."""
    if not (_stated(dataset_key) and _stated(resolution) and _stated(architecture)):
        return []
    return [a for a in ANCHORS if a["dataset_key"] is not None
            and (a["dataset_key"], a["resolution"], a["architecture"], a["method"], a["loss"])
            == (dataset_key, resolution, architecture, method, loss)
            and not (_stated(cnn_variant) and _stated(a["cnn_variant"]) and a["cnn_variant"] != cnn_variant)]


def count(n: float | None, short: bool = False) -> str:
    """'50 000' (or '50k' when ``short``) from a number of images or iterations; "not stated" for None."""
    if not _stated(n):
        return NOT_STATED
    n = int(n)
    return f"{n // 1000}k" if short and n % 1000 == 0 and n else f"{n:,}".replace(",", " ")


def network(architecture: str | None, cnn_variant: str | None = None) -> str:
    """'standard CNN (reference_code)', 'ResNet', or "not stated"."""
    if not _stated(architecture):
        return NOT_STATED
    name = NETWORK_NAMES.get(architecture, architecture)
    return f"{name} ({cnn_variant})" if _stated(cnn_variant) else name


def statistics(reference_split: str | None) -> str:
    """'training-set statistics' from 'train'; "not stated" for None."""
    return SPLIT_STATISTICS.get(reference_split, f"{reference_split} statistics") if _stated(reference_split) \
        else NOT_STATED


def protocol(anchor: dict) -> str:
    """The anchor's protocol in one line, as a column heading names it: source, iterations, n generated vs n real
    and the reference statistics (n real "not stated" where the source does not give it). The network is not
    named: an anchor sits only beside rows of its own network."""
    iterations = f"{count(anchor['iterations'], short=True)} iterations" if _stated(anchor["iterations"]) \
        else f"iterations {NOT_STATED}"
    reference = statistics(anchor["reference_split"]) if _stated(anchor["reference_split"]) \
        else f"reference statistics {NOT_STATED}"
    generated = f"{count(anchor['n_fake'], short=True)} generated" if _stated(anchor["n_fake"]) \
        else f"n generated {NOT_STATED}"
    real = (f"{count(anchor['n_real'], short=True)} real, {reference}" if _stated(anchor["n_real"])
            else f"{reference}, n real {NOT_STATED}")
    return f"{SOURCE_NAMES[anchor['source']]}, {iterations}, {generated} vs {real}"

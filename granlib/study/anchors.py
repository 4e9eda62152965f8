"""Published numbers used as anchors in the result tables. Never ours: every row names its source.

Values were read from the sources named; they are Inception FIDs/ISs/KIDs on the original datasets and are
not comparable with anything computed on a different data copy or with a proxy feature extractor. Rows are joined
with granlib's on ``dataset_key`` (:func:`granlib.data.dataset_identity`); a number whose source does not name
its dataset has no key and joins nothing.
"""

from granlib.data import LABELS

_KEYS = {label: key for key, label in LABELS.items()}  # "CIFAR-10" -> "cifar10"


PAPER_FIG1 = ("GraN-GAN paper, Fig. 1 (Bhaskara et al. 2022); the dataset is not named in the text of the caption "
              "available to this project, so these are attached to no dataset")
MIMICRY = "Mimicry README baselines (Lee & Town 2020), ResNet, 100k iterations, 50k samples"

ANCHORS: list[dict] = [
    {"dataset": "not stated", "method": "gp", "loss": "wasserstein", "fid": 13.6, "source": PAPER_FIG1},
    {"dataset": "not stated", "method": "sn", "loss": "ns", "fid": 13.2, "source": PAPER_FIG1},
    {"dataset": "not stated", "method": "gran", "loss": "ns", "fid": 10.8, "source": PAPER_FIG1},
    {"dataset": "CIFAR-10", "method": "gp", "loss": "wasserstein", "fid": 22.29, "is": 7.33, "kid": 0.0204,
     "source": MIMICRY},
    {"dataset": "CIFAR-10", "method": "sn", "loss": "hinge", "fid": 16.77, "is": 7.97, "kid": 0.0125,
     "source": MIMICRY},
    {"dataset": "CIFAR-100", "method": "sn", "loss": "hinge", "fid": 22.61, "is": 7.57, "kid": 0.0156,
     "source": MIMICRY},
    {"dataset": "STL-10", "method": "gp", "loss": "wasserstein", "fid": 43.01, "is": 8.55, "kid": 0.0440,
     "source": MIMICRY},
    {"dataset": "STL-10", "method": "sn", "loss": "hinge", "fid": 39.56, "is": 8.04, "kid": 0.0369, "source": MIMICRY},
    {"dataset": "CelebA", "method": "sn", "loss": "hinge", "fid": 5.71, "is": 2.68, "kid": 0.0033,
     "source": MIMICRY + " (64×64)"},
    {"dataset": "LSUN bedroom", "method": "sn", "loss": "hinge", "fid": 25.87, "is": 2.30, "kid": 0.0141,
     "source": MIMICRY + " (128×128)"},
]
for _anchor in ANCHORS:
    _anchor["dataset_key"] = _KEYS.get(_anchor["dataset"])  # None where the source names no dataset

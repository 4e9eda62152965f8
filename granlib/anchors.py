"""Published numbers used as anchors in the result tables. Never ours: every row names its source.

Values were read from the sources named; they are Inception FIDs/ISs/KIDs on the original datasets and are
not comparable with anything computed on a different data copy or with a proxy feature extractor.
"""

PAPER = "GraN-GAN paper, Fig. 1 (Bhaskara et al. 2022), as quoted in this project's brief"
MIMICRY = "Mimicry README baselines (Lee & Town 2020), ResNet, 100k iterations, 50k samples"

ANCHORS: list[dict] = [
    {"dataset": "CIFAR-10", "method": "gp", "loss": "wasserstein", "fid": 13.6, "source": PAPER},
    {"dataset": "CIFAR-10", "method": "sn", "loss": "ns", "fid": 13.2, "source": PAPER},
    {"dataset": "CIFAR-10", "method": "gran", "loss": "ns", "fid": 10.8, "source": PAPER},
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

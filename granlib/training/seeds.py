"""The random streams of one run, each named and derived from the config's seed and the process's rank.

One process (the bit-identical case) uses ``weights``, ``data``, ``fixed_samples`` and ``probe``; its noise follows
the weights' seed in the global torch RNG, saved in every checkpoint. Under torchrun each rank also needs its own
noise, and a resumed rank restarts its streams from the step (RNG states are per process and not all saved).
"""

from __future__ import annotations

from dataclasses import dataclass

RANK_STRIDE = 1000  # seeds of rank r are offset by r·1000: disjoint for any seed below 1000 apart
RUN_STRIDE = 100_003  # a prime: seed·100003 + rank·1000 + step never meets another (seed, rank, step) in practice


@dataclass(frozen=True)
class SeedStreams:
    seed: int  # the config's seed
    rank: int = 0  # this process's rank under torchrun

    @property
    def weights(self) -> int:
        """Initial weights (and, in one process, the noise that follows): identical on every rank."""
        return self.seed

    @property
    def data(self) -> int:
        """The real-image sampler: one independent stream per rank."""
        return self.seed + RANK_STRIDE * self.rank

    @property
    def fixed_samples(self) -> int:
        """The 64 latent codes of every sample grid."""
        return self.seed + 1

    @property
    def probe(self) -> int:
        """The fixed real images and codes of the logged gradient norms."""
        return self.seed + 2

    def rank_noise(self, step: int = 0) -> int:
        """Under torchrun: this rank's noise from ``step`` on (at the start and after a resume)."""
        return self.seed * RUN_STRIDE + RANK_STRIDE * self.rank + step

    def rank_data(self, step: int) -> int:
        """Under torchrun: this rank's sampler after a resume at ``step``."""
        return self.rank_noise(step) + 1


def evaluation_noise(seed: int, rank: int = 0) -> int:
    """The latent codes of an evaluation's generated images (seed of the evaluation, rank of the process)."""
    return seed * RUN_STRIDE + rank

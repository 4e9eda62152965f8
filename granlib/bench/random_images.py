"""The benchmarks' data: a fixed pool of random images on the device, so that a timing is the training step alone."""

from __future__ import annotations

import torch


class RandomImages:
    """A fixed pool of random images on the device, served in order: no data-loading cost in the benchmark."""

    def __init__(self, resolution: int, device: torch.device, pool: int = 1024):
        self.images = torch.rand(pool, 3, resolution, resolution, device=device) * 2 - 1
        self.position = 0

    def sample(self, n: int) -> torch.Tensor:
        if self.position + n > len(self.images):
            self.position = 0
        self.position += n
        return self.images[self.position - n: self.position]

"""The random streams of one study run, each named and derived from the run's seed.

The numbers are those the committed rows were measured with (a stream's offset never changes): the 2-D nets'
weights and data, the evaluation of a trained 2-D generator, and the images a trained image GAN is measured on.
Training an image run draws its own streams (:class:`granlib.training.seeds.SeedStreams`).
"""

from __future__ import annotations

from dataclasses import dataclass

# Offsets of the measurement streams: far above any seed a study uses, so no two streams of two seeds meet.
EVALUATION_OFFSET = 10_000
REAL_IMAGES_OFFSET = 20_000
GENERATED_IMAGES_OFFSET = 30_000


@dataclass(frozen=True)
class StudySeeds:
    seed: int  # the run's seed

    @property
    def generator_weights(self) -> int:
        """The 2-D generator's initial weights (drawn apart: the global RNG is not touched)."""
        return self.seed

    @property
    def discriminator_weights(self) -> int:
        """The 2-D discriminator's initial weights, then, continuing that global-RNG stream, the run's training
        noise (latent codes): one stream, seeded once where the run is set up."""
        return self.seed + 1

    @property
    def data(self) -> int:
        """The 2-D training data's sampler."""
        return self.seed

    @property
    def fixed_codes(self) -> int:
        """The latent codes whose images a 2-D run snapshots during training."""
        return self.seed

    @property
    def measurement(self) -> int:
        """The trained discriminator's measurement: off-data points, interpolation weights, power iteration."""
        return self.seed

    @property
    def evaluation(self) -> int:
        """A trained 2-D generator's evaluation: its latent codes, then fresh points of the mixture."""
        return self.seed + EVALUATION_OFFSET

    @property
    def real_images(self) -> int:
        """The real images a trained image run is measured on."""
        return self.seed + REAL_IMAGES_OFFSET

    @property
    def generated_images(self) -> int:
        """The latent codes of the generated images a trained image run is measured on."""
        return self.seed + GENERATED_IMAGES_OFFSET

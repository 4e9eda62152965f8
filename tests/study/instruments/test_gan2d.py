import pytest
import torch

from granlib.study.instruments.gan2d import train_2d_gan
from granlib.study.instruments.mixtures import MixtureSampler, train_mixture_gan, train_toy_gan
from granlib.study.instruments.toy import eight_gaussians, relu_mlp
from granlib.training.config import TrainConfig
from granlib.training.trainer import Trainer


def reference_toy_gan(normalizer: str, K: float | None, steps: int, snapshot_every: int, n_points: int,
                      seed: int) -> dict:
    """The ring GAN as it was trained before the one 2-D trainer existed: its own copy of the loop."""
    torch.manual_seed(seed)
    config = TrainConfig(normalizer=normalizer, loss="ns", K=K, nz=2, batch_size_d=128, batch_size_g=128,
                         lr_d=1e-3, lr_g=1e-3, betas_d=(0.5, 0.9), betas_g=(0.5, 0.9), lr_decay="none",
                         iterations=steps, seed=seed, device="cpu")
    generator = relu_mlp(d_in=2, width=64, depth=3, d_out=2, seed=seed)
    generator.nz = 2
    torch.manual_seed(seed + 1)  # the loop reseeded for D's weights, and its training noise continued that stream
    gan = Trainer(config, torch.device("cpu"), models=(generator, relu_mlp(2, width=64, depth=3, seed=None)))

    class Ring:
        generator = torch.Generator().manual_seed(seed)

        def sample(self, n):
            return eight_gaussians(n, generator=self.generator)

    sampler, fixed_z = Ring(), torch.randn(n_points, 2, generator=torch.Generator().manual_seed(seed))
    snapshots = {}
    for step in range(steps + 1):
        if step % snapshot_every == 0:
            with torch.no_grad():
                snapshots[step] = gan.G(fixed_z)
        if step < steps:
            gan.iteration(step, *gan.sample_inputs(sampler))
    return snapshots


@pytest.mark.parametrize(("normalizer", "K"), [("gran", 1.0), ("sn", None)])
def test_the_ring_gan_is_bit_identical_to_the_loop_it_replaced(normalizer, K):
    new = train_toy_gan(normalizer, K=K, steps=12, snapshot_every=4, n_points=32, seed=2)
    old = reference_toy_gan(normalizer, K, steps=12, snapshot_every=4, n_points=32, seed=2)
    assert list(new) == list(old) == [0, 4, 8, 12]
    assert all(torch.equal(new[step], old[step]) for step in old)


def test_both_studies_train_through_the_one_trainer():
    """The mixtures study at the toy's learning rate on the ring trains exactly the toy's GAN."""
    toy = train_toy_gan("gran", K=1.0, steps=6, snapshot_every=6, n_points=16, seed=1)
    run = train_mixture_gan("8gaussians", "gran", K=1.0, steps=6, seed=1, lr=1e-3)
    fixed_z = torch.randn(16, 2, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(run.trainer.G(fixed_z), toy[6])


def test_record_sees_the_nets_before_training_and_after_every_iteration():
    seen = []
    gan = train_2d_gan("none", MixtureSampler("25gaussians", 0), steps=3, width=8, depth=1, batch_size=4,
                       record=lambda step, trainer, stats: seen.append((step, stats is None, trainer)))
    assert [(step, before) for step, before, _ in seen] == [(0, True), (1, False), (2, False), (3, False)]
    assert all(trainer is gan for _, _, trainer in seen) and gan.config.nz == 2 and gan.device.type == "cpu"
    assert gan.config.lr_d == gan.config.lr_g == 1e-3 and gan.config.iterations == 3


def test_config_overrides_reach_the_trainer():
    gan = train_2d_gan("gran", MixtureSampler("8gaussians", 0), steps=1, K=2.0, width=4, depth=1, batch_size=4,
                       eps=1e-2)
    assert gan.config.K == 2.0 and gan.config.eps == 1e-2 and gan.D.K == 2.0

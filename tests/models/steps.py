import torch

from granlib.losses import get_loss
from granlib.normalizers import build_discriminator


def one_training_step(generator, d_net, resolution: int, nz: int, batch: int = 4) -> None:
    """One GraN D step and one G step on CPU; checks shapes and that both networks receive gradients."""
    disc = build_discriminator("gran", d_net, K=1.0)
    d_loss, g_loss = get_loss("ns")
    fake = generator(torch.randn(batch, nz))
    assert fake.shape == (batch, 3, resolution, resolution)
    real = torch.rand(batch, 3, resolution, resolution) * 2 - 1
    scores = disc(torch.cat([real, fake.detach()]))
    assert scores.shape == (2 * batch,)
    total, _, _ = d_loss(scores[:batch], scores[batch:])
    total.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in d_net.parameters())
    disc.requires_grad_(False)
    g_loss(disc(generator(torch.randn(batch, nz)), generator_step=True)).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in generator.parameters())

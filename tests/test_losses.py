import math

import pytest
import torch

from granlib.losses import get_loss


def test_non_saturating_matches_log_sigmoid_and_is_stable():
    d_loss, g_loss = get_loss("ns")
    d_real, d_fake = torch.tensor([0.3, -1.2]), torch.tensor([0.5, 2.0])
    total, real, fake = d_loss(d_real, d_fake)
    expected_real = -torch.log(torch.sigmoid(d_real)).mean()
    expected_fake = -torch.log(1 - torch.sigmoid(d_fake)).mean()
    torch.testing.assert_close(real, expected_real)
    torch.testing.assert_close(fake, expected_fake)
    torch.testing.assert_close(total, real + fake)
    torch.testing.assert_close(g_loss(d_fake), -torch.log(torch.sigmoid(d_fake)).mean())
    huge = torch.tensor([1e4, -1e4])
    assert torch.isfinite(d_loss(huge, -huge)[0]) and torch.isfinite(g_loss(huge))
    assert math.isclose(d_loss(-huge[:1], huge[:1])[0].item(), 2e4, rel_tol=1e-6)


def test_hinge():
    d_loss, g_loss = get_loss("hinge")
    total, real, fake = d_loss(torch.tensor([0.5, 2.0]), torch.tensor([-3.0, 0.0]))
    assert real.item() == pytest.approx(0.25) and fake.item() == pytest.approx(0.5)
    assert total.item() == pytest.approx(0.75)
    assert g_loss(torch.tensor([1.0, 3.0])).item() == pytest.approx(-2.0)


def test_wasserstein():
    d_loss, g_loss = get_loss("wasserstein")
    total, real, fake = d_loss(torch.tensor([1.0, 3.0]), torch.tensor([0.5, -0.5]))
    assert (total.item(), real.item(), fake.item()) == pytest.approx((-2.0, -2.0, 0.0))
    assert g_loss(torch.tensor([1.0, 3.0])).item() == pytest.approx(-2.0)


def test_unknown_loss():
    with pytest.raises(ValueError, match="unknown loss"):
        get_loss("lsgan")

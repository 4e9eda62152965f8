import pytest
import torch
from torch import nn
from torchvision.utils import save_image

from granlib.normalizers import build_discriminator
from granlib.study.instruments.measurements import frozen_float64, gradient_report, point_kinds, spectral_report
from granlib.study.ledger.images.measures import ema_initial_share, grid_pixel_std, pixel_std
from granlib.training.probes import sample_diversity


def test_ema_keeps_a_share_decay_to_the_n_of_its_initial_weights():
    assert ema_initial_share(0, 0.999) == 1.0 and ema_initial_share(2, 0.5) == 0.25
    assert ema_initial_share(10_000, 0.999) < 0.01 <= ema_initial_share(600, 0.999)  # 600: EMA-G still ~55 % init


def test_pixel_spread_is_zero_for_flat_tiles_and_read_back_from_a_saved_grid(tmp_path):
    flat = torch.full((64, 3, 8, 8), 0.3)
    assert pixel_std(flat) == 0.0
    images = torch.rand(64, 3, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    save_image(images, tmp_path / "grid.png", nrow=8, normalize=True, value_range=(-1, 1))
    save_image(flat, tmp_path / "flat.png", nrow=8, normalize=True, value_range=(-1, 1))
    assert grid_pixel_std(tmp_path / "grid.png", 8) == pytest.approx(pixel_std(images), abs=0.01)  # 8-bit rounding
    assert grid_pixel_std(tmp_path / "flat.png", 8) == pytest.approx(0.0, abs=1e-6)


def test_a_collapsed_generator_has_no_diversity_however_textured_its_one_image():
    stripes = torch.linspace(-1, 1, 8).repeat(3, 8, 1)  # a high-contrast pattern: far from flat
    collapsed = stripes.expand(64, 3, 8, 8)
    assert pixel_std(collapsed) > 0.5 and sample_diversity(collapsed) == 0.0
    varied = torch.rand(64, 3, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    assert sample_diversity(varied) == pytest.approx((2 / 12**0.5), rel=0.1)  # uniform on [−1, 1]: std 0.577


def image_kinds(n: int = 6) -> dict:
    gen = torch.Generator().manual_seed(0)
    real = torch.rand(n, 3, 8, 8, generator=gen, dtype=torch.float64) * 2 - 1
    return point_kinds(real, real.flip(0), box=1.0)


def test_point_kinds_of_images_interpolate_per_image_and_stay_in_the_pixel_cube():
    kinds = image_kinds()
    assert all(v.shape == (6, 3, 8, 8) for v in kinds.values()) and (kinds["off-data"].abs() <= 1).all()
    t = (kinds["interpolated"] - kinds["generated"]) / (kinds["real"] - kinds["generated"])
    assert torch.allclose(t, t[:, :1, :1, :1].expand_as(t))  # one α per image


def test_a_one_lipschitz_linear_image_D_has_gradient_norm_one():
    net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 1)).double()
    with torch.no_grad():
        net[1].weight /= net[1].weight.norm()
    report = gradient_report(frozen_float64(build_discriminator("none", net, K=1.0)), image_kinds(), K=1.0)
    assert report["grad_max_over_K[real]"] == pytest.approx(1.0) and report["fd_above_K[off-data]"] == 0.0


def test_spectral_norm_of_a_one_by_one_conv_is_that_of_its_channel_matrix():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 1), nn.Flatten(), nn.Linear(4 * 8 * 8, 1)).double()
    with torch.no_grad():
        net[2].weight /= net[2].weight.norm()
    report = spectral_report(frozen_float64(build_discriminator("none", net, K=1.0)), image_kinds())
    expected = torch.linalg.matrix_norm(net[0].weight[:, :, 0, 0], ord=2).item()
    assert report["sigma_max"] == pytest.approx(max(expected, 1.0), rel=1e-4)
    assert report["sigma_product"] == pytest.approx(expected, rel=1e-4)


def test_a_generator_collapsed_when_its_samples_vary_less_than_a_quarter_as_much_as_real_images():
    import pandas as pd

    from granlib.study.ledger.images.measures import COLLAPSE_RATIO, collapsed

    assert COLLAPSE_RATIO == 0.25
    assert collapsed(0.1, 0.5) and not collapsed(0.125, 0.5) and not collapsed(0.4, 0.5)
    assert list(collapsed(pd.Series([0.0, 0.3]), pd.Series([0.5, 0.5]))) == [True, False]

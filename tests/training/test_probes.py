import torch

from granlib.normalizers import build_discriminator
from granlib.training.probes import PROBE_FIELDS, PROBE_SETS, probe_measures, sample_diversity, trap_shares
from tests.conftest import conv_net


def test_a_probe_is_trapped_when_its_n_is_a_hundred_times_below_the_other_sets_median():
    real = torch.tensor([1.0, 1.0, 1.0, 1.0])
    generated = torch.tensor([1e-3, 5e-3, 0.02, 1.0])  # two of four below median(real)/100 = 0.01
    assert trap_shares(real, generated) == {"real": 0.0, "generated": 0.5}
    assert trap_shares(generated, real) == {"real": 0.5, "generated": 0.0}  # the sets' roles swap with them


def test_sample_diversity_is_zero_for_copies_of_one_image_however_textured():
    image = torch.rand(1, 3, 8, 8) * 2 - 1
    assert sample_diversity(image.expand(16, -1, -1, -1)) == 0.0
    assert sample_diversity(torch.rand(16, 3, 8, 8) * 2 - 1) > 0.2


def test_probe_measures_report_gran_and_its_regime_on_both_sets():
    torch.manual_seed(0)
    disc = build_discriminator("gran", conv_net(), K=0.1, eps=1e-4)
    reals, fakes = torch.rand(8, 3, 8, 8, dtype=torch.float64), torch.rand(8, 3, 8, 8, dtype=torch.float64)
    record = probe_measures(disc, reals, fakes)
    x = torch.cat([reals, fakes]).requires_grad_(True)
    (grad_f,) = torch.autograd.grad(disc.raw(x).sum(), x)
    n = grad_f.flatten(1).norm(dim=1)
    for name, part in zip(PROBE_SETS, (slice(0, 8), slice(8, None))):
        assert record[f"n_median[{name}]"] == n[part].median().item()
        assert record[f"n2_over_eps_median[{name}]"] == (n[part] ** 2 / 1e-4).median().item()
        g = disc(x.detach()[part]).detach()
        assert abs(record[f"g_mean[{name}]"] - g.mean().item()) <= 1e-12 * g.abs().max().item()
        assert 0 < record[f"grad_g_mean[{name}]"] < 0.1  # ‖∇ₓg‖ < K on every region
    assert record["grad_f_max"] == n.max().item() and 0 <= record["trap_share[generated]"] <= 1
    # PROBE_FIELDS, what the studies copy into their committed curves, names exactly the per-set measures logged
    assert set(PROBE_FIELDS) == {key for key in record if "[" in key}


def test_probe_measures_of_a_d_without_epsilon_leave_the_ratio_out():
    record = probe_measures(build_discriminator("sn", conv_net().float(), K=1.0), torch.rand(4, 3, 8, 8),
                            torch.rand(4, 3, 8, 8))
    assert record["n2_over_eps_median[real]"] is None and record["grad_d_mean"] > 0

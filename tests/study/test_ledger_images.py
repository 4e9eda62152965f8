import pandas as pd
import pytest
import torch
from torch import nn

from granlib.normalizers import build_discriminator, default_K
from granlib.study import ledger_images
from granlib.study.claims import frozen_float64, gradient_report, point_kinds, spectral_report
from granlib.study.ledger_images import METHODS, PROFILES, evaluate_claims, fd_summary, plan, run_study
from granlib.study.results import ROW_KEYS


def test_plan_is_every_method_of_seed_0_first():
    order = plan(3)
    assert len(order) == 3 * len(METHODS) and order[: len(METHODS)] == [(m, 0) for m in METHODS]
    assert {m.split("/")[0] for m in METHODS} == {"none", "sn", "wc", "gp", "gn", "gran", "gran_inverse", "equivalent"}
    assert PROFILES["cpu"]["seeds"] >= 3 and PROFILES["cpu"]["feature_extractor"] == "effnet_lite0"


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


def synthetic_rows(gran_fd: float, seeds: int = 3) -> pd.DataFrame:
    rows = []
    for method in METHODS:
        normalizer, _, loss = method.partition("/")
        for seed in range(seeds):
            fd = gran_fd if normalizer == "gran" else 300.0
            rows.append({"dataset": "CIFAR-10 (JPEG-q75 copy)", "dataset_key": "cifar10", "method": normalizer,
                         "loss": loss, "K": default_K(normalizer), "seed": seed, "fd": fd + seed,
                         "train_seconds": 1.0, "jump_share": 0.5, "fd_above_K[real]": 0.0})
    return pd.DataFrame(rows)


def test_image_verdicts_follow_the_fd_and_need_three_seeds():
    table = evaluate_claims(synthetic_rows(gran_fd=200.0), min_n=3)
    p4 = table[table.claim == "P4"]
    assert len(p4) == 5 and set(p4.verdict) == {"supported"}  # every baseline's FD above GraN's
    assert set(table[table.claim == "C1"].verdict) == {"contradicted"}  # GraN beat the penalty here
    worse = evaluate_claims(synthetic_rows(gran_fd=400.0), min_n=3)
    assert set(worse[worse.claim == "P4"].verdict) == {"contradicted"}
    assert set(evaluate_claims(synthetic_rows(200.0, seeds=2), min_n=3).verdict) == {"pending"}
    assert list(fd_summary(synthetic_rows(200.0)).method) == list(METHODS)


@pytest.mark.slow
def test_a_study_run_leaves_a_row_with_provenance_and_d_measurements_and_a_rerun_adds_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(ledger_images, "METHODS", ("gran/ns",))
    monkeypatch.setitem(PROFILES, "smoke", {**PROFILES["smoke"], "seeds": 1, "iterations": 2})
    where = dict(results_dir=tmp_path / "results", runs_dir=tmp_path / "runs")
    path = run_study("smoke", root=tmp_path, log=lambda line: None, **where)
    first = path.read_text()
    (row,) = ledger_images.load_rows("smoke", root=tmp_path, **where).to_dict("records")
    assert all(k in row for k in ROW_KEYS) and row["iterations"] == 2 and row["method"] == "gran"
    assert row["K"] == default_K("gran") and 0 <= row["fd_above_K[generated]"] <= 1 and "jump_share" in row
    assert row["grad_max_over_K[real]"] <= 1 + 1e-9  # GraN's trained D stays below K
    run_study("smoke", root=tmp_path, log=lambda line: None, **where)
    assert path.read_text() == first

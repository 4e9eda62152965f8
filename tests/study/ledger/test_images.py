import pandas as pd
import pytest
import torch
from torch import nn
from torchvision.utils import save_image

from granlib.normalizers import build_discriminator, default_K
from granlib.project import REPO_ROOT
from granlib.study.instruments.measurements import frozen_float64, gradient_report, point_kinds, spectral_report
from granlib.study.ledger import images as study
from granlib.study.ledger.images import (
    COLLAPSE_RATIO,
    METHODS,
    PILOT_CURVES_FILE,
    PROFILES,
    NoLengthError,
    choose_length,
    ema_initial_share,
    evaluate_claims,
    fd_noise,
    fd_summary,
    findings,
    grid_pixel_std,
    pilot_figure,
    pixel_std,
    plan,
    read_pilot_curves,
    run_study,
    sample_diversity,
)
from granlib.study.pipeline.results import ROW_KEYS, spec_name


def test_plan_is_every_method_of_seed_0_first_and_the_cpu_protocol_learns_within_its_budget():
    order = plan(3)
    assert len(order) == 3 * len(METHODS) and order[: len(METHODS)] == [(m, 0) for m in METHODS]
    assert set(METHODS) == {"gran/ns", "gran/wasserstein", "sn/ns", "gp/wasserstein", "gn/ns", "none/ns"}
    cpu = PROFILES["cpu"]
    assert cpu["seeds"] >= 5 and cpu["iterations"] >= 10_000 and cpu["feature_extractor"] == "effnet_lite0"
    assert ema_initial_share(cpu["iterations"]) < 0.01 <= ema_initial_share(600)  # 600 iterations: EMA-G ~55 % init
    assert PROFILES["gpu"]["model_overrides"]["ema_decay"] == cpu["model_overrides"]["ema_decay"]


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


COMMITTED = REPO_ROOT / "results" / "ledger"


def committed_rows() -> pd.DataFrame:
    return study.load_rows("cpu", root=REPO_ROOT)


@pytest.mark.skipif(not len(committed_rows()), reason="no committed rows of the CPU study yet")
def test_committed_samples_of_sngan_and_grand_gan_are_not_flat():
    """Each SNGAN and GraND-GAN run spreads its pixels at least half as much as real images do, by the rows'
    recorded statistics and by the committed sample grid itself; other methods' flat runs are reported, not hidden."""
    rows = committed_rows()
    for method, loss in (("sn", "ns"), ("gran", "ns")):
        runs = rows[(rows.method == method) & (rows.loss == loss)]  # the runs finished so far
        for run in runs.itertuples():
            assert run.pixel_std_generated >= 0.5 * run.pixel_std_real, (method, run.seed)
            assert grid_pixel_std(COMMITTED / run.sample_grid, 32) >= 0.5 * run.pixel_std_real, (method, run.seed)


@pytest.mark.skipif(not len(committed_rows()), reason="no committed rows of the CPU study yet")
def test_every_collapsed_or_flat_method_is_reported_as_failed():
    rows = committed_rows()
    summary = fd_summary(rows)
    sentences = findings(rows, evaluate_claims(rows, PROFILES["cpu"]["min_n"]))

    def named(start: str) -> list[str]:
        (sentence,) = [s for s in sentences if s.startswith(start)]
        return sentence.split(": ", 1)[1].rstrip(".").split(", ")

    assert set(summary[summary.pixel_std_ratio < 0.5].method) <= set(named("Samples flatter"))
    (collapsed,) = [s for s in sentences if s.startswith("Collapsed runs")]
    listed = dict(item.rsplit(" seed", 1) for item in collapsed.split(": ", 1)[1].rstrip(".").split("; ")
                  if item != "none")
    for run in rows[rows.diversity_generated < COLLAPSE_RATIO * rows.diversity_real].itertuples():
        seeds = listed[spec_name(f"{run.method}/{run.loss}")].lstrip("s ").split(", ")
        assert str(run.seed) in seeds, (run.method, run.seed)


@pytest.mark.skipif(not len(committed_rows()), reason="no committed rows of the CPU study yet")
def test_the_rendered_ledger_shows_the_results_with_the_published_fid_apart_and_labelled(tmp_path):
    """The study's table names methods as the paper does, in the paper's order, and puts a published FID only beside
    the method it was measured for (WGAN-GP: pytorch-gan-collections' standard CNN), under a heading naming its source
    and protocol, with the reasons the proxy and the published FID are not comparable."""
    rows = committed_rows()
    table, best, caption, notes = study.results_table(rows)
    assert list(table.method) == [m for m in (spec_name(s) for s in METHODS) if m in set(table.method)]
    (published,) = [c for c in table.columns if c.startswith("published FID")]
    assert "pytorch-gan-collections" in published and "100k iterations" in published
    beside = dict(zip(table.method, table[published]))
    assert beside["WGAN-GP"] == "19.83" and beside["SNGAN"] == "—"  # SNGAN there used the hinge loss; here ns
    assert best["FD-EffNetLite0"] == int(table.index[table.method == "SNGAN"][0])  # the lowest mean is bold
    assert any("not FID" in n for n in notes) and any("JPEG-q75" in n for n in notes)
    md, html = (p.read_text() for p in study.render_ledger(evaluate_claims(rows, 5), rows, "cpu", tmp_path))
    assert md.index("## FD by method") < md.index("## Verdicts per claim") and "19.83" in md
    assert "FD by method" in html and "not FID" in html and "gran/ns" not in md


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


def synthetic_rows(gran_fd: float, seeds: int = 5, diverged: float | None = None) -> pd.DataFrame:
    rows = []
    for method in METHODS:
        normalizer, _, loss = method.partition("/")
        for seed in range(seeds):
            fd = gran_fd if normalizer == "gran" else 300.0
            if diverged is not None and normalizer == "gran" and seed == seeds - 1:
                fd = diverged  # one seed of GraN diverged
            rows.append({"dataset": "CIFAR-10 (JPEG-q75 copy)", "dataset_key": "cifar10", "method": normalizer,
                         "loss": loss, "K": default_K(normalizer), "seed": seed, "fd": fd + seed,
                         "train_seconds": 1.0, "jump_share": 0.5, "fd_above_K[real]": 0.0})
    return pd.DataFrame(rows)


def test_image_verdicts_follow_the_fd_under_holm_and_need_five_seeds():
    table = evaluate_claims(synthetic_rows(gran_fd=200.0), min_n=5)
    p4 = table[table.claim == "P4"]
    assert len(p4) == 4 and set(p4.verdict) == {"supported"}  # every baseline's FD above GraN's
    assert set(table[table.claim == "C1"].verdict) == {"contradicted"}  # GraN beat the penalty here
    assert p4.measurement.str.contains("Holm-adjusted over 6").all()  # P4 ×4 and C1 ×2: one family
    assert "SNGAN (K=1) − GraND-GAN (K=0.1)" in " ".join(p4.setting) and "sn/ns" not in " ".join(table.setting)
    worse = evaluate_claims(synthetic_rows(gran_fd=400.0), min_n=5)
    assert set(worse[worse.claim == "P4"].verdict) == {"contradicted"}
    assert set(evaluate_claims(synthetic_rows(200.0, seeds=4), min_n=5).verdict) == {"pending"}
    assert list(fd_summary(synthetic_rows(200.0)).method) == ["GraND-GAN", "GraNC-GAN", "SNGAN", "WGAN-GP",
                                                               "GN-GAN", "GAN (no normalisation)"]


def test_one_diverged_seed_leaves_a_comparison_undecided_and_the_rank_test_says_so():
    table = evaluate_claims(synthetic_rows(gran_fd=200.0, diverged=2000.0), min_n=5)
    p4 = table[(table.claim == "P4") & table.setting.str.startswith("CIFAR-10 (JPEG-q75 copy); SNGAN")]
    assert p4.verdict.tolist() == ["inconclusive"]  # Welch's interval is swamped by the diverged seed
    assert "Mann–Whitney" in p4.measurement.iloc[0]


def test_fd_noise_compares_a_disjoint_sample_set_with_the_seed_spread():
    rows = synthetic_rows(200.0).assign(fd_repeat=lambda r: r.fd + 0.5)
    noise = fd_noise(rows)
    assert noise["noise_median"] == pytest.approx(0.5) and noise["noise_n"] == len(rows)
    assert noise["spread_median"] == pytest.approx(pd.Series(range(5)).std())


@pytest.mark.slow
def test_a_study_run_leaves_a_row_with_provenance_and_d_measurements_and_a_rerun_adds_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(study, "METHODS", ("gran/ns",))
    monkeypatch.setitem(PROFILES, "smoke", {**PROFILES["smoke"], "seeds": 1, "iterations": 2})
    where = dict(results_dir=tmp_path / "results", runs_dir=tmp_path / "runs")
    path = run_study("smoke", root=tmp_path, log=lambda line: None, **where)
    first = path.read_text()
    (row,) = study.load_rows("smoke", root=tmp_path, **where).to_dict("records")
    assert all(k in row for k in ROW_KEYS) and row["iterations"] == 2 and row["method"] == "gran"
    assert row["K"] == default_K("gran") and 0 <= row["fd_above_K[generated]"] <= 1 and "jump_share" in row
    assert row["grad_max_over_K[real]"] <= 1 + 1e-9  # GraN's trained D stays below K
    assert row["fd_raw"] > 0 and row["fd_repeat"] > 0 and row["fd_repeat"] != row["fd"]  # seed 0: a noise repeat
    assert row["pixel_std_real"] > 0 and row["ngf"] == 32 and row["reference_images"] == "training set"
    assert (path.parent / row["sample_grid"]).is_file()
    run_study("smoke", root=tmp_path, log=lambda line: None, **where)
    assert path.read_text() == first


def pilot(curve_of) -> pd.DataFrame:
    return pd.DataFrame([{"method": m, "loss": "ns", "seed": s, "step": step, "fd": curve_of(m, step) + s,
                          "metric": "FD-EffNetLite0", "dataset": "CIFAR-10 (JPEG-q75 copy)", "n_fake": 250,
                          "n_real": 250, "ngf": 64, "ndf": 8, "batch_size": 32}
                         for m in ("none", "sn", "gran") for s in (0, 1) for step in range(1000, 12_001, 1000)])


def test_the_study_length_is_where_every_pilot_curve_has_flattened():
    flat_early = pilot(lambda m, step: 100 + 1e6 / step**1.5)  # within 5 % of its minimum from 10k on
    assert choose_length(flat_early) == 10_000
    still_falling = pilot(lambda m, step: 400 - 0.02 * step if m == "sn" else 100.0)
    assert choose_length(still_falling) == 12_000
    rising = pilot(lambda m, step: 100 + 0.02 * step if m == "gran" else 100.0)  # its minimum is at the start
    with pytest.raises(NoLengthError, match=r"no length among \[10000, 11000, 12000\]"):
        choose_length(rising)
    committed = read_pilot_curves(REPO_ROOT / "results" / "ledger" / "pilot" / PILOT_CURVES_FILE)
    assert choose_length(committed) == 10_000  # the committed study's length, chosen by this rule
    figure = pilot_figure(flat_early, chosen=10_000)
    assert figure.axes[0].get_xlabel() == "generator iterations" and "SNGAN" in str(
        [t.get_text() for t in figure.axes[0].get_legend().get_texts()])


@pytest.mark.skipif(not len(committed_rows()), reason="no committed rows of the CPU study yet")
def test_rendering_the_committed_rows_again_writes_the_same_bytes(tmp_path):
    """What notebook 41 writes from the committed rows, rendered twice: the ledger's Markdown and HTML (the pandas
    Styler's ids included) and its figures (PNG and SVG metadata) are byte-identical, and so is the committed
    HTML."""
    from granlib.study.pipeline.plots import apply_theme

    apply_theme()
    rows = committed_rows()
    curves = read_pilot_curves(REPO_ROOT / PROFILES["pilot"]["out_dir"] / PILOT_CURVES_FILE)
    renders = []
    for attempt in ("first", "second"):
        out = tmp_path / attempt
        written = study.render_ledger(evaluate_claims(rows, PROFILES["cpu"]["min_n"]), rows, "cpu", out)
        for name, figure in (("fd", study.fd_figure(rows)), ("pilot", pilot_figure(curves, choose_length(curves)))):
            for suffix in ("png", "svg"):
                figure.savefig(out / f"{name}.{suffix}")
                written.append(out / f"{name}.{suffix}")
        renders.append({path.name: path.read_bytes() for path in written})
    assert renders[0].keys() == renders[1].keys() and len(renders[0]) == 6
    for name in renders[0]:
        assert renders[0][name] == renders[1][name], f"{name} differs between two renders"
    assert renders[0]["ledger_images.html"] == (REPO_ROOT / "results" / "tables" / "ledger_images.html").read_bytes()


@pytest.mark.skipif(not len(committed_rows()), reason="no committed rows of the CPU study yet")
def test_under_smoke_every_sentence_is_stamped_no_verdict_is_stated_and_synthetic_images_are_not_called_real(
        tmp_path):
    """Rows rendered as smoke (here the committed ones, whose verdicts are decided) state no verdict anywhere."""
    from granlib.study.ledger.render import NO_VERDICT, NOT_STATED
    from granlib.study.pipeline.results import SMOKE_STAMP

    rows = committed_rows()
    table = evaluate_claims(rows, PROFILES["cpu"]["min_n"])
    sentences = findings(rows, table, smoke=True)
    assert sentences and all(s.startswith(SMOKE_STAMP) for s in sentences)
    assert not any("Verdicts:" in s or "supported" in s or "contradicted" in s for s in sentences)
    assert not any("real images" in s for s in sentences) and any("real images" in s for s in findings(rows, table))
    assert sentences[-1].endswith(NO_VERDICT) and any("Verdicts:" in s for s in findings(rows, table))
    assert set(table.verdict) & {"supported", "contradicted"}  # what the smoke ledger must not state
    md = study.render_ledger(table, rows, "smoke", tmp_path)[0].read_text()
    assert SMOKE_STAMP in md and NO_VERDICT in md and f"| {NOT_STATED}" in md
    assert study.describe(rows, "smoke").startswith(SMOKE_STAMP)
    assert not any(f"| {verdict} " in md for verdict in ("supported", "contradicted", "inconclusive"))
    caption = study.reference_caption("smoke")
    assert "synthetic" in caption and not caption.startswith("real")
    assert study.reference_caption("cpu") == "real images (held-out test split)"
    figure = study.samples_figure(rows.iloc[:0], tmp_path, torch.zeros(64, 3, 32, 32), real_caption=caption)
    assert figure.axes[0].get_title() == caption and "real images" not in figure.texts[0].get_text()


def test_the_samples_figure_keeps_every_panel_title_clear_of_the_row_above(tmp_path):
    rows = pd.DataFrame([{"method": m.split("/")[0], "loss": m.split("/")[1], "seed": 0, "iterations": 10_000,
                          "sample_grid": "grid.png"} for m in METHODS])
    save_image(torch.rand(64, 3, 32, 32), tmp_path / "grid.png", nrow=8, padding=2)
    figure = study.samples_figure(rows, tmp_path, torch.zeros(64, 3, 32, 32))
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    shown = [ax for ax in figure.axes if ax.images]
    assert len(shown) == 1 + len(METHODS) and shown[1].get_title().endswith("seed 0, iteration 10 000")
    for lower in shown[4:]:  # the second row: its titles sit below every grid of the first
        title = lower.title.get_window_extent(renderer)
        assert all(title.y1 <= upper.get_window_extent(renderer).y0 for upper in shown[:4]), lower.get_title()


def test_without_its_real_images_the_samples_panel_shows_the_committed_figure(tmp_path, capsys):
    (tmp_path / "params").mkdir()
    (tmp_path / "notebooks").mkdir()
    committed = tmp_path / "samples.png"
    committed.write_bytes((REPO_ROOT / "results" / "figures" / "ledger_images_samples.png").read_bytes())
    before = committed.read_bytes()
    assert study.samples_panel("cpu", pd.DataFrame(), tmp_path, committed, root=tmp_path) is None
    assert committed.read_bytes() == before  # left as it is: nothing to redraw it from
    note = capsys.readouterr().out
    assert f"{tmp_path / 'data' / 'cifar10-jpeg' / 'test'}" in note and "--unpack" in note
    with pytest.raises(study.DatasetNotFoundError):
        study.samples_panel("cpu", pd.DataFrame(), tmp_path, tmp_path / "absent.png", root=tmp_path)

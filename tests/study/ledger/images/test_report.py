import re

import pandas as pd
import pytest
import torch
from torchvision.utils import save_image

from granlib.data import DatasetNotFoundError
from granlib.normalizers import method_label
from granlib.project import REPO_ROOT
from granlib.study.ledger.images.claims import evaluate_claims
from granlib.study.ledger.images.measures import COLLAPSE_RATIO, grid_pixel_std
from granlib.study.ledger.images.pilot import choose_length, pilot_figure, read_pilot_curves
from granlib.study.ledger.images.protocol import METHODS, methods_of, plan, profiles, row_profile, rows_path
from granlib.study.ledger.images.report import (
    describe,
    fd_figure,
    fd_noise,
    findings,
    method_summary,
    reference_caption,
    render_ledger,
    results_section,
    row_samples,
    samples_panel,
    seed_markdown,
    seed_table,
)
from granlib.study.pipeline.plots import sample_grids
from granlib.study.pipeline.results import load_rows

from .test_claims import synthetic_rows

COMMITTED = REPO_ROOT / "results" / "ledger"


def committed_rows(profile: str = "cpu") -> pd.DataFrame:
    return load_rows(rows_path(profile, REPO_ROOT), profile=row_profile(profile))


def finished(profile: str) -> bool:
    """Every run the profile plans has its row (a study's ledger and figures are committed only then)."""
    return len(committed_rows(profile)) == len(plan(profiles()[profile]["seeds"], methods_of(profile)))


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
    summary = method_summary(rows)
    sentences = findings(rows, evaluate_claims(rows, profiles()["cpu"]["min_n"]))

    def named(start: str) -> list[str]:
        (sentence,) = [s for s in sentences if s.startswith(start)]
        return sentence.split(": ", 1)[1].rstrip(".").split(", ")

    assert set(summary[summary.pixel_std_ratio_mean < 0.5].name) <= set(named("Samples flatter"))
    (collapsed,) = [s for s in sentences if s.startswith("Collapsed runs")]
    listed = dict(item.rsplit(" seed", 1) for item in collapsed.split(": ", 1)[1].rstrip(".").split("; ")
                  if item != "none")
    for run in rows[rows.diversity_generated < COLLAPSE_RATIO * rows.diversity_real].itertuples():
        seeds = listed[method_label(f"{run.method}/{run.loss}")].lstrip("s ").split(", ")
        assert str(run.seed) in seeds, (run.method, run.seed)


@pytest.mark.skipif(not len(committed_rows()), reason="no committed rows of the CPU study yet")
def test_the_rendered_ledger_shows_the_results_with_the_published_fid_apart_and_labelled(tmp_path):
    """The study's table names methods as the paper does, in the paper's order, and puts a published FID only beside
    the method it was measured for (WGAN-GP: pytorch-gan-collections' standard CNN), under a heading naming its source
    and protocol, with the reasons the proxy and the published FID are not comparable."""
    rows = committed_rows()
    section = results_section(rows)
    header = section.markdown.splitlines()[0]
    methods = [line.split("|")[1].strip() for line in section.markdown.splitlines()[2:] if line.startswith("|")]
    order = [method_label(s) for s in methods_of("cpu")]  # the paper's six in its order, then the floored form
    assert methods == [m for m in order if m in methods] and set(map(method_label, METHODS)) <= set(methods)
    assert "pytorch-gan-collections" in header and "100k iterations" in header
    wgan_gp = next(line for line in section.markdown.splitlines() if line.startswith("| WGAN-GP"))
    assert "19.83" in wgan_gp and "19.83" not in next(line for line in section.markdown.splitlines()
                                                     if line.startswith("| SNGAN"))  # SNGAN there: hinge loss
    assert "**" in next(line for line in section.markdown.splitlines() if line.startswith("| SNGAN"))  # lowest: bold
    assert "not FID" in section.markdown and "JPEG-q75" in section.markdown
    md, html = (p.read_text() for p in render_ledger(evaluate_claims(rows, 5), rows, "cpu", tmp_path))
    assert md.index("## FD by method") < md.index("## Verdicts per claim") and "19.83" in md
    assert "FD by method" in html and "not FID" in html and "gran/ns" not in md
    assert md.index("## FD by method") < md.index("## FD of every seed") < md.index("## Verdicts per claim")
    assert seed_markdown(rows, methods_of("cpu")) in md and "FD of every seed" in html and "**" not in html


def test_fd_noise_compares_a_disjoint_sample_set_with_the_seed_spread():
    rows = synthetic_rows(200.0).assign(fd_repeat=lambda r: r.fd + 0.5)
    noise = fd_noise(rows)
    assert noise["noise_median"] == pytest.approx(0.5) and noise["noise_n"] == len(rows)
    assert noise["spread_median"] == pytest.approx(pd.Series(range(5)).std())


@pytest.mark.parametrize("profile", ["cpu", "regime16"])
def test_rendering_the_committed_rows_again_writes_the_same_bytes(profile, tmp_path):
    """What notebook 41 writes from a finished study's committed rows, rendered twice: the ledger's Markdown and HTML
    (the pandas Styler's ids included) and its figures (PNG and SVG metadata) are byte-identical, and so are the
    committed Markdown and HTML."""
    from granlib.study.pipeline.plots import apply_theme

    if not finished(profile):
        pytest.skip(f"the {profile} study has runs without a row yet")
    apply_theme()
    rows = committed_rows(profile)
    curves = read_pilot_curves()
    renders = []
    for attempt in ("first", "second"):
        out = tmp_path / attempt
        claims = evaluate_claims(rows, profiles()[profile]["min_n"], methods_of(profile))
        written = render_ledger(claims, rows, profile, out)
        for name, figure in (("fd", fd_figure(rows)), ("pilot", pilot_figure(curves, choose_length(curves)))):
            for suffix in ("png", "svg"):
                figure.savefig(out / f"{name}.{suffix}")
                written.append(out / f"{name}.{suffix}")
        renders.append({path.name: path.read_bytes() for path in written})
    assert renders[0].keys() == renders[1].keys() and len(renders[0]) == 6
    for name in renders[0]:
        assert renders[0][name] == renders[1][name], f"{name} differs between two renders"
    committed = REPO_ROOT / profiles()[profile]["tables_dir"]
    for name in ("ledger_images.md", "ledger_images.html"):
        assert renders[0][name] == (committed / name).read_bytes(), f"the committed {name} is not what its rows make"


@pytest.mark.skipif(not len(committed_rows()), reason="no committed rows of the CPU study yet")
def test_under_smoke_every_sentence_is_stamped_no_verdict_is_stated_and_synthetic_images_are_not_called_real(
        tmp_path):
    """Rows rendered as smoke (here the committed ones, whose verdicts are decided) state no verdict anywhere."""
    from granlib.study.ledger.render import NO_VERDICT, NOT_STATED
    from granlib.study.pipeline.results import SMOKE_STAMP

    rows = committed_rows()
    table = evaluate_claims(rows, profiles()["cpu"]["min_n"])
    sentences = findings(rows, table, smoke=True)
    assert sentences and all(s.startswith(SMOKE_STAMP) for s in sentences)
    assert not any("Verdicts:" in s or "supported" in s or "contradicted" in s for s in sentences)
    assert not any("real images" in s for s in sentences) and any("real images" in s for s in findings(rows, table))
    assert sentences[-1].endswith(NO_VERDICT) and any("Verdicts:" in s for s in findings(rows, table))
    assert set(table.verdict) & {"supported", "contradicted"}  # what the smoke ledger must not state
    md = render_ledger(table, rows, "smoke", tmp_path)[0].read_text()
    assert SMOKE_STAMP in md and NO_VERDICT in md and f"| {NOT_STATED}" in md
    assert describe(rows, "smoke").startswith(SMOKE_STAMP)
    assert not any(f"| {verdict} " in md for verdict in ("supported", "contradicted", "inconclusive"))
    caption = reference_caption("smoke")
    assert "synthetic" in caption and not caption.startswith("real")
    assert reference_caption("cpu") == "real images (held-out test split)"
    figure = sample_grids(row_samples(rows.iloc[:0], tmp_path), torch.zeros(64, 3, 32, 32), caption)
    texts = "".join(t.get_text() for t in figure.texts)
    assert " ".join(figure.axes[0].get_title().split()) == caption and "real images" not in texts


def test_the_samples_figure_keeps_every_panel_title_clear_of_the_row_above(tmp_path):
    rows = pd.DataFrame([{"method": m.split("/")[0], "loss": m.split("/")[1], "seed": 0, "iterations": 10_000,
                          "sample_grid": "grid.png"} for m in METHODS])
    save_image(torch.rand(64, 3, 32, 32), tmp_path / "grid.png", nrow=8, padding=2)
    figure = sample_grids(row_samples(rows, tmp_path), torch.zeros(64, 3, 32, 32), "real images")
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
    assert samples_panel("cpu", pd.DataFrame(), tmp_path, committed, root=tmp_path) is None
    assert committed.read_bytes() == before  # left as it is: nothing to redraw it from
    note = capsys.readouterr().out
    assert f"{tmp_path / 'data' / 'cifar10-jpeg' / 'test'}" in note and "--unpack" in note
    with pytest.raises(DatasetNotFoundError):
        samples_panel("cpu", pd.DataFrame(), tmp_path, tmp_path / "absent.png", root=tmp_path)


def test_the_method_summary_follows_the_papers_order_and_averages_the_per_run_measures():
    rows = synthetic_rows(200.0).assign(pixel_std_generated=0.25, pixel_std_real=0.5, diversity_generated=0.1,
                                        diversity_real=0.4, fd_raw=lambda r: r.fd + 1)
    summary = method_summary(rows)
    assert list(summary.name) == ["GraND-GAN", "GraNC-GAN", "SNGAN", "WGAN-GP", "GN-GAN", "GAN (no normalisation)"]
    first = summary.iloc[0]
    assert first.fd_mean == pytest.approx(202.0) and first.fd_raw_mean == pytest.approx(203.0) and first.seeds == 5
    assert first.pixel_std_ratio_mean == pytest.approx(0.5) and first.diversity_ratio_mean == pytest.approx(0.25)
    assert list(method_summary(rows.iloc[:0]).columns) == list(summary.columns)


def test_the_description_says_when_no_method_has_the_seeds_for_a_spread():
    rows = load_rows(rows_path("cpu", REPO_ROOT), profile=row_profile("cpu"))
    assert "seed spread (std of FD over seeds): median" in describe(rows, "cpu")
    first_seeds = describe(rows[rows.seed == 0], "cpu")
    assert "seed spread (std of FD over seeds): none yet (no method has two seeds)" in first_seeds
    assert "nan" not in first_seeds


def test_the_seed_table_shows_every_run_and_marks_collapsed_runs_and_the_lowest_mean():
    rows = synthetic_rows(200.0).assign(fd_raw=lambda r: r.fd + 1, diversity_real=0.5, diversity_generated=0.45)
    gran = (rows.method == "gran") & (rows.loss == "ns")
    rows.loc[gran & (rows.seed == 3), "diversity_generated"] = 0.1  # below COLLAPSE_RATIO × 0.5: collapsed
    rows = rows[~((rows.method == "sn") & (rows.seed == 2))]  # SNGAN's seed 2 has no row yet
    table = seed_table(rows).set_index("method")
    assert list(table.index) == [method_label(m) for m in METHODS]
    assert list(table.columns) == [*(f"seed {s}" for s in range(5)), "mean ± std (n)", "sample diversity, seeds 0–4"]
    assert table.loc["GraND-GAN", "seed 1"] == "201.0 (202.0)"
    assert table.loc["GraND-GAN", "mean ± std (n)"] == "**202.0 ± 1.6 (5)**"  # the lowest mean
    assert table.loc["GraND-GAN", "sample diversity, seeds 0–4"] == "0.450, 0.450, 0.450, **0.100**, 0.450"
    assert table.loc["SNGAN", "seed 2"] == "—" and table.loc["SNGAN", "mean ± std (n)"] == "302.0 ± 1.8 (4)"
    assert table.loc["SNGAN", "sample diversity, seeds 0–4"].split(", ")[2] == "—"
    assert "<b>0.100</b>" in seed_table(rows, bold="<b>{}</b>").to_string()
    two = seed_table(rows[rows.seed.isin([0, 3])])
    assert "sample diversity, seeds 0, 3" in two.columns and two["mean ± std (n)"].iloc[0].startswith("**")
    unmeasured = rows.assign(fd=lambda r: r.fd.where(~gran))  # GraND-GAN's FD missing: never the lowest
    shown = seed_table(unmeasured).set_index("method")["mean ± std (n)"]
    assert shown["GraND-GAN"] == "— (5)" and shown["GraNC-GAN"].startswith("**")


@pytest.mark.parametrize("profile", ["cpu", "regime16"])
def test_results_readme_shows_each_image_study_as_its_committed_rows_say(profile):
    """A finished study's table of every seed in results/README.md is the one its rows make now, with the FD's noise
    and the seeds' spread as its rows give them; an unfinished one is said to be under way with no more rows than
    it has, so the page never shows numbers the rows do not hold."""
    rows = load_rows(rows_path(profile, REPO_ROOT), profile=row_profile(profile))
    planned = len(plan(profiles()[profile]["seeds"], methods_of(profile)))
    readme = (REPO_ROOT / "results" / "README.md").read_text()
    if len(rows) == planned:
        assert seed_markdown(rows, methods_of(profile)) in readme
        noise = fd_noise(rows)
        assert f"median {noise['noise_median']:.2f}, max {noise['noise_max']:.2f}" in readme
        assert f"{noise['spread_min']:.1f}" in readme and f"median {noise['spread_median']:.1f}" in readme
    else:
        stated = int(re.search(rf"under way, (\d+) of its {planned} rows", readme).group(1))
        assert stated <= len(rows)


def test_the_pilots_rows_render_without_the_table_of_every_seed(tmp_path):
    """The pilot measured neither raw-G FD nor sample diversity: its ledger renders with the results table alone."""
    rows = load_rows(rows_path("pilot", REPO_ROOT), profile=row_profile("pilot"))
    assert len(rows) and "diversity_generated" not in rows
    md, _ = (p.read_text() for p in render_ledger(evaluate_claims(rows, 2, methods_of("pilot")), rows, "pilot",
                                                  tmp_path))
    assert "## FD by method" in md and "## FD of every seed" not in md

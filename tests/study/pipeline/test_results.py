import pytest

from granlib.normalizers import method_label
from granlib.project import REPO_ROOT
from granlib.study.pipeline.results import (
    MISSING,
    ROW_KEYS,
    SMOKE_STAMP,
    append_row,
    compact_table,
    findings,
    load_rows,
    render_dataset,
    summary_table,
    to_html,
    to_markdown,
    unattributed_anchors,
    write_tables,
)
from granlib.study.pipeline.row_store import RowConflictError


def row(**changes):
    base = {k: None for k in ROW_KEYS}
    base.update(dataset_key="cifar10", dataset="CIFAR-10", resolution=32, architecture="cnn", method="gran", loss="ns",
                K=0.1, eps=1e-4,
                iterations=100, seed=0, metric="FID", fd=10.0, is_mean=8.0, is_std=0.1, kid_mean=0.01, kid_std=0.0,
                feature_extractor="inception", weights_sha256="x" * 64, n_real=50000, n_fake=50000, gpu="H200",
                date="2026-11-27", profile="paper", run_dir="runs/a", source="granlib (measured)")
    base.update(changes)
    return base


def test_rows_need_every_provenance_key(tmp_path):
    incomplete = row()
    del incomplete["gpu"]
    with pytest.raises(ValueError, match="gpu"):
        append_row(tmp_path / "rows" / "x.jsonl", incomplete)


def test_methods_are_named_as_the_paper_names_them():
    assert [method_label(*m) for m in (("gran", "ns"), ("gran", "wasserstein"), ("sn", "ns"), ("gp", "wasserstein"),
                                      ("gn", "ns"))] == ["GraND-GAN", "GraNC-GAN", "SNGAN", "WGAN-GP", "GN-GAN"]
    assert method_label("wc", "hinge") == "weight clipping, hinge loss"  # no name in the paper: spelled out
    assert method_label("gran", "ns", 1.0) == "GraND-GAN, K=1" and method_label("sn", "ns", 1.0) == "SNGAN"
    assert method_label("sn", "ns", 10.0) == "SNGAN, K=10" and method_label("gn", "ns", None) == "GN-GAN"


@pytest.fixture
def rows(tmp_path):
    for seed, fd in ((0, 10.0), (1, 12.0)):
        append_row(tmp_path / "rows" / "c.jsonl", row(seed=seed, fd=fd))
    append_row(tmp_path / "rows" / "c.jsonl", row(method="sn", K=None, fd=15.0, is_mean=9.0))
    return load_rows(tmp_path)


def test_compact_table_means_over_seeds_marks_best_and_moves_constants_to_the_caption(rows):
    table, best, caption = compact_table(summary_table(rows))
    assert list(table.method) == ["GraND-GAN", "SNGAN"] and list(table.K) == ["0.1", MISSING]
    assert table.loc[0, "FID"] == "11.00 ± 1.41" and table.loc[1, "FID"] == "15.00"  # one seed: no std
    assert best == {"FID": 0, "IS": 1}  # KID ties: nothing marked
    assert "50 000 generated vs 50 000 real" in caption and "standard CNN" in caption
    assert list(table["published FID (like for like)"]) == [MISSING, MISSING]  # none for GraND-GAN, SNGAN-NS
    one_seed = summary_table(rows[rows.seed == 0])
    table, _, caption = compact_table(one_seed)
    assert "KID" not in table and "KID: 0.0100 for every row" in caption and "seeds: 1 for every row" in caption


def test_one_run_counts_once_and_two_measurements_that_disagree_are_an_error(rows, tmp_path):
    again = row(seed=1, fd=12.0, run_dir="runs/sweep", date="2026-12-01")  # the same run made by another notebook
    assert append_row(tmp_path / "rows" / "k_sweep.jsonl", again)
    assert not append_row(tmp_path / "rows" / "k_sweep.jsonl", again)  # a file never holds one run twice
    gran = summary_table(load_rows(tmp_path)).query("method == 'gran'").iloc[0]
    assert gran.seeds == 2 and gran.fd_mean == pytest.approx(11.0)
    append_row(tmp_path / "rows" / "other.jsonl", row(seed=1, fd=14.0))
    with pytest.raises(RowConflictError, match=r"k_sweep\.jsonl:1 and .*other\.jsonl:1.*fd: 12\.0 vs 14\.0"):
        load_rows(tmp_path)


def test_tables_never_mix_protocols(rows, tmp_path):
    append_row(tmp_path / "rows" / "c.jsonl", row(seed=0, fd=30.0, ndf=128, profile="quick"))  # a wider D
    append_row(tmp_path / "rows" / "c.jsonl", row(seed=0, fd=40.0, iterations=8))  # a shorter run
    summary = summary_table(load_rows(tmp_path))
    gran = summary[summary.method == "gran"]
    assert sorted(gran.fd_mean) == [11.0, 30.0, 40.0] and gran.protocol.nunique() == 3
    md, _ = render_dataset(summary)
    assert md.count("## Measured by granlib") == 3  # one table per protocol, each with its own caption
    assert "8 iterations" in md and "100 iterations" in md


def test_best_is_bold_in_markdown_and_styled_in_html(rows, tmp_path):
    md, html = render_dataset(summary_table(rows))
    assert "**11.00 ± 1.41**" in md and "**9.00**" in md
    assert "font-weight: bold" in html and "**" not in html and "NaN" not in html and "nan" not in html


def test_tables_keep_anchors_apart_stamp_smoke_and_state_the_caveat(tmp_path):
    append_row(tmp_path / "rows" / "c.jsonl", row(metric="FD-EffNetLite0", dataset="synthetic (smoke data, not a "
                                                  "result) standing in for CIFAR-10", profile="smoke"))
    written = write_tables(load_rows(tmp_path), tmp_path / "tables", smoke=True)
    (md,) = [p for p in written if p.suffix == ".md" and p.name != "paper_fig1.md"]
    text, html = md.read_text(), md.with_suffix(".html").read_text()
    for page in (text, html):
        assert SMOKE_STAMP in page and "Published anchors for CIFAR-10" in page and "not FID" in page
        assert "not the original data" in page
    measured, anchors = text.split("## Published anchors")
    assert "Mimicry" not in measured and "Mimicry" in anchors and "Fig. 1" not in text  # Fig. 1: no dataset


def test_fig1_numbers_stand_alone():
    fig1 = unattributed_anchors()
    assert list(fig1.method) == ["WGAN-GP", "SNGAN", "GraND-GAN"] and set(fig1.IS) == {MISSING}


def test_findings_say_whether_the_best_separates(rows, tmp_path):
    (sentence,) = findings(summary_table(rows))
    assert sentence.startswith("CIFAR-10, FID: the lowest mean is GraND-GAN, K=0.1 with 11.0 ± 1.4 over 2 seeds")
    assert "not separated" in sentence  # SNGAN has one seed


def test_committed_tables_render_without_literal_markup_or_nan():
    """Every HTML table made of the committed rows (and the Fig. 1 page): no literal '**', no NaN."""
    rows = load_rows(REPO_ROOT / "results")
    assert len(rows) > 0
    summary = summary_table(rows)
    pages = [render_dataset(part)[1] for _, part in summary.groupby(["dataset_key", "dataset"])]
    pages += [to_html(*compact_table(part)) for _, part in summary.groupby(["dataset", "metric"])]
    pages.append(unattributed_anchors().style.hide(axis="index").to_html())
    for page in pages:
        assert "**" not in page and "NaN" not in page and ">nan<" not in page
        assert "<table" in page


def test_results_readme_shows_every_committed_table():
    """results/README.md, the page a reader opens first, holds each table of the committed rows as rendered now."""
    readme = (REPO_ROOT / "results" / "README.md").read_text()
    summary = summary_table(load_rows(REPO_ROOT / "results"))
    for _, part in summary.groupby(["dataset", "metric"]):
        table, best, caption = compact_table(part)
        assert to_markdown(table, best) in readme and caption in readme
    assert unattributed_anchors().drop(columns="source").to_markdown(index=False) in readme


INTERNAL_KEY = r"\b(gran|gran_inverse|equivalent|sn|gp|gn|wc|none)/(ns|wasserstein|hinge)\b"


def test_committed_tables_name_methods_as_the_paper_does():
    """What a reader sees under results/ (tables, READMEs) never shows an internal "normaliser/loss" key."""
    import re

    pages = [*(REPO_ROOT / "results" / "tables").glob("*.md"), *(REPO_ROOT / "results").rglob("README.md")]
    assert len(pages) >= 4
    for page in pages:
        found = re.findall(INTERNAL_KEY, page.read_text())
        assert not found, f"{page.relative_to(REPO_ROOT)} shows internal method keys {found}"


def test_tables_become_html_with_ids_named_by_their_content_and_smoke_tables_are_stamped():
    import pandas as pd

    from granlib.study.pipeline.results import SMOKE_STAMP, stamped, styled

    table = pd.DataFrame({"method": ["SNGAN", "GraND-GAN"], "fd": [117.3, 459.7]})
    html = styled(table).to_html()
    assert html == styled(table.copy()).to_html() and "T_" in html  # the same rows: the same bytes
    assert styled(table.assign(fd=[1.0, 2.0])).to_html().split("<table id=")[1] != html.split("<table id=")[1]
    assert SMOKE_STAMP in stamped(table, smoke=True).to_html() and stamped(table, smoke=False) is table


def test_rows_written_before_hyperparameters_were_keyed_load_with_them_and_two_eps_stay_two_runs(tmp_path):
    path = tmp_path / "rows" / "c.jsonl"
    append_row(path, row(eps=1e-4))  # an older row: no hyperparameters field
    append_row(path, row(eps=1e-11))  # the same run at another ε: another run, not a duplicate
    append_row(path, row(method="sn", K=1.0, eps=1e-4))
    rows = load_rows(tmp_path)
    assert list(rows.hyperparameters) == ['{"eps": 0.0001}', '{"eps": 1e-11}', "{}"]  # SN declares none
    summary = summary_table(rows)
    assert len(summary[summary.method == "gran"]) == 2  # GraN at two ε: two rows, never one mean
    assert load_rows(tmp_path, method="sn").method.tolist() == ["sn"]

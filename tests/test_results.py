import pytest

from granlib.results import ROW_KEYS, SMOKE_STAMP, append_row, load_rows, summary_table, write_tables


def row(**changes):
    base = {k: None for k in ROW_KEYS}
    base.update(dataset="CIFAR-10", resolution=32, architecture="cnn", method="gran", loss="ns", K=0.1, eps=1e-4,
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


def test_summary_means_over_seeds_and_marks_best(tmp_path):
    for seed, fd in ((0, 10.0), (1, 12.0)):
        append_row(tmp_path / "rows" / "c.jsonl", row(seed=seed, fd=fd))
    append_row(tmp_path / "rows" / "c.jsonl", row(method="sn", fd=15.0, is_mean=9.0))
    table = summary_table(load_rows(tmp_path))
    gran = table[table.method == "gran"].iloc[0]
    assert gran.FD == "11.00 ± 1.41 **best**" and gran.seeds == 2
    sn = table[table.method == "sn"].iloc[0]
    assert "**best**" not in sn.FD and "**best**" in sn.IS


def test_tables_keep_anchors_apart_and_stamp_smoke(tmp_path):
    append_row(tmp_path / "rows" / "c.jsonl", row(metric="FD-EffNetLite0"))
    (md,) = [p for p in write_tables(load_rows(tmp_path), tmp_path / "tables", smoke=True) if p.suffix == ".md"]
    text = md.read_text()
    assert SMOKE_STAMP in text and "Published anchors (not ours" in text and "not comparable" in text
    measured, anchors = text.split("## Published anchors")
    assert "Mimicry" not in measured and "Mimicry" in anchors

"""Result rows with provenance, and the tables built from them.

Every row that granlib writes carries: dataset (and variant), resolution, architecture, method, loss, K, ε,
iterations, seed, metric name and feature extractor (+ weights sha256), n_real/n_fake, GPU, date, profile,
run directory and ``source`` = "granlib (measured)". Anchor rows from publications are kept apart and labelled.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from granlib.anchors import ANCHORS

SOURCE = "granlib (measured)"
SMOKE_STAMP = "smoke — not a result"
ROW_KEYS = ("dataset", "resolution", "architecture", "method", "loss", "K", "eps", "iterations", "seed", "metric",
            "fd", "is_mean", "is_std", "kid_mean", "kid_std", "feature_extractor", "weights_sha256", "n_real",
            "n_fake", "gpu", "date", "profile", "run_dir", "source")


def append_row(path: str | Path, row: dict) -> None:
    """Append one row (all provenance keys required) to a JSON-lines file."""
    missing = [k for k in ROW_KEYS if k not in row]
    if missing:
        raise ValueError(f"result row lacks provenance keys {missing}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        handle.write(json.dumps({k: row[k] for k in ROW_KEYS}) + "\n")


def load_rows(results_dir: str | Path) -> pd.DataFrame:
    """All rows of every ``*.jsonl`` under ``results_dir/rows``."""
    files = sorted(Path(results_dir, "rows").glob("*.jsonl"))
    records = [json.loads(line) for f in files for line in f.read_text().splitlines() if line.strip()]
    return pd.DataFrame(records, columns=list(ROW_KEYS))


def has_row(results_dir: str | Path, run_dir: str, iterations: int, feature_extractor: str, n_fake: int) -> bool:
    rows = load_rows(results_dir)
    if rows.empty:
        return False
    match = ((rows.run_dir == run_dir) & (rows.iterations == iterations) & (rows.feature_extractor == feature_extractor)
             & (rows.n_fake == n_fake))
    return bool(match.any())


def summary_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean ± std over seeds per (dataset, metric, method, loss, K), with n_real/n_fake and the best FD marked."""
    if rows.empty:
        return pd.DataFrame()
    keys = ["dataset", "resolution", "metric", "method", "loss", "K", "iterations", "n_real", "n_fake"]
    grouped = rows.groupby(keys, dropna=False)
    table = grouped.agg(fd_mean=("fd", "mean"), fd_std=("fd", "std"), is_mean=("is_mean", "mean"),
                        is_std=("is_mean", "std"), kid_mean=("kid_mean", "mean"), seeds=("seed", "nunique"),
                        gpu=("gpu", "first")).reset_index()
    table[["fd_std", "is_std"]] = table[["fd_std", "is_std"]].fillna(0.0)
    best_fd = table.groupby(["dataset", "metric"])["fd_mean"].transform("min")
    best_is = table.groupby(["dataset", "metric"])["is_mean"].transform("max")
    table["FD"] = [f"{m:.2f} ± {s:.2f}" + (" **best**" if m == b else "")
                   for m, s, b in zip(table.fd_mean, table.fd_std, best_fd)]
    table["IS"] = [f"{m:.2f} ± {s:.2f}" + (" **best**" if m == b else "")
                   for m, s, b in zip(table.is_mean, table.is_std, best_is)]
    table["KID"] = [f"{k:.4f}" for k in table.kid_mean]
    table["source"] = SOURCE
    return table[["dataset", "resolution", "metric", "method", "loss", "K", "iterations", "seeds", "n_real", "n_fake",
                  "FD", "IS", "KID", "gpu", "source"]]


def anchor_table(dataset_label: str | None = None) -> pd.DataFrame:
    anchors = pd.DataFrame(ANCHORS)
    if dataset_label is not None:
        anchors = anchors[anchors.dataset == dataset_label]
    return anchors.reindex(columns=["dataset", "method", "loss", "fid", "is", "kid", "source"])


def write_tables(rows: pd.DataFrame, out_dir: str | Path, smoke: bool = False) -> list[Path]:
    """results tables per dataset as Markdown and HTML, each next to the published anchors of that dataset."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    table = summary_table(rows)
    stamp = f"**{SMOKE_STAMP}**\n\n" if smoke else ""
    for dataset, part in (table.groupby("dataset") if not table.empty else []):
        anchors = anchor_table(dataset.split(" (")[0])
        proxies = sorted(set(part.metric) - {"FID"})
        caveat = (f"Rows measured with {', '.join(proxies)} (a proxy feature extractor) or on a different copy of the "
                  f"data are not comparable with these published FIDs.\n\n" if proxies or "(" in dataset else "")
        slug = "".join(c if c.isalnum() else "_" for c in dataset.lower()).strip("_")
        md = (f"# {dataset}\n\n{stamp}## Measured by granlib\n\n{part.to_markdown(index=False)}\n\n"
              f"## Published anchors (not ours; Inception FID on the original data)\n\n{caveat}"
              f"{anchors.to_markdown(index=False) if not anchors.empty else '(none)'}\n")
        (out_dir / f"{slug}.md").write_text(md)
        html = (f"<h1>{dataset}</h1>{'<p><b>' + SMOKE_STAMP + '</b></p>' if smoke else ''}<h2>Measured by granlib</h2>"
                f"{part.to_html(index=False)}<h2>Published anchors (not ours)</h2>{anchors.to_html(index=False)}")
        (out_dir / f"{slug}.html").write_text(html)
        written += [out_dir / f"{slug}.md", out_dir / f"{slug}.html"]
    return written

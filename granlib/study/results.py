"""Result rows with provenance, and the tables built from them.

Every row that granlib writes carries: the dataset's key and label (variant included), resolution, architecture
(CNN variant, initialisation), method, loss, K, ε, iterations, seed, metric name and feature extractor (+ weights
sha256), n_real/n_fake, device, date, git commit, profile, run directory and ``source`` = "granlib (measured)".
Anchor rows from publications are kept apart, labelled, and joined on the dataset key.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from granlib.data import LABELS
from granlib.study.anchors import ANCHORS

SOURCE = "granlib (measured)"
SMOKE_STAMP = "smoke — not a result"
ROW_KEYS = ("dataset_key", "dataset", "resolution", "architecture", "cnn_variant", "init", "method", "loss", "K",
            "eps", "iterations", "seed", "metric", "fd", "is_mean", "is_std", "kid_mean", "kid_std",
            "feature_extractor", "weights_sha256", "n_real", "n_fake", "reference_images", "gpu", "date",
            "git_commit", "profile", "run_dir", "source")
ANCHOR_LABELS = {key: label for key, label in LABELS.items() if key != "synthetic"}  # datasets anchors can name


def append_row(path: str | Path, row: dict) -> None:
    """Append one row (all provenance keys required) to a JSON-lines file: the keys of :data:`ROW_KEYS` in their
    order, then any further measurements of the run."""
    missing = [k for k in ROW_KEYS if k not in row]
    if missing:
        raise ValueError(f"result row lacks provenance keys {missing}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    extra = {k: v for k, v in row.items() if k not in ROW_KEYS}
    with path.open("a") as handle:
        handle.write(json.dumps({**{k: row[k] for k in ROW_KEYS}, **extra}) + "\n")


def load_rows(results_dir: str | Path) -> pd.DataFrame:
    """All rows of every ``*.jsonl`` under ``results_dir/rows``."""
    files = sorted(Path(results_dir, "rows").glob("*.jsonl"))
    records = [json.loads(line) for f in files for line in f.read_text().splitlines() if line.strip()]
    return pd.DataFrame(records, columns=list(ROW_KEYS))


def has_row(rows_from: str | Path, run_dir: str, iterations: int, feature_extractor: str, n_fake: int) -> bool:
    """Whether a row of this run and evaluation exists in ``rows_from``: a results directory (every file under its
    ``rows/``) or one ``.jsonl`` rows file."""
    rows_from = Path(rows_from)
    if rows_from.suffix == ".jsonl":
        records = [json.loads(line) for line in rows_from.read_text().splitlines() if line.strip()] \
            if rows_from.is_file() else []
        rows = pd.DataFrame(records, columns=list(ROW_KEYS))
    else:
        rows = load_rows(rows_from)
    if rows.empty:
        return False
    match = ((rows.run_dir == run_dir) & (rows.iterations == iterations) & (rows.feature_extractor == feature_extractor)
             & (rows.n_fake == n_fake))
    return bool(match.any())


# How the paper (and the papers it compares with) name each (normaliser, loss) pair.
METHOD_NAMES = {("gran", "ns"): "GraND-GAN", ("gran", "wasserstein"): "GraNC-GAN",
                ("gran", "hinge"): "GraN-GAN (hinge)",
                ("gran_inverse", "ns"): "GraND-GAN, 1/(n+ε) ablation", ("gn", "ns"): "GN-GAN", ("sn", "ns"): "SNGAN",
                ("sn", "hinge"): "SNGAN (hinge)", ("gp", "wasserstein"): "WGAN-GP",
                ("wc", "wasserstein"): "WGAN (weight clipping)", ("none", "ns"): "GAN (no normalisation)"}
MISSING = "—"
GRAN_FAMILY = ("gran", "gran_inverse", "equivalent")  # K is GraN's Lipschitz scale
PROXY_CAVEAT = ("{metric} is the Fréchet distance in the features of EfficientNet-lite0 (an offline proxy): it is not "
                "FID, and its values are not comparable with published FIDs.")
COPY_CAVEAT = "Measured on {dataset}, not the original data: not comparable with published numbers."
FIG1_TITLE = "Published, dataset not stated: the GraN-GAN paper's Fig. 1"


def method_name(normalizer: str, loss: str) -> str:
    """'GraND-GAN' for ('gran', 'ns'); the pair spelled out where the paper has no name for it."""
    return METHOD_NAMES.get((normalizer, loss), f"{normalizer} normaliser, {loss} loss")


def method_label(normalizer: str, loss: str, K: float | None = None) -> str:
    """The method's name with its K where K means something: always for the GraN family, for a baseline only when
    its output is scaled (K ≠ 1)."""
    name = method_name(normalizer, loss)
    shown = K is not None and not pd.isna(K) and (normalizer in GRAN_FAMILY or K != 1)
    return f"{name}, K={K:g}" if shown else name


def summary_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over seeds per (dataset, metric, method, loss, K, protocol); one numeric row per group.

    Two rows of one configuration and seed (the same run made by two notebooks) count once: the later row."""
    if rows.empty:
        return pd.DataFrame()
    keys = ["dataset_key", "dataset", "resolution", "architecture", "metric", "method", "loss", "K", "iterations",
            "n_real", "n_fake"]
    rows = rows.drop_duplicates(subset=[*keys, "seed"], keep="last")
    table = rows.groupby(keys, dropna=False).agg(
        fd_mean=("fd", "mean"), fd_std=("fd", "std"), is_mean=("is_mean", "mean"), is_std=("is_mean", "std"),
        kid_mean=("kid_mean", "mean"), kid_std=("kid_mean", "std"), seeds=("seed", "nunique"),
        gpu=("gpu", lambda g: ", ".join(sorted(set(map(str, g))))),
        profile=("profile", lambda p: ", ".join(sorted(set(map(str, p)))))).reset_index()
    table["name"] = [method_name(m, l) for m, l in zip(table.method, table.loss)]
    table["label"] = [method_label(m, l, k) for m, l, k in zip(table.method, table.loss, table.K)]
    return table


def _value(mean: float, std: float, digits: int) -> str:
    if pd.isna(mean):
        return MISSING
    return f"{mean:.{digits}f}" + ("" if pd.isna(std) else f" ± {std:.{digits}f}")


def _anchor_fid(dataset_key: str, method: str, loss: str) -> float | None:
    found = [a["fid"] for a in ANCHORS if (a["dataset_key"], a["method"], a["loss"]) == (dataset_key, method, loss)]
    return found[0] if found else None


def compact_table(summary: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int], str]:
    """One dataset and metric as read in a paper: (display table, {column: position of the best value}, caption).

    Columns: method (as the paper names it), K, the metric (mean ± std over seeds), IS, KID, seeds, and the
    published Inception FID of the same method and loss on the same dataset (a missing value is "—"). Columns that
    are the same in every row move into the caption with the protocol (resolution, network, iterations, samples).
    """
    summary = summary.reset_index(drop=True)
    metric = summary.metric.iloc[0]
    anchors = [_anchor_fid(k, m, l) for k, m, l in zip(summary.dataset_key, summary.method, summary.loss)]
    table = pd.DataFrame({
        "method": summary.name, "K": [MISSING if pd.isna(k) else f"{k:g}" for k in summary.K],
        metric: [_value(m, s, 2) for m, s in zip(summary.fd_mean, summary.fd_std)],
        "IS": [_value(m, s, 2) for m, s in zip(summary.is_mean, summary.is_std)],
        "KID": [_value(m, s, 4) for m, s in zip(summary.kid_mean, summary.kid_std)],
        "seeds": summary.seeds.astype(str),
        "published FID (same method)": [MISSING if a is None else f"{a:g}" for a in anchors]})
    best = {}
    for column, values, lowest in ((metric, summary.fd_mean, True), ("IS", summary.is_mean, False),
                                   ("KID", summary.kid_mean, True)):
        if values.nunique() > 1:  # a tie everywhere marks nothing
            best[column] = int(values.idxmin() if lowest else values.idxmax())
    first = summary.iloc[0]
    network = {"cnn": "standard CNN", "resnet": "ResNet"}.get(first.architecture, first.architecture)
    protocol = [f"{first.dataset}", f"{first.resolution}×{first.resolution}", network,
                f"{first.iterations:,} iterations".replace(",", " "),
                f"{first.n_fake:,} generated vs {first.n_real:,} real images".replace(",", " "),
                f"device {first.gpu}", f"profile {first.profile}"]
    constant = [c for c in ("K", "IS", "KID", "seeds") if len(table) > 1 and table[c].nunique() == 1 and c not in best]
    protocol += [f"{c}: {table[c].iloc[0]} for every row" for c in constant]
    caption = "; ".join(protocol) + ". Mean ± std over seeds; the best value of a column is in bold."
    return table.drop(columns=constant), best, caption


def caveats(summary: pd.DataFrame) -> list[str]:
    """The reasons a table is not comparable with published FIDs (proxy metric, a copy of the data)."""
    notes = [PROXY_CAVEAT.format(metric=m) for m in sorted(set(summary.metric)) if m != "FID"]
    notes += [COPY_CAVEAT.format(dataset=d) for d in sorted(set(summary.dataset)) if d not in ANCHOR_LABELS]
    return notes


def to_markdown(table: pd.DataFrame, best: dict[str, int]) -> str:
    """The table as Markdown, best values in bold."""
    shown = table.copy()
    for column, position in best.items():
        shown.loc[position, column] = f"**{shown.loc[position, column]}**"
    return shown.to_markdown(index=False)


def to_html(table: pd.DataFrame, best: dict[str, int], caption: str) -> str:
    """The table as HTML (pandas Styler), best values bold, with its caption; never a literal '**' or 'NaN'."""
    def bold(column: pd.Series) -> list[str]:
        return ["font-weight: bold" if best.get(column.name) == i else "" for i in range(len(column))]

    return table.style.apply(bold).hide(axis="index").set_caption(caption).to_html()


def anchor_table(dataset_key: str | None = None) -> pd.DataFrame:
    """Published anchors, those of one dataset key when given (methods as the paper names them)."""
    anchors = pd.DataFrame(ANCHORS)
    if dataset_key is not None:
        anchors = anchors[anchors.dataset_key == dataset_key]
    anchors = anchors.reindex(columns=["dataset_key", "dataset", "method", "loss", "fid", "is", "kid", "source"])
    anchors.insert(2, "name", [method_name(m, l) for m, l in zip(anchors.method, anchors.loss)])
    return anchors


def unattributed_anchors() -> pd.DataFrame:
    """Published numbers whose source names no dataset (the paper's Fig. 1): shown on their own, joined to nothing."""
    return _anchor_display(anchor_table().pipe(lambda a: a[a.dataset_key.isna()]))


def _anchor_display(anchors: pd.DataFrame) -> pd.DataFrame:
    shown = anchors.drop(columns="method").rename(columns={"name": "method", "fid": "FID", "is": "IS", "kid": "KID"})
    shown = shown[["method", "FID", "IS", "KID", "source"]].reset_index(drop=True)
    for column, digits in (("FID", 2), ("IS", 2), ("KID", 4)):
        shown[column] = [MISSING if pd.isna(v) else f"{v:.{digits}f}" for v in shown[column]]
    return shown


def slug(text: str) -> str:
    """A file name from a dataset label."""
    return "".join(c if c.isalnum() else "_" for c in text.lower()).strip("_")


def render_dataset(summary: pd.DataFrame, smoke: bool = False) -> tuple[str, str]:
    """(Markdown, HTML) of one dataset: a compact table per metric, caveats, then its published anchors."""
    dataset, key = summary.dataset.iloc[0], summary.dataset_key.iloc[0]
    stamp_md = f"**{SMOKE_STAMP}** (our rows only; the published anchors are real)\n\n" if smoke else ""
    stamp_html = f"<p><b>{SMOKE_STAMP}</b> (our rows only; the published anchors are real)</p>" if smoke else ""
    md, html = [f"# {dataset}\n\n{stamp_md}"], [f"<h1>{dataset}</h1>{stamp_html}"]
    for metric, part in summary.groupby("metric", sort=True):
        table, best, caption = compact_table(part)
        md.append(f"## Measured by granlib ({metric})\n\n{to_markdown(table, best)}\n\n*{caption}*\n\n")
        html.append(f"<h2>Measured by granlib ({metric})</h2>{to_html(table, best, caption)}")
    notes = caveats(summary)
    md += [f"> {note}\n\n" for note in notes]
    html += [f"<p><i>{note}</i></p>" for note in notes]
    anchors = _anchor_display(anchor_table(key))
    heading = f"Published anchors for {ANCHOR_LABELS.get(key, key)} (not ours; Inception FID on the original data)"
    md.append(f"## {heading}\n\n" + (anchors.to_markdown(index=False) if len(anchors) else "(none)") + "\n")
    html.append(f"<h2>{heading}</h2>" + (anchors.style.hide(axis="index").to_html() if len(anchors)
                                            else "<p>(none)</p>"))
    return "".join(md), "".join(html)


def write_tables(rows: pd.DataFrame, out_dir: str | Path, smoke: bool = False) -> list[Path]:
    """Per-dataset tables (Markdown and HTML) beside that dataset's anchors, and the paper's Fig. 1 numbers on
    their own page; returns the files written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    table = summary_table(rows)
    for (_, dataset), part in (table.groupby(["dataset_key", "dataset"], dropna=False) if len(table) else []):
        md, html = render_dataset(part, smoke)
        written += [out_dir / f"{slug(dataset)}.md", out_dir / f"{slug(dataset)}.html"]
        written[-2].write_text(md)
        written[-1].write_text(html)
    fig1 = unattributed_anchors()
    note = "These numbers are attached to no dataset: the caption available to this project does not name it."
    (out_dir / "paper_fig1.md").write_text(f"# {FIG1_TITLE}\n\n{note}\n\n{fig1.to_markdown(index=False)}\n")
    (out_dir / "paper_fig1.html").write_text(f"<h1>{FIG1_TITLE}</h1><p>{note}</p>"
                                             f"{fig1.style.hide(axis='index').to_html()}")
    return written + [out_dir / "paper_fig1.md", out_dir / "paper_fig1.html"]


def findings(summary: pd.DataFrame) -> list[str]:
    """One sentence per dataset and metric, computed from the rows: the lowest mean, and whether it is separated
    from the runner-up (their mean ± std intervals do not overlap) or not."""
    sentences = []
    for (dataset, metric), part in summary.groupby(["dataset", "metric"], sort=True):
        part = part.sort_values("fd_mean").reset_index(drop=True)
        best = part.iloc[0]
        text = (f"{dataset}, {metric}: the lowest mean is {best.label} with {_value(best.fd_mean, best.fd_std, 1)} "
                f"over {best.seeds} seed{'' if best.seeds == 1 else 's'}")
        if len(part) > 1:
            second = part.iloc[1]
            spread = (0 if pd.isna(best.fd_std) else best.fd_std) + (0 if pd.isna(second.fd_std) else second.fd_std)
            separated = second.fd_mean - best.fd_mean > spread and best.seeds > 1 and second.seeds > 1
            text += (f"; the runner-up, {second.label}, has {_value(second.fd_mean, second.fd_std, 1)}: "
                     + ("separated (the mean ± std intervals do not overlap)." if separated else
                        "not separated (the mean ± std intervals overlap, or one seed only)."))
        else:
            text += "; nothing to compare with."
        sentences.append(text)
    return sentences

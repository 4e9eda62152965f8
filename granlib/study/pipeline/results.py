"""Result rows with provenance, and the tables built from them.

Every row that granlib writes carries: the dataset's key and label (variant included), resolution, architecture
(CNN variant, initialisation), method, loss, K, ε, iterations, seed, metric name and feature extractor (+ weights
sha256), n_real/n_fake, device, date, git commit, profile, run directory and ``source`` = "granlib (measured)".
Anchor rows from publications are kept apart, labelled, and joined like for like (dataset key, resolution,
architecture, method, loss; the CNN variant where both state one: :func:`granlib.study.pipeline.anchors.like_for_like`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
from pandas.io.formats.style import Styler

from granlib.data import LABELS
from granlib.normalizers import NORMALIZERS, method_label
from granlib.study.pipeline.anchors import (
    ANCHOR_KEYS,
    ANCHORS,
    SOURCE_NAMES,
    count,
    like_for_like,
    network,
    protocol,
    statistics,
)
from granlib.study.pipeline.row_store import RowSchema, RowStore
from granlib.training.config import RUN_SETTINGS

SOURCE = "granlib (measured)"
SMOKE_STAMP = "smoke — not a result"
ROW_KEYS = ("dataset_key", "dataset", "resolution", "architecture", "cnn_variant", "init", "method", "loss", "K",
            "eps", "iterations", "seed", "metric", "fd", "is_mean", "is_std", "kid_mean", "kid_std",
            "feature_extractor", "weights_sha256", "n_real", "n_fake", "reference_images", "gpu", "date",
            "git_commit", "profile", "run_dir", "source")
ANCHOR_LABELS = {key: label for key, label in LABELS.items() if key != "synthetic"}  # datasets anchors can name


# The fields that name one measured run: two rows that agree in all of them are one run measured twice.
# Every training setting that changes a run is in it: the networks' widths, the optimisation settings of
# granlib.training.config.RUN_SETTINGS, the normaliser's hyper-parameters and the precision, so rows of two widths or
# two batch sizes are never one run, and a study asked for with one setting changed trains that run anew.
# A normaliser's hyper-parameters enter as ``hyperparameters``: its declared ones only (GraN's ε, WGAN-GP's λ,
# clipping's c, a registered normaliser's options), as sorted JSON text.
RUN_KEY = ("dataset_key", "dataset", "resolution", "architecture", "cnn_variant", "init", "ngf", "ndf", "method",
           "loss", "K", *RUN_SETTINGS, "hyperparameters", "precision", "iterations", "seed", "feature_extractor",
           "n_real", "n_fake", "reference_images", "profile")


def upgrade_row(row: dict) -> dict:
    """A result row written before rows named the normaliser's declared hyper-parameters (``hyperparameters``),
    with them: ε from the row, the others at the library's values of that time (the registry's defaults)."""
    if "hyperparameters" in row or row.get("method") not in NORMALIZERS:
        return row
    declared = NORMALIZERS[row["method"]].hyperparameters
    values = {name: row["eps"] if name == "eps" and row.get("eps") is not None else default
              for name, default in declared.items()}
    return {**row, "hyperparameters": json.dumps(values, sort_keys=True)}


RESULT_ROWS = RowSchema(key=RUN_KEY, required=ROW_KEYS,
                        numeric=("resolution", "ngf", "ndf", "K", "eps", "iterations", "seed", "fd", "is_mean",
                                 "is_std", "kid_mean", "kid_std", "n_real", "n_fake", "nz", "n_dis", "batch_size_d",
                                 "batch_size_g", "lr_d", "lr_g", "ema_decay", "ema_start"), upgrade=upgrade_row)


def append_row(path: str | Path, row: dict) -> bool:
    """Append one row (all provenance keys required) to a rows file unless a row of its run exists there: the keys
    of :data:`ROW_KEYS` in their order, then any further measurements of the run. True when written."""
    missing = [k for k in ROW_KEYS if k not in row]
    if missing:
        raise ValueError(f"result row lacks provenance keys {missing}")
    extra = {k: v for k, v in row.items() if k not in ROW_KEYS}
    return RowStore(path, RESULT_ROWS).append({**{k: row[k] for k in ROW_KEYS}, **extra})


def rows_files(rows_from: str | Path) -> list[Path]:
    """A rows file itself, or every ``*.jsonl`` under a results directory's ``rows/``."""
    rows_from = Path(rows_from)
    return [rows_from] if rows_from.suffix == ".jsonl" else sorted(Path(rows_from, "rows").glob("*.jsonl"))


def load_rows(rows_from: str | Path, **where: object) -> pd.DataFrame:
    """The result rows of a rows file, or of every file under ``results_dir/rows``, validated, one per run
    (:class:`~granlib.study.pipeline.row_store.RowStore`); ``where`` keeps those whose fields have its values
    (``profile="regime-map"``). The one reader of result rows: every table, study and notebook reads them here."""
    return RowStore(rows_files(rows_from), RESULT_ROWS).frame(ROW_KEYS, **where)


MISSING = "—"
PROXY_CAVEAT = ("{metric} is the Fréchet distance in the features of EfficientNet-lite0 (an offline proxy): it is not "
                "FID, and its values are not comparable with published FIDs.")
COPY_CAVEAT = "Measured on {dataset}, not the original data: not comparable with published numbers."
FIG1_TITLE = "Published, dataset not stated: the GraN-GAN paper's Fig. 1"


# What makes two runs comparable: one table groups rows that agree in all of these (the run key less method, loss,
# K and seed), so a wider network, another reference set or another profile never hides inside a mean.
PROTOCOL = ("dataset_key", "dataset", "resolution", "architecture", "cnn_variant", "init", "ngf", "ndf",
            *RUN_SETTINGS, "precision", "iterations", "metric", "feature_extractor", "n_real", "n_fake",
            "reference_images", "profile")


def summary_table(rows: pd.DataFrame, measures: Iterable[str] = (), order: Iterable[str] = ()) -> pd.DataFrame:
    """The one per-method summary: mean and std over seeds per protocol (:data:`PROTOCOL`) and (method, loss, K),
    one numeric row per group, with ``protocol`` numbering the protocols (0, 1, … in order of appearance), ``name``
    and ``label`` the method as the paper names it (without and with K). ``measures``: further per-run fields
    averaged over seeds as ``<field>_mean`` (NaN where no row has one); ``order``: methods ("normaliser/loss")
    listed first, in that order, within each protocol. Rows come from :func:`load_rows`, one per run."""
    if rows.empty:
        return pd.DataFrame()
    measures = list(measures)
    columns = [*rows.columns, *PROTOCOL, "hyperparameters", "is_mean", "kid_mean", "gpu", *measures]
    rows = rows.reindex(columns=list(dict.fromkeys(columns)))
    keys = [*PROTOCOL, "method", "loss", "K", "hyperparameters"]  # GraN at two ε: two rows
    table = rows.groupby(keys, dropna=False, sort=False).agg(
        fd_mean=("fd", "mean"), fd_std=("fd", "std"), is_mean=("is_mean", "mean"), is_std=("is_mean", "std"),
        kid_mean=("kid_mean", "mean"), kid_std=("kid_mean", "std"), seeds=("seed", "nunique"),
        gpu=("gpu", lambda g: ", ".join(sorted(set(map(str, g))))),
        **{f"{name}_mean": (name, "mean") for name in measures}).reset_index()
    protocols = ["|".join(map(str, values)) for values in table[list(PROTOCOL)].itertuples(index=False)]
    table["protocol"] = pd.factorize(pd.Series(protocols))[0]
    position = {method: i for i, method in enumerate(order)}
    table["position"] = [position.get(f"{m}/{l}", len(position)) for m, l in zip(table.method, table.loss)]
    table = table.sort_values(["dataset_key", "protocol", "position", "method", "loss", "K"], na_position="first",
                              kind="stable").drop(columns="position").reset_index(drop=True)
    table["name"] = [method_label(m, l) for m, l in zip(table.method, table.loss)]
    table["label"] = [method_label(m, l, k) for m, l, k in zip(table.method, table.loss, table.K)]
    return table


def _value(mean: float, std: float, digits: int) -> str:
    if pd.isna(mean):
        return MISSING
    return f"{mean:.{digits}f}" + ("" if pd.isna(std) else f" ± {std:.{digits}f}")


def _anchor_fid(row: pd.Series, variant: bool = True) -> list[dict]:
    """The published anchors like for like with one summary row: same dataset key, resolution, architecture, method
    and loss, and the same CNN variant where both state one (unless ``variant`` is False)."""
    cnn_variant = row.get("cnn_variant") if variant else None
    return like_for_like(row.get("dataset_key"), row.get("resolution"), row.get("architecture"), row.method, row.loss,
                         cnn_variant if isinstance(cnn_variant, str) else None)


def compact_table(summary: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int], str]:
    """One dataset and metric as read in a paper: (display table, {column: position of the best value}, caption).

    Columns: method (as the paper names it), K, the metric (mean ± std over seeds), IS, KID, seeds, and the
    published Inception FID like for like (:func:`_anchor_fid`; "—" where none matches), one column per published
    protocol, its heading naming the source, iterations, n generated vs n real and the reference statistics.
    Columns that are the same in every row move into the caption with the protocol (resolution, network,
    iterations, samples).
    """
    summary = summary.reset_index(drop=True)
    metric = summary.metric.iloc[0]
    matched = [_anchor_fid(row) for _, row in summary.iterrows()]
    protocols = list(dict.fromkeys(protocol(a) for found in matched for a in found))  # one column per protocol
    published = {f"published FID ({p})": [next((f"{a['fid']:g}" for a in found if protocol(a) == p), MISSING)
                                          for found in matched] for p in protocols}
    table = pd.DataFrame({
        "method": summary.name, "K": [MISSING if pd.isna(k) else f"{k:g}" for k in summary.K],
        metric: [_value(m, s, 2) for m, s in zip(summary.fd_mean, summary.fd_std)],
        "IS": [_value(m, s, 2) for m, s in zip(summary.is_mean, summary.is_std)],
        "KID": [_value(m, s, 4) for m, s in zip(summary.kid_mean, summary.kid_std)],
        "seeds": summary.seeds.astype(str),
        **(published or {"published FID (like for like)": [MISSING] * len(summary)})})
    best = {}
    for column, values, lowest in ((metric, summary.fd_mean, True), ("IS", summary.is_mean, False),
                                   ("KID", summary.kid_mean, True)):
        if values.nunique() > 1:  # a tie everywhere marks nothing
            best[column] = int(values.idxmin() if lowest else values.idxmax())
    first = summary.iloc[0]
    resolution = count(first.resolution)
    ours = [f"{first.dataset}", f"{resolution}×{resolution}", network(first.architecture, first.get("cnn_variant")),
            f"{count(first.iterations)} iterations",
            f"{count(first.n_fake)} generated vs {count(first.n_real)} real images",
            f"device {first.gpu}", f"profile {first.profile}"]
    constant = [c for c in ("K", "IS", "KID", "seeds") if len(table) > 1 and table[c].nunique() == 1 and c not in best]
    ours += [f"{c}: {table[c].iloc[0]} for every row" for c in constant]
    caption = "; ".join(ours) + ". Mean ± std over seeds; the best value of a column is in bold. " + _published_note(
        matched)
    return table.drop(columns=constant), best, caption


def _published_note(matched: list[list[dict]]) -> str:
    """The caption's sentence on the published FID columns: each protocol with its full source."""
    anchors = list({protocol(a): a for found in matched for a in found}.values())
    if not anchors:
        return ("Published FID: no source has a number of the same dataset, resolution, network, method and loss "
                f"({MISSING}).")
    sources = "; ".join(f"{protocol(a)} ({a['source']})" for a in anchors)
    return (f"Published FID beside the row of the same dataset, resolution, network (CNN variant where stated), "
            f"method and loss, {MISSING} where the source has none: {sources}.")


def caveats(summary: pd.DataFrame) -> list[str]:
    """The reasons a table is not comparable with published FIDs: a proxy metric, a copy of the data, another
    training length or sample size than the published number beside a row, and a published CNN number left out
    because its CNN variant differs."""
    notes = [PROXY_CAVEAT.format(metric=m) for m in sorted(set(summary.metric)) if m != "FID"]
    notes += [COPY_CAVEAT.format(dataset=d) for d in sorted(set(summary.dataset)) if d not in ANCHOR_LABELS.values()]
    unlike: dict[tuple, list[str]] = {}  # (published protocol, our protocol) -> methods
    variants: dict[tuple, list[str]] = {}  # (source, their variant, ours) -> methods
    for _, row in summary.iterrows():
        for a in _anchor_fid(row):
            if any(a[k] is not None and a[k] != row.get(k) for k in ("iterations", "n_fake", "n_real")):
                ours = (f"{count(row.iterations)} iterations, {count(row.n_fake)} generated vs "
                        f"{count(row.n_real)} real images")
                unlike.setdefault((protocol(a), ours), []).append(row["name"])
        for a in _anchor_fid(row, variant=False):
            if a not in _anchor_fid(row):
                variants.setdefault((SOURCE_NAMES[a["source"]], a["cnn_variant"], row.get("cnn_variant")),
                                    []).append(row["name"])
    notes += [f"The published FID ({theirs}) beside {', '.join(dict.fromkeys(names))} comes from another protocol "
              f"than these rows ({ours}): FID falls with training and with the number of samples, so the two are "
              f"not comparable." for (theirs, ours), names in unlike.items()]
    notes += [f"No published FID beside {', '.join(dict.fromkeys(names))}: the CNN number of {source} used the "
              f"{theirs} discriminator, these rows the {ours} one (granlib.models.cnn)."
              for (source, theirs, ours), names in variants.items()]
    return notes


def to_markdown(table: pd.DataFrame, best: dict[str, int]) -> str:
    """The table as Markdown, best values in bold."""
    shown = table.copy()
    for column, position in best.items():
        shown.loc[position, column] = f"**{shown.loc[position, column]}**"
    return shown.to_markdown(index=False)


def styled(table: pd.DataFrame) -> Styler:
    """Where every table becomes HTML: a pandas Styler whose ids are named by the table's content (the Styler's
    default is a random uuid per call), so rendering the same rows again writes the same bytes."""
    digest = hashlib.sha256(table.to_json(orient="split", default_handler=str).encode()).hexdigest()[:10]
    return Styler(table, uuid=digest, cell_ids=False)


def to_html(table: pd.DataFrame, best: dict[str, int], caption: str) -> str:
    """The table as HTML (:func:`styled`), best values bold, with its caption; never a literal '**' or 'NaN'."""
    def bold(column: pd.Series) -> list[str]:
        return ["font-weight: bold" if best.get(column.name) == i else "" for i in range(len(column))]

    return styled(table).apply(bold).hide(axis="index").set_caption(caption).to_html()


def stamped(table: pd.DataFrame, smoke: bool) -> pd.DataFrame | Styler:
    """A table as a notebook shows it: under smoke captioned with the smoke stamp, so it never reads as a result."""
    return styled(table).set_caption(f"<b>{SMOKE_STAMP}</b>") if smoke else table


def anchor_table(dataset_key: str | None = None) -> pd.DataFrame:
    """Published anchors with every protocol field (:data:`granlib.study.pipeline.anchors.ANCHOR_KEYS`), those of one
    dataset key when given; ``name`` is the method as the paper names it."""
    anchors = pd.DataFrame(ANCHORS, columns=list(ANCHOR_KEYS)).astype(object)  # None stays None, not NaN
    if dataset_key is not None:
        anchors = anchors[anchors.dataset_key == dataset_key]
    anchors.insert(2, "name", [method_label(m, l) for m, l in zip(anchors.method, anchors.loss)])
    return anchors


def unattributed_anchors() -> pd.DataFrame:
    """Published numbers whose source names no dataset (the paper's Fig. 1): shown on their own, joined to nothing."""
    return _anchor_display(anchor_table().pipe(lambda a: a[a.dataset_key.isna()]))


def _anchor_display(anchors: pd.DataFrame) -> pd.DataFrame:
    """One line per anchor with its protocol fields ("not stated" where the source does not state one) and values
    ("—" where not published)."""
    shown = pd.DataFrame({
        "method": anchors.name.tolist(),
        "resolution": [count(r) if pd.isna(r) else f"{count(r)}×{count(r)}" for r in anchors.resolution],
        "network": [network(a, v) for a, v in zip(anchors.architecture, anchors.cnn_variant)],
        "iterations": [count(n) for n in anchors.iterations],
        "n generated": [count(n) for n in anchors.n_fake],
        "n real": [count(n) for n in anchors.n_real],
        "reference": [statistics(s) for s in anchors.reference_split]})
    for column, key, digits in (("FID", "fid", 2), ("IS", "is", 2), ("KID", "kid", 4)):
        shown[column] = [MISSING if pd.isna(v) else f"{v:.{digits}f}" for v in anchors[key]]
    shown["source"] = anchors.source.tolist()
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
    for (metric, _), part in summary.groupby(["metric", "protocol"], sort=True):  # one table per protocol
        table, best, caption = compact_table(part)
        md.append(f"## Measured by granlib ({metric})\n\n{to_markdown(table, best)}\n\n*{caption}*\n\n")
        html.append(f"<h2>Measured by granlib ({metric})</h2>{to_html(table, best, caption)}")
    notes = caveats(summary)
    md += [f"> {note}\n\n" for note in notes]
    html += [f"<p><i>{note}</i></p>" for note in notes]
    anchors = _anchor_display(anchor_table(key))
    heading = (f"Published anchors for {ANCHOR_LABELS.get(key, key)} (not ours; Inception FID on the original data, "
               f"each with its protocol)")
    md.append(f"## {heading}\n\n" + (anchors.to_markdown(index=False) if len(anchors) else "(none)") + "\n")
    html.append(f"<h2>{heading}</h2>" + (styled(anchors).hide(axis="index").to_html() if len(anchors)
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
                                             f"{styled(fig1).hide(axis='index').to_html()}")
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

"""What a reader sees of the image study: the per-method summary and FD figure, the samples beside real images, the
sentences computed from the rows, and the rendered ledger (the results table before the verdicts)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from granlib.data import DatasetNotFoundError, real_images
from granlib.normalizers import method_label
from granlib.study.ledger.images.claims import IMAGE_RULE
from granlib.study.ledger.images.measures import COLLAPSE_RATIO, collapsed, ema_initial_share
from granlib.study.ledger.images.protocol import METHODS, by_method, methods_of, profiles, study_params
from granlib.study.ledger.render import NO_VERDICT, Section, render, stamp_sentences
from granlib.study.pipeline.plots import sample_grids
from granlib.study.pipeline.results import caveats, compact_table, summary_table, to_html, to_markdown

# The per-run measures the summary averages beside FD, IS and KID, and the columns a reader is shown.
RUN_MEASURES = ("fd_raw", "pixel_std_ratio", "diversity_ratio", "train_seconds")
SUMMARY_COLUMNS = ["name", "fd_mean", "fd_std", "fd_raw_mean", "seeds", "pixel_std_ratio_mean",
                   "diversity_ratio_mean", "train_seconds_mean"]


def with_ratios(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows with the samples' pixel spread and diversity as shares of the real images' (per run)."""
    def ratio(generated: str, real: str) -> pd.Series:
        return rows.get(generated, pd.Series(dtype=float)) / rows.get(real, pd.Series(dtype=float))

    return rows.assign(pixel_std_ratio=ratio("pixel_std_generated", "pixel_std_real"),
                       diversity_ratio=ratio("diversity_generated", "diversity_real"))


def method_summary(rows: pd.DataFrame, methods: tuple[str, ...] = METHODS) -> pd.DataFrame:
    """:func:`~granlib.study.pipeline.results.summary_table` of the study's rows with its per-run measures, in the
    order of ``methods``, as the columns a reader is shown (:data:`SUMMARY_COLUMNS`)."""
    if not len(rows):
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    return summary_table(with_ratios(rows), RUN_MEASURES, methods)[SUMMARY_COLUMNS]


MARKDOWN_BOLD = "**{}**"  # how seed_table marks a value in Markdown; HTML takes "<b>{}</b>" (never a literal '**')


def seed_table(rows: pd.DataFrame, methods: tuple[str, ...] = METHODS, bold: str = MARKDOWN_BOLD) -> pd.DataFrame:
    """FD of every run, one line per method in the order of ``methods``: EMA-G's FD per seed (raw G's in brackets,
    "—" for a seed without a row), the mean ± std over seeds with their count (:func:`method_summary`), and the
    samples' diversity per seed. ``bold`` marks the lowest mean and every collapsed run's diversity
    (:func:`~granlib.study.ledger.images.measures.collapsed`)."""
    seeds = sorted(set(int(s) for s in rows.seed))
    summary = method_summary(rows, methods).set_index("name")
    if not summary.index.is_unique:
        raise ValueError("seed_table takes one protocol and one K per method; these rows hold several")
    lowest = summary.fd_mean.idxmin() if summary.fd_mean.notna().any() else None
    listed = f"{seeds[0]}–{seeds[-1]}" if seeds == list(range(seeds[0], seeds[-1] + 1)) else ", ".join(map(str, seeds))
    lines = []
    for _, part in by_method(rows, methods):
        name = method_label(part.method.iloc[0], part.loss.iloc[0])
        by_seed = {int(run.seed): run for run in part.itertuples()}
        mean = summary.loc[name]
        shown = "—" if pd.isna(mean.fd_mean) else f"{mean.fd_mean:.1f}" + (
            "" if pd.isna(mean.fd_std) else f" ± {mean.fd_std:.1f}")
        shown = f"{shown} ({int(mean.seeds)})"
        diversities = ["—" if run is None else bold.format(f"{run.diversity_generated:.3f}")
                       if collapsed(run.diversity_generated, run.diversity_real)
                       else f"{run.diversity_generated:.3f}" for run in map(by_seed.get, seeds)]
        lines.append({"method": name,
                      **{f"seed {seed}": "—" if seed not in by_seed else
                         f"{by_seed[seed].fd:.1f} ({by_seed[seed].fd_raw:.1f})" for seed in seeds},
                      "mean ± std (n)": bold.format(shown) if name == lowest else shown,
                      f"sample diversity, seed{'s' if len(seeds) > 1 else ''} {listed}": ", ".join(diversities)})
    return pd.DataFrame(lines)


def seed_markdown(rows: pd.DataFrame, methods: tuple[str, ...] = METHODS) -> str:
    """:func:`seed_table` as Markdown, numbers right-aligned: the table results/README.md shows of each study."""
    table = seed_table(rows, methods)
    return table.to_markdown(index=False, colalign=["left"] + ["right"] * (len(table.columns) - 2) + ["left"])


def fd_noise(rows: pd.DataFrame) -> dict[str, float]:
    """The FD estimate's own noise against the seeds' spread: |FD − FD of a disjoint sample set| of one EMA-G
    (median and max over the runs that measured it) and the std of FD over seeds (median and range over methods)."""
    repeat = rows.get("fd_repeat", pd.Series(dtype=float))
    noise = (rows.fd - repeat).abs().dropna()
    spread = rows.groupby(["method", "loss"]).fd.std().dropna()
    return {"noise_median": float(noise.median()) if len(noise) else float("nan"),
            "noise_max": float(noise.max()) if len(noise) else float("nan"), "noise_n": int(len(noise)),
            "spread_median": float(spread.median()) if len(spread) else float("nan"),
            "spread_min": float(spread.min()) if len(spread) else float("nan"),
            "spread_max": float(spread.max()) if len(spread) else float("nan")}


def describe(rows: pd.DataFrame, profile: str) -> str:
    """What the rows are (scale, protocol, metric, device, commits) and the FD's noise against the seeds' spread."""
    if not len(rows):
        return "no runs yet"
    first = rows.iloc[0]
    model = profiles()[profile]["model_overrides"]
    widths = (f"G/D base widths {model['ngf']}/{model['ndf']}, batch {model['batch_size_d']}" if "ngf" in model
              else "published widths and batches")
    commits = ", ".join(sorted({str(c)[:12] for c in rows.git_commit}))
    noise = fd_noise(rows)
    decay = float(first.ema_decay)
    sentence = (
        f"{len(rows)} runs: {first.dataset}, {first.resolution}×{first.resolution}, standard CNN "
        f"({first.cnn_variant}, init {first.init}; {widths}), {int(first.iterations)} iterations, EMA decay "
        f"{decay:g} (initial weights' share at the end {ema_initial_share(int(first.iterations), decay):.1e}), seeds "
        f"{sorted(set(rows.seed))}; {first.metric} of {int(first.n_fake)} generated vs {int(first.n_real)} "
        f"images of {first.reference_images}; device {first.gpu}; commits {commits}. FD noise (two disjoint "
        f"sample sets of one EMA generator, {noise['noise_n']} runs): median {noise['noise_median']:.2f}, max "
        f"{noise['noise_max']:.2f}; seed spread (std of FD over seeds): " + (
            f"median {noise['spread_median']:.2f} over methods (range {noise['spread_min']:.2f}–"
            f"{noise['spread_max']:.2f})" if noise["spread_median"] == noise["spread_median"]
            else "none yet (no method has two seeds)"))
    return stamp_sentences([sentence], profile == "smoke")[0]


def fd_figure(rows: pd.DataFrame, methods: tuple[str, ...] = METHODS) -> plt.Figure:
    """FD of every run by method (points: seeds; bars: the mean), EMA-G beside raw G."""
    summary = method_summary(rows, methods)
    fig, ax = plt.subplots(figsize=(8, 4))
    positions = {name: i for i, name in enumerate(summary.name)}
    ax.bar([p - 0.2 for p in positions.values()], summary.fd_mean, width=0.4, alpha=0.5, label="EMA-G, mean")
    ax.bar([p + 0.2 for p in positions.values()], summary.fd_raw_mean, width=0.4, alpha=0.5, label="raw G, mean")
    if len(rows):
        names = [method_label(m, l) for m, l in zip(rows.method, rows.loss)]
        ax.scatter([positions[n] - 0.2 for n in names], rows.fd, color="k", s=12, label="EMA-G, one seed")
    ax.set_xticks(list(positions.values()), list(positions), rotation=20, fontsize=9)
    metric = rows.metric.iloc[0] if len(rows) else "FD"
    ax.set_ylabel(f"{metric} (lower is better)")
    ax.set_xlabel("method (each normaliser at its default K)")
    dataset = rows.dataset.iloc[0] if len(rows) else ""
    ax.set_title(f"{dataset}, CPU scale: generation by method ({len(rows)} runs)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def row_samples(rows: pd.DataFrame, rows_dir: Path, seed: int = 0, methods: tuple[str, ...] = METHODS
                ) -> list[tuple[str, Path]]:
    """(caption, path) of each method's committed sample grid of ``seed``, in the order of ``methods``."""
    chosen = rows[rows.seed == seed] if len(rows) else rows
    runs = [run for _, part in (by_method(chosen, methods) if len(chosen) else ()) for run in part.itertuples()]
    def caption(run) -> str:
        iterations = f"{int(run.iterations):,}".replace(",", " ")
        return f"{method_label(run.method, run.loss)}\nseed {run.seed}, iteration {iterations}"

    return [(caption(r), rows_dir / r.sample_grid) for r in runs if isinstance(getattr(r, "sample_grid", None), str)]


def reference_caption(profile: str) -> str:
    """What the samples figure shows as reference images under ``profile``: never "real" for synthetic images."""
    settings = profiles()[profile]
    if settings.get("eval_dataset_override"):
        return "real images (held-out test split)"
    if settings["dataset_override"] == "synthetic":
        return "synthetic training images (smoke data, not real images)"
    return "real images (training set)"


def samples_panel(profile: str, rows: pd.DataFrame, rows_dir: Path, path: Path, root: Path | None = None,
                  **where: str | Path) -> plt.Figure | None:
    """Each method's sample grid of seed 0 beside 64 images of what the profile's FD is measured against (stamped
    under smoke), saved to ``path``. Where those images are not on disk (a clone without ``data/``) the figure is
    not redrawn: the one at ``path`` (committed) is shown as it is, with a note saying how to provide the images;
    returns None then."""
    from IPython.display import Image, display

    params = study_params(profile, root, **where)
    caption = reference_caption(profile)
    try:
        real = real_images(params.get("eval_dataset_override") or params["dataset_override"], 64, resolution=32)
    except DatasetNotFoundError as missing:
        if not path.is_file():
            raise
        where = str(missing).split(" (")[0]
        print(f"Showing the committed {path.name}: its real images are not on disk here ({where}; to provide them: "
              f"./run_all.sh --unpack <path to>/cifar10-jpeg.tar.gz, README 'Data').")
        display(Image(filename=str(path)))
        return None
    fig = sample_grids(row_samples(rows, rows_dir, methods=methods_of(profile)), real, caption,
                       title=f"EMA-generator samples at the end of training, beside {caption.split(' (')[0]}",
                       smoke=profile == "smoke")
    fig.savefig(path)
    return fig


def findings(rows: pd.DataFrame, table: pd.DataFrame, methods: tuple[str, ...] = METHODS, smoke: bool = False
             ) -> list[str]:
    """What the rows say, computed: runs per method, the lowest mean FD, flat or collapsed samples, and the
    verdicts per claim; under ``smoke`` every sentence stamped and no verdict stated
    (:func:`granlib.study.ledger.render.stamp_sentences`)."""
    if not len(rows):
        return stamp_sentences(["No run of this profile has finished yet."], smoke)
    summary = method_summary(rows, methods)
    best = summary.sort_values("fd_mean").iloc[0]
    per_method = ", ".join(f"{m}: {n}" for m, n in zip(summary.name, summary.seeds))
    spread = "" if pd.isna(best.fd_std) else f" ± {best.fd_std:.1f}"
    reference = "synthetic reference images" if smoke else "real images"  # smoke data is never called real
    sentences = [f"{len(rows)} runs of {len(summary)} methods (seeds per method: {per_method}).",
                 f"The lowest mean {rows.metric.iloc[0]} is {best['name']}'s, {best.fd_mean:.1f}{spread}."]
    if "pixel_std_generated" in rows:
        flat = summary[summary.pixel_std_ratio_mean < 0.5]
        sentences.append(f"Samples flatter than half the {reference}' pixel spread: "
                         + (", ".join(flat.name) if len(flat) else "none") + ".")
    if "diversity_generated" in rows:  # per run: one collapsed seed is a failure even where the mean is not
        runs = rows[collapsed(rows.diversity_generated, rows.diversity_real)]
        named = {method_label(m, l): part.seed for (m, l), part in runs.groupby(["method", "loss"], sort=False)}
        listed = "; ".join(f"{name} seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, sorted(seeds)))}"
                           for name, seeds in named.items())
        sentences.append(f"Collapsed runs (samples varying less than {COLLAPSE_RATIO:g}× as much as {reference} do): "
                         + (listed or "none") + ".")
    counts = table.groupby("verdict").size() if len(table) else pd.Series(dtype=int)
    sentences.append(NO_VERDICT if smoke else "Verdicts: " + ", ".join(
        f"{v} {int(counts.get(v, 0))}" for v in ("supported", "contradicted", "inconclusive", "pending")) + ".")
    return stamp_sentences(sentences, smoke)


def results_section(rows: pd.DataFrame, methods: tuple[str, ...] = METHODS) -> Section:
    """The study as the dataset tables show one (:func:`granlib.study.pipeline.results.compact_table`): per method,
    in the order of ``methods``, FD, IS and KID as mean ± std over seeds and the seeds counted, the published FID of
    the same dataset, resolution, network, method and loss in its own column headed by its source and protocol;
    then its caption and the reasons the two are not comparable (:func:`~granlib.study.pipeline.results.caveats`)."""
    summary = summary_table(rows, order=methods)
    table, best, caption = compact_table(summary)
    text = " ".join([caption, *caveats(summary)])
    return Section("FD by method, with the published FID apart", f"{to_markdown(table, best)}\n\n*{text}*",
                   to_html(table, best, text))


def seeds_section(rows: pd.DataFrame, methods: tuple[str, ...], images: int) -> Section:
    """Every run's FD and sample diversity (:func:`seed_table`) over ``images`` samples, with what the numbers are."""
    metric = rows.metric.iloc[0]
    caption = (f"{metric} of {int(rows.n_fake.iloc[0])} EMA-G samples (raw G in brackets; lower is better) against "
               f"{int(rows.n_real.iloc[0])} images of {rows.reference_images.iloc[0]}; sample diversity: the std "
               f"across {images} images averaged over pixels, the real images' "
               f"{rows.diversity_real.min():.3f}–{rows.diversity_real.max():.3f}; bold: the lowest mean, and the "
               f"diversity of every collapsed run (below {COLLAPSE_RATIO:g}× the real images').")
    html = to_html(seed_table(rows, methods, bold="<b>{}</b>"), {}, caption)
    return Section("FD of every seed", f"{seed_markdown(rows, methods)}\n\n*{caption}*", html)


def render_ledger(table: pd.DataFrame, rows: pd.DataFrame, profile: str, out_dir: str | Path) -> list[Path]:
    """ledger_images.md and ledger_images.html of the image study's ``profile``
    (:func:`granlib.study.ledger.render.render`): the results table (:func:`results_section`) and, where the rows
    measured raw-G FD and sample diversity, the table of every seed (:func:`seeds_section`), before the verdicts."""
    methods, settings = methods_of(profile), profiles()[profile]
    sections = (results_section(rows, methods),) if len(rows) else ()
    if len(rows) and {"fd_raw", "diversity_generated"} <= set(rows):  # the pilot's rows measured neither
        sections += (seeds_section(rows, methods, settings["pixel_images"]),)
    return render(table, out_dir, profile == "smoke", settings["min_n"], title="Claims ledger — images",
                  summary=describe(rows, profile), name="ledger_images", rule=IMAGE_RULE, sections=sections)

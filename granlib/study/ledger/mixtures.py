"""The claims ledger at 2-D scale: each claim tested on GANs trained on 2-D Gaussian mixtures, the measured evidence
(mean and 95 % CI over seeds, n) and a verdict computed from the rows by the rule fixed before the runs
(:data:`granlib.study.ledger.verdicts.RULE`).

The setting: 8 Gaussians on a ring and 25 on a grid (:mod:`granlib.study.instruments.mixtures`), ReLU-MLP G and D,
every cell of :func:`plan` over the profile's seeds; generation scored exactly against the known mixture, the
trained D measured in float64 (:func:`granlib.study.instruments.measurements.measure_discriminator`).

Run ``python -m granlib.study.ledger.mixtures --profile smoke|cpu`` (profiles: ``params/ledger/mixtures.yaml``):
trains the missing runs (one JSON line each, with full provenance, appended as it finishes; a re-run skips the rows
that exist) and writes the ledger as Markdown and HTML. The smoke profile is a miniature of every experiment under
``results/smoke/ledger/``, stamped "smoke — not a result".
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import torch

from granlib.normalizers import method_label
from granlib.project import project_root
from granlib.study.instruments.measurements import measure_discriminator, plateau_share
from granlib.study.instruments.mixtures import BOX, DATASET_LABEL, mixture_metrics, sample_mixture, train_mixture_gan
from granlib.study.instruments.seeds import StudySeeds
from granlib.study.ledger.claims import bound_claim, comparison, verdict_table
from granlib.study.ledger.profiles import load_profiles
from granlib.study.ledger.render import render, stamp_sentences, verdict_sentences
from granlib.study.pipeline.results import SOURCE
from granlib.study.pipeline.row_store import RowSchema, RowStore, study_lock
from granlib.training.provenance import git_commit

ROWS_FILE = "ledger_2d.jsonl"
BASELINE_LOSSES = ("ns", "wasserstein")
# losses of the generation cells per mixture: both on the ring and on the grid
LOSSES_FOR = {"8gaussians": BASELINE_LOSSES, "25gaussians": BASELINE_LOSSES}
ABLATION_DATASETS = ("8gaussians", "25gaussians")  # where P7 (R(n)) and C4 (the "equivalent" D) run
P5_K = (10.0, 0.1)  # K of SN/ns and WGAN-GP/wasserstein against their K = 1 cells (P5)
P6_K = (10.0, 0.1)  # K of GraN/ns against its K = 1 cell (P6)
BASELINES = ("sn", "gp", "gn")
# K of every generation cell, fixed before the runs: the baselines' published form (D = f) and GraN's bound ‖∇g‖ ≤ 1.
# (GraN's image default K = 0.1 did not move the ring in 2,000-step probes; it is one of P6's K values.)
STUDY_K = 1.0


@dataclass(frozen=True)
class Cell:
    """One training configuration; ``experiment`` names the study that planned it first."""

    experiment: str
    dataset: str
    method: str
    loss: str
    K: float  # noqa: N815 - the paper's name


def plan() -> list[Cell]:
    """Every cell of the study, most central first (a study cut short leaves whole cells, not thin ones)."""
    cells: list[Cell] = []

    def add(experiment: str, dataset: str, method: str, loss: str, K: float = STUDY_K) -> None:  # noqa: N803
        cell = Cell(experiment, dataset, method, loss, float(K))
        if not any((c.dataset, c.method, c.loss, c.K) == (cell.dataset, cell.method, cell.loss, cell.K) for c in cells):
            cells.append(cell)

    for dataset in ("8gaussians", "25gaussians"):
        for loss in LOSSES_FOR[dataset]:
            for method in ("gran", *BASELINES):
                add("generation", dataset, method, loss)  # P4, C1, and the trained D of P1-P3, C3
        if dataset in ABLATION_DATASETS:
            add("generation", dataset, "gran_inverse", "ns")  # P7
            add("generation", dataset, "equivalent", "ns")  # C4
    for method, loss in (("sn", "ns"), ("gp", "wasserstein")):
        for K in P5_K:
            add("K for baselines", "8gaussians", method, loss, K)  # P5
    for K in P6_K:
        add("K and plateaus", "8gaussians", "gran", "ns", K)  # P6
    return cells


def steps_for(settings: dict, dataset: str) -> int:
    """Generator steps of a profile's runs on ``dataset``."""
    return int(settings.get("steps_for", {}).get(dataset, settings["steps"]))


# --- rows
# One 2-D run: its cell (mixture, method, loss, K), length, seed, evaluation size and profile.
LEDGER_ROWS = RowSchema(key=("dataset_key", "method", "loss", "K", "steps", "seed", "n_eval", "profile"),
                        required=("experiment", "dataset", "dataset_key", "method", "loss", "K", "eps", "steps", "seed",
                                  "n_eval", "device", "date", "git_commit", "profile", "source"),
                        numeric=("K", "eps", "steps", "seed", "n_eval", "energy_distance", "high_quality"))


def rows_store(path: str | Path) -> RowStore:
    """The 2-D ledger's rows file."""
    return RowStore(path, LEDGER_ROWS)


def measure_run(cell: Cell, seed: int, profile: str, settings: dict) -> dict:
    """Train one cell's run and measure it: the generation metrics, then D's gradients, bound, jumps and plateaus."""
    steps = steps_for(settings, cell.dataset)
    run = train_mixture_gan(cell.dataset, cell.method, cell.loss, K=cell.K, steps=steps, seed=seed)
    gan, seeds = run.trainer, StudySeeds(seed)
    eval_gen = torch.Generator().manual_seed(seeds.evaluation)
    with torch.no_grad():
        fake = gan.G(torch.randn(settings["n_eval"], 2, generator=eval_gen))
    reference = sample_mixture(cell.dataset, settings["n_eval"], eval_gen)
    row = {"experiment": cell.experiment, "dataset": DATASET_LABEL[cell.dataset], "dataset_key": cell.dataset,
           "method": cell.method, "loss": cell.loss, "K": gan.config.K, "eps": gan.config.eps,
           "steps": steps, "seed": seed, "n_eval": settings["n_eval"],
           **mixture_metrics(fake, cell.dataset, reference)}
    n = settings["n_points"]
    real = sample_mixture(cell.dataset, n, eval_gen)
    row.update(measure_discriminator(gan.D, real, fake[:n], BOX[cell.dataset], seeds.measurement,
                                     settings["segments"], settings["segment_points"]))
    row.update({"plateau_share_g": plateau_share(run.grad_norm_g), "plateau_share_d": plateau_share(run.grad_norm_d),
                "grad_norm_g_median": float(run.grad_norm_g.nanmedian()),
                "grad_norm_d_median": float(run.grad_norm_d.nanmedian()),
                "max_abs_d_median": float(run.max_abs_d.nanmedian()), "train_seconds": round(run.seconds, 2),
                "device": "cpu", "torch": torch.__version__,
                "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "git_commit": git_commit(), "profile": profile, "source": SOURCE})
    return row


def run_study(profile: str, rows_path: str | Path | None = None, log=print) -> Path:
    """Train and measure every missing (cell, seed) of ``profile``, one appended row each; returns the rows file."""
    settings = load_profiles("mixtures")[profile]
    rows_path = Path(rows_path) if rows_path else project_root() / settings["out_dir"] / ROWS_FILE
    store = rows_store(rows_path)
    todo = [(cell, seed) for cell in plan() for seed in range(settings["seeds"])]
    with study_lock(rows_path):  # a second process would train every run again
        done = store.keys()
        for i, (cell, seed) in enumerate(todo):
            key = {"dataset_key": cell.dataset, "method": cell.method, "loss": cell.loss, "K": cell.K,
                   "steps": steps_for(settings, cell.dataset), "seed": seed, "n_eval": settings["n_eval"],
                   "profile": profile}
            if LEDGER_ROWS.key_of(key) in done:
                continue
            row = measure_run(cell, seed, profile, settings)
            store.append(row)
            log(f"[{i + 1}/{len(todo)}] {cell.dataset} {cell.method}/{cell.loss} K={cell.K:g} seed={seed}: "
                f"ED={row['energy_distance']:.4f} modes={row['modes_covered']}/{row['modes_total']} "
                f"HQ={row['high_quality']:.2f} ({row['train_seconds']:.1f} s training)")
    return rows_path


def evaluate_claims(rows: pd.DataFrame, min_n: int) -> pd.DataFrame:
    """Every ledger row, its verdict computed from ``rows`` by the rule (:mod:`granlib.study.ledger.verdicts`)."""
    datasets = [d for d in ("8gaussians", "25gaussians") if (rows.dataset_key == d).any()] if len(rows) else []
    return verdict_table([row for dataset in datasets for row in mixture_claims(rows, dataset, min_n)])


def mixture_claims(rows: pd.DataFrame, dataset: str, min_n: int) -> list[dict]:
    """The ledger rows of one mixture, claim by claim."""
    name = DATASET_LABEL[dataset]
    losses = LOSSES_FOR[dataset]

    def bound(check: str, method: str, loss: str) -> dict:
        return bound_claim(check, rows, dataset, name, (method, loss, STUDY_K), min_n, unit="points")

    def compare(claim: str, a: tuple, b: tuple, side: int = +1, metric: str = "energy_distance", **options) -> dict:
        # a, b: (method, loss[, K]), at the study's K unless given
        return comparison(rows, claim, dataset, name, (*a, STUDY_K)[:3], (*b, STUDY_K)[:3], side, min_n, metric,
                          **options)

    out = [bound("P1", "gran", loss) for loss in losses]
    out += [bound("P2 bound", "sn", "ns"), bound("P2 layers", "gran", "ns")]
    out += [bound("P3", "gp", loss) for loss in losses]
    out += [compare("P4", (base, loss), ("gran", loss)) for loss in losses for base in BASELINES]
    if dataset == "8gaussians":
        out += [compare("P5", (method, loss, K), (method, loss, 1.0), 0, experiment="K for baselines",
                        two_sided_null=True)
                for method, loss in (("sn", "ns"), ("gp", "wasserstein")) for K in P5_K]
        out += [compare("P6", ("gran", "ns", K), ("gran", "ns"), 0, metric=metric, experiment="K and plateaus",
                        two_sided_null=True)
                for metric in ("plateau_share_g", "plateau_share_d") for K in P6_K]
    if dataset in ABLATION_DATASETS:
        out.append(compare("P7", ("gran_inverse", "ns"), ("gran", "ns")))
    out += [compare("C1", ("gran", loss), ("gp", loss)) for loss in losses]
    out += [bound("C3", "gran", loss) for loss in losses]
    if dataset in ABLATION_DATASETS:
        out.append(compare("C4", ("equivalent", "ns"), ("gran", "ns")))
    return out


def load_ledger_rows(path: str | Path) -> pd.DataFrame:
    """The 2-D ledger's rows, validated, one per run."""
    return rows_store(path).frame()


def seeds_per_cell(rows: pd.DataFrame) -> pd.DataFrame:
    """The runs per cell: mixture, method as the paper names it, K and the number of seeds."""
    cells = rows.groupby(["dataset", "method", "loss", "K"], sort=False).seed.nunique().rename("seeds").reset_index()
    return cells.assign(method=[method_label(m, l) for m, l in zip(cells.method, cells.loss)]).drop(columns="loss")


def describe(rows: pd.DataFrame) -> str:
    """What the rows are: runs, mixtures, lengths, device and rows file."""
    steps = sorted(set(rows.steps)) if len(rows) else []
    return (f"{len(rows)} runs ({', '.join(sorted(set(rows.dataset))) if len(rows) else 'none'}; steps {steps}; "
            f"device cpu; rows from `{ROWS_FILE}`)")


def findings(rows: pd.DataFrame, table: pd.DataFrame, smoke: bool = False) -> list[str]:
    """What the rows say, computed: the runs, the best generator per mixture against GraN's, and each claim's
    verdicts; under ``smoke`` every sentence stamped and no verdict stated."""
    if not len(rows):
        return stamp_sentences(["No run of this profile has finished yet."], smoke)
    sentences = [f"{len(rows)} runs on {' and '.join(sorted(set(rows.dataset)))}: {rows.seed.nunique()} seeds per "
                 f"cell, {' and '.join(str(s) for s in sorted(set(rows.steps)))} generator steps."]
    generation = rows[(rows.experiment == "generation") & (rows.K == STUDY_K)]
    for dataset, part in generation.groupby("dataset"):
        means = part.groupby(["method", "loss"]).energy_distance.mean().sort_values()
        ranked = [method_label(*key) for key in means.index]
        best = f"{ranked[0]}'s ({means.iloc[0]:.4g})"
        gran = [f"{name} ranks {rank + 1} of {len(ranked)} ({means.iloc[rank]:.4g})"
                for rank, name in enumerate(ranked) if means.index[rank][0] == "gran"]
        sentences.append(f"{dataset}, K = {STUDY_K:g}: the lowest mean energy distance is {best}; "
                         + "; ".join(gran) + ".")
    return stamp_sentences(sentences + verdict_sentences(table, smoke), smoke)


def render_ledger(table: pd.DataFrame, rows: pd.DataFrame, out_dir: str | Path, smoke: bool, min_n: int
                  ) -> list[Path]:
    """ledger.md and ledger.html of the 2-D study (:func:`granlib.study.ledger.render.render`)."""
    return render(table, out_dir, smoke, min_n, title="Claims ledger — 2-D mixtures", summary=describe(rows),
                  name="ledger")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m granlib.study.ledger.mixtures", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=sorted(load_profiles("mixtures")), default="smoke")
    parser.add_argument("--render-only", action="store_true", help="write the tables from the rows so far")
    args = parser.parse_args(argv)
    settings = load_profiles("mixtures")[args.profile]
    torch.set_num_threads(1)  # 2-D nets: one thread is fastest, and leaves the other cores alone
    rows_path = project_root() / settings["out_dir"] / ROWS_FILE
    if not args.render_only:
        run_study(args.profile, rows_path, log=lambda line: print(line, flush=True))
    rows = load_ledger_rows(rows_path)
    rows = rows[rows.profile == args.profile] if len(rows) else rows
    table = evaluate_claims(rows, settings["min_n"])
    tables_dir = project_root() / settings["tables_dir"]
    for path in render_ledger(table, rows, tables_dir, args.profile == "smoke", settings["min_n"]):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

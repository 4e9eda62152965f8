"""What each normaliser costs per training step: seconds per D step and per G step, and peak memory, with the G
step in both of its forms (claim C2 of the ledger).

* ``double_backprop``: the G step differentiates through ‖∇ₓf‖ (``create_graph=True``), as a literal reading of
  g(x) = f(x)·R(‖∇ₓf(x)‖)/τ asks; what the reference training path does.
* ``held_constant``: ‖∇ₓf‖ (GN, GraN) or ∇ₓf (the "equivalent" D) is held constant in the G step. f is piecewise
  linear, so its Hessian is 0 almost everywhere and the two forms give the same generator gradient a.e.;
  :func:`generator_gradient_gap` measures that, in float64.

For normalisers without a gradient term (none, SN, weight clipping, WGAN-GP's G step) the two forms are one
computation; they are measured anyway, as a control. Timings repeat round-robin over every configuration so that
other load on the machine falls on all of them alike; each row records the load average. Peak memory is
``torch.cuda.max_memory_allocated`` on CUDA and, on the CPU, the peak of live tensor bytes in the profiler's memory
timeline (``torch.profiler``), parameters and optimiser state included.

Run ``python -m granlib.study.ledger.costs --profile smoke|cpu|gpu`` (``params/ledger/costs.yaml``; widths, batch and
device as the image ledger's profile of that name); rows go to ``costs.jsonl`` beside the image ledger's rows, or
``--out`` (replaced on each run: a measurement, not a training).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
import warnings
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import torch
from torch.profiler import ProfilerActivity, profile

from granlib.normalizers import NORMALIZERS, method_label, paper_methods, parse_method
from granlib.project import project_root
from granlib.study.ledger.claims import threshold, verdict_table
from granlib.study.ledger.images.protocol import DATASET, profiles, study_params
from granlib.study.ledger.profiles import load_profiles
from granlib.study.ledger.render import render, stamp_sentences, verdict_sentences
from granlib.study.ledger.statistics import fmt, welch_interval
from granlib.study.ledger.verdicts import comparative_verdict
from granlib.study.pipeline.experiments import make_config
from granlib.study.pipeline.results import SOURCE
from granlib.study.pipeline.row_store import RowSchema
from granlib.training.devices import resolve_device, synchronize
from granlib.training.fast_path import FastPath
from granlib.training.provenance import device_name, git_commit
from granlib.training.trainer import Trainer

FORMS = {"double_backprop": False, "held_constant": True}  # form → FastPath.cheap_generator_step
FORM_LABELS = {"double_backprop": "by double backprop", "held_constant": "with ‖∇f‖ held constant"}  # "G step …"


def cost_methods() -> list[str]:
    """Every registered normaliser, with the losses of the paper's comparison (non-saturating where it is in none):
    C2 is about each one's step, so a newly registered normaliser is timed too; a form made for a study
    (``variant_of``) takes the step of the normaliser it varies, which is timed instead."""
    unpaired = [f"{name}/ns" for name, spec in NORMALIZERS.items() if not spec.paper_losses and not spec.variant_of]
    return [*paper_methods(), *unpaired]


# One timing repeat of one (method, form) at one size on one device under one profile.
COST_ROWS = RowSchema(key=("method", "loss", "form", "repeat", "resolution", "ngf", "ndf", "batch_size_d",
                           "batch_size_g", "n_dis", "cnn_variant", "device", "profile"),
                      required=("method", "loss", "form", "repeat", "device", "date", "git_commit", "profile",
                                "source"),
                      numeric=("d_step_seconds", "g_step_seconds", "iteration_seconds", "peak_mib_d_step",
                               "peak_mib_g_step", "generator_gradient_gap"))
ROWS_FILE = "costs.jsonl"
def cost_settings() -> dict[str, dict]:
    """Repeats and steps per profile (``params/ledger/costs.yaml``), read when asked for; the nets are the image
    study's."""
    return load_profiles("costs")




def build_trainer(method: str, form: str, params: dict, device: torch.device) -> Trainer:
    """The study's trainer for ``method`` on the reference path except for the G-step ``form``."""
    normalizer, loss = parse_method(method)
    config = make_config(DATASET, normalizer, loss, None, 0, params).replace(device=str(device), fast=True,
                                                                             cuda_graph=False)
    fast_path = replace(FastPath.off(), cheap_generator_step=FORMS[form])
    torch.manual_seed(0)
    return Trainer(config, device, fast_path=fast_path)


def random_inputs(trainer: Trainer) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(real batch in [−1, 1], D noise, G noise): the cost does not depend on what the images show."""
    c, device = trainer.config, trainer.device
    real = torch.rand(c.batch_size_d, 3, c.resolution, c.resolution, device=device) * 2 - 1
    return real, torch.randn(c.batch_size_d, c.nz, device=device), torch.randn(c.batch_size_g, c.nz, device=device)


def timed_steps(trainer: Trainer, steps: int) -> tuple[float, float]:
    """(seconds per D step, seconds per G step), each the mean over ``steps`` steps."""
    d_seconds = g_seconds = 0.0
    for _ in range(steps):
        real, z_d, z_g = random_inputs(trainer)
        synchronize(trainer.device)
        start = time.perf_counter()
        trainer.d_step(real, z_d)
        synchronize(trainer.device)
        middle = time.perf_counter()
        trainer.g_step(z_g)
        synchronize(trainer.device)
        d_seconds, g_seconds = d_seconds + middle - start, g_seconds + time.perf_counter() - middle
    return d_seconds / steps, g_seconds / steps


def peak_bytes(trainer: Trainer, step: str) -> int:
    """Peak memory of one D step or one G step (``step`` = "d" or "g"), parameters and optimiser state included."""
    real, z_d, z_g = random_inputs(trainer)
    run = (lambda: trainer.d_step(real, z_d)) if step == "d" else (lambda: trainer.g_step(z_g))
    device = trainer.device
    if device.type == "cuda":
        synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        run()
        synchronize(device)
        return int(torch.cuda.max_memory_allocated(device))
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True, record_shapes=True, with_stack=True) as prof:
        run()
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        # deprecated in favour of the CUDA allocator's snapshots, which do not cover the CPU
        warnings.simplefilter("ignore", FutureWarning)
        path = Path(tmp) / "timeline.json"
        prof.export_memory_timeline(str(path), device="cpu")
        _, sizes = json.loads(path.read_text())  # [times, bytes per category at each time]
    return int(max((sum(at_time) for at_time in sizes), default=0))


def generator_gradient_gap(method: str, params: dict, batches: int) -> list[float]:
    """‖∇_θG(held constant) − ∇_θG(double backprop)‖ / ‖∇_θG(double backprop)‖ per batch, in float64, on the
    study's freshly initialised nets (one D step first, so D is not at its initial values)."""
    device = torch.device("cpu")
    trainer = build_trainer(method, "double_backprop", params, device).double()
    real, z_d, _ = random_inputs(trainer)
    trainer.d_step(real.double(), z_d.double())
    trainer.D.eval()  # spectral norm's power iteration must not move between the two forms' forwards
    gaps = []
    for b in range(batches):
        z = torch.randn(trainer.config.batch_size_g, trainer.config.nz, dtype=torch.float64,
                        generator=torch.Generator().manual_seed(b))
        grads = []
        for held in (True, False):
            trainer.G.zero_grad(set_to_none=True)
            trainer.D.requires_grad_(False)
            trainer.g_loss(trainer.D(trainer.G(z), generator_step=held)).backward()
            trainer.D.requires_grad_(True)
            grads.append(torch.cat([p.grad.flatten() for p in trainer.G.parameters()]))
        gaps.append(float((grads[0] - grads[1]).norm() / grads[1].norm()))
    return gaps


def measure(profile_name: str, log=print) -> list[dict]:
    """Every (method, form)'s cost rows (one per timing repeat, memory and gradient gap in each)."""
    settings, costs = profiles()[profile_name], cost_settings()[profile_name]
    params = study_params(profile_name)
    device = resolve_device(settings["device"])
    configs = [(method, form) for method in cost_methods() for form in FORMS]
    trainers = {key: build_trainer(*key, params, device) for key in configs}
    for trainer in trainers.values():
        timed_steps(trainer, 1)  # warm-up: allocator, optimiser state, autotuning
    memory = {key: (peak_bytes(t, "d"), peak_bytes(t, "g")) for key, t in trainers.items()}
    gaps = {method: generator_gradient_gap(method, params, costs["gap_batches"]) for method in cost_methods()}
    times: dict[tuple, list[tuple[float, float]]] = {key: [] for key in configs}
    for _ in range(costs["repeats"]):  # round-robin: load from elsewhere falls on every configuration alike
        for key, trainer in trainers.items():
            times[key].append(timed_steps(trainer, costs["steps"]))
    rows = []
    stamp = dict(device=device_name(device), torch=torch.__version__, threads=torch.get_num_threads(),
                 load_average_1min=round(os.getloadavg()[0], 2),
                 date=datetime.now(timezone.utc).isoformat(timespec="seconds"), git_commit=git_commit(),
                 profile=f"costs-{profile_name}", source=SOURCE)
    for (method, form), repeats in times.items():
        normalizer, loss = parse_method(method)
        config = trainers[(method, form)].config
        for repeat, (d_seconds, g_seconds) in enumerate(repeats):
            rows.append({"method": normalizer, "loss": loss, "form": form, "repeat": repeat,
                         "d_step_seconds": d_seconds, "g_step_seconds": g_seconds,
                         "iteration_seconds": config.n_dis * d_seconds + g_seconds,
                         "peak_mib_d_step": memory[(method, form)][0] / 2**20,
                         "peak_mib_g_step": memory[(method, form)][1] / 2**20,
                         "generator_gradient_gap": gaps[method][repeat % len(gaps[method])],
                         "resolution": config.resolution, "ngf": config.ngf, "ndf": config.ndf,
                         "batch_size_d": config.batch_size_d, "batch_size_g": config.batch_size_g,
                         "n_dis": config.n_dis, "cnn_variant": config.cnn_variant, "timed_steps": costs["steps"],
                         **stamp})
        log(f"{method:18s} {form:15s} D {sum(d for d, _ in repeats) / len(repeats):.4f} s  "
            f"G {sum(g for _, g in repeats) / len(repeats):.4f} s  peak D/G {memory[(method, form)][0] / 2**20:.1f}/"
            f"{memory[(method, form)][1] / 2**20:.1f} MiB  gap {max(gaps[method]):.2e}")
    return rows


# --- claim C2
C2_BASELINES = ("none/ns", "sn/ns", "gp/wasserstein")  # GraN's cost against no constraint, SN and WGAN-GP
GAP_TOLERANCE = 1e-9  # float64: a relative gradient difference above this is more than rounding


def select(rows: pd.DataFrame, method: str, form: str) -> pd.DataFrame:
    normalizer, loss = parse_method(method)
    return rows[(rows.method == normalizer) & (rows.loss == loss) & (rows.form == form)]


def cost_comparison(rows: pd.DataFrame, a: tuple[str, str], b: tuple[str, str], metric: str, min_n: int) -> dict:
    """Δ = mean_a(metric) − mean_b(metric) > 0 (C2: GraN costs more), a and b as (method, form). Timings: Welch's
    CI over the repeats; peak memory is deterministic (one value per configuration, its CI a point)."""
    ra, rb = select(rows, *a)[metric], select(rows, *b)[metric]
    deterministic = metric.startswith("peak_")
    if deterministic:
        ra, rb = ra.iloc[:1], rb.iloc[:1]
        diff = float(ra.mean() - rb.mean()) if len(ra) and len(rb) else math.nan
        low = high = diff
        enough = len(ra) and len(rb)
    else:
        diff, low, high = welch_interval(ra, rb)
        enough = min(len(ra), len(rb)) >= min_n
    verdict = comparative_verdict(low, high, +1) if enough else "pending"
    ratio = float(ra.mean() / rb.mean()) if len(ra) and len(rb) and rb.mean() else math.nan
    named_a, named_b = f"{method_label(a[0])} ({a[1]})", f"{method_label(b[0])} ({b[1]})"
    return {"claim": "C2", "setting": f"{metric}: {named_a} − {named_b}", "experiment": "costs",
            "measurement": f"Δ = {fmt(diff)} [{fmt(low)}, {fmt(high)}] (claimed > 0; ratio {ratio:.3g}×)",
            "n": f"{len(ra)} vs {len(rb)}", "verdict": verdict, "estimate": diff, "low": low, "high": high,
            "intervals": [(f"{named_a} − {named_b}", diff, low, high)], "reference": 0.0}


def evaluate_claims(rows: pd.DataFrame, min_n: int) -> pd.DataFrame:
    """C2's ledger rows from cost rows: GraN's D step, G step (both forms) and peak memory against each baseline,
    and whether the G update needs second-order gradients (the two forms' generator gradients differ)."""
    out: list[dict] = []
    if len(rows):
        for base in C2_BASELINES:
            out.append(cost_comparison(rows, ("gran/ns", "held_constant"), (base, "held_constant"),
                                       "d_step_seconds", min_n))
            for form in FORMS:
                out.append(cost_comparison(rows, ("gran/ns", form), (base, form), "iteration_seconds", min_n))
            out.append(cost_comparison(rows, ("gran/ns", "held_constant"), (base, "held_constant"),
                                       "peak_mib_d_step", min_n))
        for method in ("gran/ns", "gn/ns", "equivalent/ns"):
            gaps = select(rows, method, "held_constant")
            out.append(threshold(gaps, "C2", f"{method_label(method)}: generator gradient, ‖∇f‖ held constant vs "
                                 "double backprop "
                                 "(float64)", ["generator_gradient_gap"], GAP_TOLERANCE, "above", min_n,
                                 experiment="costs",
                                 describe="relative difference of the two forms' generator gradients"))
    return verdict_table(out)


def summary(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean over the repeats of every (method spec, G-step form): seconds per step and iteration, peak memory, and
    the generator gradient gap."""
    return (rows.assign(method=rows.method + "/" + rows.loss).groupby(["method", "form"], sort=False)
            [["d_step_seconds", "g_step_seconds", "iteration_seconds", "peak_mib_d_step", "peak_mib_g_step",
              "generator_gradient_gap"]].mean())


def findings(rows: pd.DataFrame, table: pd.DataFrame, smoke: bool = False) -> list[str]:
    """What the cost rows say, computed: GraND-GAN's time per iteration and peak memory against each baseline,
    what holding ‖∇f‖ constant changes, and C2's verdicts; under ``smoke`` every sentence stamped and no verdict
    stated."""
    if not len(rows):
        return stamp_sentences(["No cost has been measured under this profile yet."], smoke)
    means = summary(rows)
    first = rows.iloc[0]
    sentences = [f"Measured on {first.device} ({first.threads} thread(s)), batch {first.batch_size_d}, G/D widths "
                 f"{first.ngf}/{first.ndf}, {rows['repeat'].nunique()} repeats of {first.timed_steps} steps."]
    for form, how in FORM_LABELS.items():
        gran = means.loc[("gran/ns", form)].iteration_seconds
        ratios = ", ".join(f"{gran / means.loc[(base, form)].iteration_seconds:.2f}× {method_label(base)}'s"
                           for base in C2_BASELINES)
        sentences.append(f"With the G step {how}, an iteration of {method_label('gran/ns')} takes {ratios}.")
    held = means.xs("held_constant", level="form")
    memory = ", ".join(f"{held.loc['gran/ns'].peak_mib_d_step / held.loc[base].peak_mib_d_step:.2f}× "
                       f"{method_label(base)}'s" for base in C2_BASELINES)
    gap = max(means.loc[(m, "held_constant")].generator_gradient_gap for m in ("gran/ns", "gn/ns", "equivalent/ns"))
    sentences += [f"The peak memory of its D step is {memory}.",
                  f"Holding ‖∇f‖ constant in the G step moves the generator gradient by at most {gap:.1e} (relative, "
                  f"float64; rounding is ~1e-16): the G update needs no second-order term."]
    return stamp_sentences(sentences + verdict_sentences(table, smoke), smoke)


def render_ledger(table: pd.DataFrame, rows: pd.DataFrame, out_dir: str | Path, smoke: bool, min_n: int
                  ) -> list[Path]:
    """ledger_costs.md and ledger_costs.html of C2 (:func:`granlib.study.ledger.render.render`)."""
    device = rows.device.iloc[0] if len(rows) else "none"
    return render(table, out_dir, smoke, min_n, title="Claims ledger — costs per step (C2)",
                  summary=f"{len(rows)} timing rows ({device})", name="ledger_costs")


def rows_path(profile_name: str, root: Path | None = None) -> Path:
    """Where a profile's cost rows live: ``costs.jsonl`` beside the image ledger's rows."""
    return Path(root or project_root()) / profiles()[profile_name]["out_dir"] / ROWS_FILE


def write_rows(rows: list[dict], path: str | Path) -> Path:
    """Replace ``path`` with ``rows``, one JSON line each."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m granlib.study.ledger.costs", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=sorted(cost_settings()), default="smoke")
    parser.add_argument("--out", help="rows file (default: costs.jsonl beside the image ledger's rows)")
    args = parser.parse_args(argv)
    rows = measure(args.profile, log=lambda line: print(line, flush=True))
    path = write_rows(rows, args.out or rows_path(args.profile))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

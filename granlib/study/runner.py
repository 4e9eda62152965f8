"""Execute the numbered notebooks headlessly with papermill (what ``./run_all.sh`` calls).

Notebooks, profiles and outputs are those of the project worked in (:func:`granlib.study.experiments.project_root`):
executed copies go to ``results/executed/<profile>/`` (never in place), logs to ``results/logs/<profile>/``, and
the kernel gets ``$GRANLIB_PROJECT`` so the notebooks write there too.
Stops at the first failing notebook, naming it, with a non-zero exit.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import sys
import time
from pathlib import Path

from granlib.data import NATIVE_RESOLUTION
from granlib.study.experiments import PROJECT_ENV, UnknownProfileError, load_profile, project_root

# Rough generator iterations per second of one reference run on one H100/H200, by architecture: the reference rates
# measured before the fast path existed (CNN32 n_dis=1: 48.7 it/s; ResNet32 n_dis=5: 8.6 it/s), scaled by pixels.
REFERENCE_IT_PER_S = {32: (48.7, 8.6), 48: (48.7 / 2.25, 8.6 / 2.25), 64: (None, 8.6 / 4), 128: (None, 8.6 / 16)}
# The fast path (the default on CUDA) as measured by granlib.bench on one H200 (results/bench/2026-11-27_H200_run1_
# bench_32x32.json; 48 and 128 from ..._run2_bench_48_128.json); ResNet64 was not measured: ResNet128's rate × 4.
FAST_IT_PER_S = {32: (168.98, 10.974), 48: (87.923, None), 64: (None, 1.2602 * 4), 128: (None, 1.2602)}


def notebooks(pattern: str | None = None) -> list[Path]:
    """The project's numbered notebooks, those whose name matches ``pattern`` (glob or substring) when given."""
    found = sorted((project_root() / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if pattern:
        found = [p for p in found if fnmatch.fnmatch(p.stem, pattern) or pattern in p.stem]
    return found


def estimated_gpu_hours(params: dict, rates: dict = REFERENCE_IT_PER_S) -> float:
    """Training time of a profile from step rates by resolution (above; evaluation not included)."""
    def seconds_per_run(dataset: str) -> float:
        cnn, resnet = rates[NATIVE_RESOLUTION[dataset]]
        return params["iterations"] / (cnn or resnet)

    runs = len(params["seeds"]) * len(params["methods"])  # per dataset (notebooks 10-14)
    sweep = len(params["seeds"]) * len(params["sweep_methods"]) * len(params["K_values"])  # notebook 20
    seconds = sum(runs * seconds_per_run(dataset) for dataset in params["datasets"])
    if sweep:
        seconds += sweep * seconds_per_run(params["sweep_dataset"])
    return seconds / 3600


def gpu_time(hours: float) -> str:
    """'684 GPU-hours', or '18 GPU-minutes' under two hours."""
    return f"{hours:.0f} GPU-hours" if hours >= 2 else f"{hours * 60:.0f} GPU-minutes"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="run_all.sh", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="smoke", help="smoke (default) | quick | paper | a params/*.yaml path")
    parser.add_argument("--only", help="run only notebooks whose name matches (glob or substring), e.g. 1*_train_*")
    parser.add_argument("--device", help="override the profile's device (cpu, cuda, auto)")
    args = parser.parse_args(argv)
    root = project_root()
    previous = os.environ.get(PROJECT_ENV)
    os.environ[PROJECT_ENV] = str(root)  # the kernels inherit it: results land in this project
    try:
        return run_notebooks(args, root)
    finally:
        if previous is None:
            del os.environ[PROJECT_ENV]
        else:
            os.environ[PROJECT_ENV] = previous


def run_notebooks(args: argparse.Namespace, root: Path) -> int:
    """Execute the selected notebooks of project ``root`` with papermill; 0 when all ran."""
    import papermill  # a dev dependency, needed only to execute notebooks

    try:
        params = load_profile(args.profile, root)
    except UnknownProfileError as error:
        print(error, file=sys.stderr)
        return 2
    profile = params["profile"]
    selected = notebooks(args.only)
    if not selected:
        print(f"no notebook matches {args.only!r}", file=sys.stderr)
        return 2
    if profile != "smoke" and (args.device or params.get("device", "auto")) != "cpu":
        print(f"{profile} profile: estimated {gpu_time(estimated_gpu_hours(params, FAST_IT_PER_S))} of training on "
              f"one H100/H200 at the fast path's measured rates ({gpu_time(estimated_gpu_hours(params))} at the "
              f"reference rates), plus evaluation")
    executed, logs = root / "results" / "executed" / profile, root / "results" / "logs" / profile
    executed.mkdir(parents=True, exist_ok=True)
    logs.mkdir(parents=True, exist_ok=True)
    parameters = {"profile": args.profile}
    if args.device:
        parameters["device"] = args.device
    for path in selected:
        start = time.perf_counter()
        print(f"== {path.name} ({profile})", flush=True)
        log_path = logs / f"{path.stem}.log"
        with log_path.open("w") as log:
            try:
                papermill.execute_notebook(str(path), str(executed / path.name), parameters=parameters,
                                           cwd=str(root), log_output=True, stdout_file=log, stderr_file=log,
                                           progress_bar=False, kernel_name="python3")
            except Exception as error:
                print(f"FAILED: {path.name} ({type(error).__name__}); executed copy {executed / path.name}, "
                      f"log {log_path}", file=sys.stderr)
                return 1
        print(f"   done in {time.perf_counter() - start:.0f} s", flush=True)
    print(f"all {len(selected)} notebooks ran; executed copies in {executed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Execute the numbered notebooks headlessly with papermill (what ``./run_all.sh`` calls).

Notebooks, profiles and outputs are those of the project worked in (:func:`granlib.project.project_root`): executed
copies go to ``results/executed/<profile>/`` (never in place), logs to ``results/logs/<profile>/``, and the kernel
gets ``$GRANLIB_PROJECT`` so the notebooks write there too.

* Before any notebook runs, and before anything is written: the profile is checked
  (:mod:`granlib.study.pipeline.profiles`, and every run's training config: :func:`check_runs`; one line naming the
  file and the field, exit 2), and a profile meant for a GPU on a machine without one is refused with its CPU-time
  estimate (exit 2) unless ``--device cpu`` asks for the CPU.
* The notebooks run on the project's kernel "granlib" (the one they name; ``scripts/ensure_env.sh`` registers it),
  else on "python3" with a note; kernel channels are CurveZMQ-encrypted where the kernel supports it.
* One line per notebook with its time; stops at the first failing notebook, naming it and the error (exit 1).
* Ctrl-C stops the run with one line naming the notebook (exit 130). The first is passed to the kernel (which
  runs in a session of its own), so the running cell stops with ``KeyboardInterrupt`` and the kernel shuts down
  in order; a second stops the runner at once. The executed copy is kept, for the outputs of the cells that ran,
  and marked incomplete: papermill's ``exception`` is true, a first markdown cell says it was interrupted, the
  cell that was running (the last one started) is "failed" and the cells that never started are "pending".
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import signal
import sys
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from granlib.data import NATIVE_RESOLUTION
from granlib.normalizers import parse_method
from granlib.project import PROJECT_ENV, project_root
from granlib.study.pipeline.experiments import (
    UnknownProfileError,
    load_profile,
    make_config,
    profile_path,
)
from granlib.study.pipeline.explorer import SERVER_SESSION_ENV
from granlib.study.pipeline.profiles import DEVICES, ProfileError, shown
from granlib.study.pipeline.slots import RATE_FREE_FIELDS, protocol_runs
from granlib.training.config import ConfigError, validate_config

if TYPE_CHECKING:
    from traitlets.config import Config

# Rough generator iterations per second of one reference run on one H100/H200, by architecture: the reference rates
# measured before the fast path existed (CNN32 n_dis=1: 48.7 it/s; ResNet32 n_dis=5: 8.6 it/s), scaled by pixels.
REFERENCE_IT_PER_S = {32: (48.7, 8.6), 48: (48.7 / 2.25, 8.6 / 2.25), 64: (None, 8.6 / 4), 128: (None, 8.6 / 16)}
# The fast path (the default on CUDA) as measured by granlib.bench on one H200 (results/bench/2026-11-27_H200_run1_
# bench_32x32.json; 48 and 128 from ..._run2_bench_48_128.json); ResNet64 was not measured: ResNet128's rate × 4.
FAST_IT_PER_S = {32: (168.98, 10.974), 48: (87.923, None), 64: (None, 1.2602 * 4), 128: (None, 1.2602)}
# Iterations per core-second on the CPU (the reference path, the CPU's default) at the published widths and the
# bench's batches (64/128): granlib.bench.speed.measure on one thread, timed with the process's CPU clock
# (time.process_time) so that other load on the machine does not count. Measured 2026-12-01 on a 2-core AMD EPYC
# virtual machine, torch 2.14.1: CNN32 gran/ns n_dis=1, 27.79 core-s for 3 iterations (9.26 s each); ResNet32
# gran/hinge n_dis=5, 73.25 core-s for 1 iteration. 48-128 scaled by pixels as above.
CPU_IT_PER_CORE_S = {32: (3 / 27.79, 1 / 73.25), 48: (3 / 27.79 / 2.25, 1 / 73.25 / 2.25), 64: (None, 1 / 73.25 / 4),
                     128: (None, 1 / 73.25 / 16)}
CPU_RATES_WHERE = "one core of a 2-core AMD EPYC virtual machine"
PROJECT_KERNEL = "granlib"  # the kernel the notebooks name; scripts/ensure_env.sh registers it
FALLBACK_KERNEL = "python3"
INTERRUPTED_NOTE = ("**Interrupted**: the run was stopped (Ctrl-C) while this notebook executed, so this copy is "
                    "incomplete: the cell that was running is marked failed, the cells after it never ran.")


def notebooks(pattern: str | None = None) -> list[Path]:
    """The project's numbered notebooks, those whose name matches ``pattern`` (glob or substring) when given."""
    found = sorted((project_root() / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if pattern:
        found = [p for p in found if fnmatch.fnmatch(p.stem, pattern) or pattern in p.stem]
    return found


def estimated_hours(params: dict, rates: dict = REFERENCE_IT_PER_S) -> float:
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


def device_time(hours: float, device: str = "GPU") -> str:
    """'684 GPU-hours', or '18 GPU-minutes' under two hours."""
    return f"{hours:,.0f} {device}-hours" if hours >= 2 else f"{hours * 60:.0f} {device}-minutes"


def cpu_estimate(params: dict) -> str:
    """The profile's training time on the CPU at the measured rates, with what the rates assume."""
    changed = [key for key in params.get("model_overrides") or {} if key not in RATE_FREE_FIELDS]
    caveat = (f"; this profile's model_overrides change {', '.join(changed)}, so take it as an order of magnitude"
              if changed else "")
    hours = estimated_hours(params, CPU_IT_PER_CORE_S)
    return (f"about {device_time(hours, 'CPU')} of training (core-hours at the published widths, from the step "
            f"rates measured on {CPU_RATES_WHERE}{caveat}), plus evaluation")


def check_runs(params: dict, source: str) -> None:
    """Every run of the profile (:func:`granlib.study.pipeline.slots.protocol_runs`) makes a training config that
    :func:`validate_config` accepts: what no single field shows, e.g. a ``cnn_variant`` on a ResNet dataset."""
    for run in protocol_runs(params):
        normalizer, loss = parse_method(run.method)
        try:
            validate_config(make_config(run.dataset, normalizer, loss, run.K, run.seed, params))
        except ConfigError as error:
            raise ProfileError(f"{source}: the {run.dataset} {run.method} run: {error}") from None
        except TypeError as error:  # a keyword make_config sets from the profile's own fields
            raise ProfileError(f"{source}: model_overrides names a field the profile sets itself ({error})") from None


def kernel_name(installed: Collection[str] | None = None) -> str:
    """The project's kernel when it is registered (``installed``: the registered kernel names, default: Jupyter's
    list), else python3."""
    if installed is None:
        from jupyter_client.kernelspec import KernelSpecManager

        installed = KernelSpecManager().find_kernel_specs()
    return PROJECT_KERNEL if PROJECT_KERNEL in installed else FALLBACK_KERNEL


def kernel_manager_config() -> Config:
    """CurveZMQ-encrypted kernel channels where the kernel's spec declares support: ipykernel warns on the
    terminal at start-up ("running over TCP without encryption") otherwise."""
    import zmq
    from jupyter_client import KernelManager
    from traitlets.config import Config

    if "transport_encryption" not in KernelManager.class_trait_names() or not zmq.has("curve"):
        return Config()  # a jupyter_client or libzmq without CurveZMQ: the channels stay plain
    return Config({"KernelManager": {"transport_encryption": "auto"}})


def describe_failure(error: Exception) -> str:
    """The error a notebook raised ('ConfigError: ...', first line), else the exception's type."""
    ename = getattr(error, "ename", None)
    if not ename:
        return type(error).__name__
    lines = str(getattr(error, "evalue", "")).strip().splitlines()
    return f"{ename}: {lines[0]}" if lines else ename


def mark_interrupted(copy: Path) -> bool:
    """Mark an executed copy whose run was interrupted as incomplete (module docstring); False when there is none."""
    import nbformat
    from papermill.execute import ERROR_MARKER_TAG

    if not copy.is_file():
        return False
    notebook = nbformat.read(copy, as_version=4)
    notebook.metadata.setdefault("papermill", {})["exception"] = True
    states = [cell.metadata["papermill"] for cell in notebook.cells if "papermill" in cell.metadata]
    for state in states:
        if not state.get("start_time"):  # papermill marks the cells it never reached "completed" when it stops
            state["status"] = "pending"
    started = [state for state in states if state.get("start_time")]
    if started:
        started[-1]["status"] = "failed"
    note = nbformat.v4.new_markdown_cell(INTERRUPTED_NOTE)
    note.metadata["tags"] = [ERROR_MARKER_TAG]  # papermill's own marker: its tools strip such cells on re-runs
    notebook.cells.insert(0, note)
    nbformat.write(notebook, copy)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="run_all.sh", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="smoke", help="smoke (default) | quick | paper | a params/*.yaml path")
    parser.add_argument("--only", help="run only notebooks whose name matches (glob or substring), e.g. 1*_train_*")
    parser.add_argument("--device", choices=DEVICES, help="override the profile's device (cpu, cuda, auto)")
    args = parser.parse_args(argv)
    root = project_root()
    saved = {name: os.environ.get(name) for name in (PROJECT_ENV, SERVER_SESSION_ENV)}
    os.environ[PROJECT_ENV] = str(root)  # the kernels inherit it: results land in this project
    # a run started from a notebook cell must not hand its Jupyter session to papermill's headless kernels (the
    # notebooks would build widgets nobody sees)
    os.environ.pop(SERVER_SESSION_ENV, None)
    try:
        return run_notebooks(args, root)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def interrupts_to_the_kernel() -> Iterator[type]:
    """A kernel manager class for papermill; while in this context the first Ctrl-C goes to the kernel it started
    (the running cell stops with KeyboardInterrupt, which papermill records as any error), the next to the runner."""
    from jupyter_client.manager import AsyncKernelManager

    kernels = []

    class KernelManager(AsyncKernelManager):
        async def start_kernel(self, **kwargs) -> None:
            kernels.append(self)
            await super().start_kernel(**kwargs)

        async def _async_interrupt_kernel(self) -> None:
            # jupyter_client interrupts a kernel before asking it to shut down; papermill's is idle by then (or was
            # interrupted already), and ipykernel logs an ERROR on the terminal when that signal lands in a handler
            if not self.shutting_down:
                await super()._async_interrupt_kernel()

    def forward(signum, frame) -> None:
        signal.signal(signal.SIGINT, previous)
        process = getattr(kernels[-1].provisioner, "process", None) if kernels else None
        if process is None or process.poll() is not None:
            raise KeyboardInterrupt
        process.send_signal(signal.SIGINT)  # what Jupyter's "interrupt the kernel" sends an ipykernel

    previous = signal.signal(signal.SIGINT, forward)
    try:
        yield KernelManager
    finally:
        signal.signal(signal.SIGINT, previous)


def run_notebooks(args: argparse.Namespace, root: Path) -> int:
    """Execute the selected notebooks of project ``root`` with papermill; 0 when all ran (module docstring)."""
    import papermill  # a dev dependency, needed only to execute notebooks
    import torch

    try:
        params = load_profile(args.profile, root)
        check_runs(params, shown(profile_path(args.profile, root)))
    except (UnknownProfileError, ProfileError) as error:
        print(error, file=sys.stderr)
        return 2
    profile = params["profile"]
    selected = notebooks(args.only)
    if not selected:
        print(f"no notebook matches {args.only!r}", file=sys.stderr)
        return 2
    device = args.device or params.get("device", "auto")
    if profile != "smoke" and device != "cpu":
        if not torch.cuda.is_available():
            print(f"no GPU found (torch.cuda.is_available() is False): the {profile} profile would train on the CPU, "
                  f"{cpu_estimate(params)}. To train on the CPU anyway: --device cpu", file=sys.stderr)
            return 2
        print(f"{profile} profile: estimated {device_time(estimated_hours(params, FAST_IT_PER_S))} of training on "
              f"one H100/H200 at the fast path's measured rates ({device_time(estimated_hours(params))} at the "
              f"reference rates), plus evaluation")
    elif profile != "smoke" and params.get("device", "auto") != "cpu":  # --device cpu for a GPU profile
        print(f"{profile} profile on the CPU: {cpu_estimate(params)}")
    kernel = kernel_name()
    if kernel != PROJECT_KERNEL:
        print(f"note: the Jupyter kernel {PROJECT_KERNEL!r} is not registered (scripts/ensure_env.sh registers it); "
              f"running the notebooks with {kernel!r}", file=sys.stderr)
    executed, logs = root / "results" / "executed" / profile, root / "results" / "logs" / profile
    executed.mkdir(parents=True, exist_ok=True)
    logs.mkdir(parents=True, exist_ok=True)
    parameters = {"profile": args.profile}
    if args.device:
        parameters["device"] = args.device
    for path in selected:
        start = time.perf_counter()
        copy, log_path = executed / path.name, logs / f"{path.stem}.log"
        print(f"== {path.name} ({profile}) ...", end=" ", flush=True)
        try:
            with log_path.open("w") as log, interrupts_to_the_kernel() as manager:
                papermill.execute_notebook(str(path), str(copy), parameters=parameters, cwd=str(root),
                                           log_output=True, stdout_file=log, stderr_file=log, progress_bar=False,
                                           kernel_name=kernel, kernel_manager_class=manager,
                                           config=kernel_manager_config())
        except KeyboardInterrupt:
            return interrupted(path, copy, log_path, start)
        except Exception as error:
            if getattr(error, "ename", None) == "KeyboardInterrupt":  # the Ctrl-C passed on stopped the cell
                return interrupted(path, copy, log_path, start)
            print(f"failed after {time.perf_counter() - start:.0f} s", flush=True)
            print(f"FAILED: {path.name} ({describe_failure(error)}); executed copy {copy}, log {log_path}",
                  file=sys.stderr)
            return 1
        print(f"{time.perf_counter() - start:.0f} s", flush=True)
    print(f"all {len(selected)} notebooks ran; executed copies in {executed}")
    return 0


def interrupted(path: Path, copy: Path, log_path: Path, start: float) -> int:
    """Report a Ctrl-C during ``path`` in one line and mark its executed copy; the shell's code for SIGINT."""
    print(f"interrupted after {time.perf_counter() - start:.0f} s", flush=True)
    kept = f"executed copy {copy} marked incomplete" if mark_interrupted(copy) else "no executed copy"
    print(f"INTERRUPTED: {path.name}; {kept}, log {log_path}", file=sys.stderr)
    return 130


if __name__ == "__main__":
    sys.exit(main())

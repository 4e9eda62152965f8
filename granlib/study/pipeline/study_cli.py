"""What the studies' command lines share: their options (``--profile``, ``--shard i/n``, ``--plan``, ``--collect``),
the plan they print, and training one shard of a study's plan."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable

import torch

from granlib.study.pipeline.row_store import StudyBusyError, parse_shard, print_plan

BUSY_EXIT = 2  # the exit status of a shard that another process is already running


def study_parser(prog: str, description: str | None, profiles: Iterable[str], collect: str) -> argparse.ArgumentParser:
    """A study's command line: ``--profile`` (one of ``profiles``), ``--shard i/n``, ``--plan`` and ``--collect``
    (``collect``: what it copies, for its help)."""
    parser = argparse.ArgumentParser(prog=prog, description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=sorted(profiles), default="smoke")
    parser.add_argument("--shard", default="0/1", help="i/n: this process takes runs i, i+n, i+2n, … of the plan")
    parser.add_argument("--plan", action="store_true", help="print the plan and its time estimate; train nothing")
    parser.add_argument("--collect", action="store_true", help=f"train nothing; {collect}")
    return parser


def parse_study_args(parser: argparse.ArgumentParser, argv: list[str] | None
                     ) -> tuple[argparse.Namespace, tuple[int, int]]:
    """The parsed arguments and the shard; a malformed ``--shard`` is a usage error (exit status 2)."""
    args = parser.parse_args(argv)
    try:
        return args, parse_shard(args.shard)
    except ValueError as error:
        parser.error(str(error))


def show_plan(line: str, runs: list[tuple[str, bool]], shard: tuple[int, int], listed: bool) -> None:
    """Print the plan's one-line summary (:func:`granlib.study.ledger.estimate.plan_line`) and, when ``listed``
    (``--plan``), every run of it (:func:`granlib.study.pipeline.row_store.print_plan`)."""
    print(line, flush=True)
    if listed:
        print_plan(runs, shard)


def train_shard(device: str, train: Callable[[], object]) -> int:
    """Run ``train`` (one shard of a study) as a command line does: one thread per process on the CPU, so that
    shards share the cores without contention; a shard another process holds is refused in one line on stderr with
    exit status :data:`BUSY_EXIT`, not a traceback. Returns the exit status (0 when it ran)."""
    if device == "cpu":
        torch.set_num_threads(1)
    try:
        train()
    except StudyBusyError as error:
        print(f"not started: {error}", file=sys.stderr)
        return BUSY_EXIT
    return 0

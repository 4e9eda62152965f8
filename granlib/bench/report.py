"""Where a benchmark's JSON report goes and how it is written: one place for every bench module."""

from __future__ import annotations

import json
from pathlib import Path

from granlib.training.checkpoint import atomic_write_text

BENCH_DIR = Path("results/bench")  # relative to the working directory, as the bench commands are run


def report_path(out: str | Path | None, date: str, name: str, prefix: str = "") -> Path:
    """``out`` when given, else ``results/bench/<prefix><YYYY-MM-DD>_<name>.json`` (spaces in ``name`` become ``_``);
    its folder made, so that a path that cannot be written fails before the benchmark runs."""
    path = Path(out) if out else BENCH_DIR / f"{prefix}{date[:10]}_{name.replace(' ', '_')}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def write_report(report: dict, path: str | Path) -> Path:
    """``report`` as indented JSON at ``path`` (its folder made), replaced atomically, so a benchmark that rewrites
    it as runs finish keeps its partial results should it be interrupted; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(json.dumps(report, indent=2) + "\n", path)
    return path

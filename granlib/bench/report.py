"""Where a benchmark's JSON report goes and how it is written: one place for every bench module."""

from __future__ import annotations

import json
from pathlib import Path

BENCH_DIR = Path("results/bench")  # relative to the working directory, as the bench commands are run


def report_path(out: str | Path | None, date: str, name: str) -> Path:
    """``out`` when given, else ``results/bench/<YYYY-MM-DD>_<name>.json`` (spaces in ``name`` become ``_``)."""
    return Path(out) if out else BENCH_DIR / f"{date[:10]}_{name.replace(' ', '_')}.json"


def write_report(report: dict, path: str | Path) -> Path:
    """``report`` as indented JSON at ``path`` (its folder made); returns the path. Rewriting the same path as a
    benchmark goes on keeps its partial results should it be interrupted."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path

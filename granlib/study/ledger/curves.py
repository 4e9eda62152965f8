"""Training curves kept in git: what a run logs every few iterations (its run directory's ``stats.jsonl``, which is
not in git), copied point by point into a curves file beside a study's rows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from granlib.jsonl import read_jsonl
from granlib.study.pipeline.row_store import RowStore


def copy_logged_points(rows: Iterable[dict], project: Path, store: RowStore, identity: Sequence[str],
                       fields: Sequence[str]) -> int:
    """Append to ``store`` every stats line of the runs that ``rows`` name (``run_dir``, relative to ``project``)
    that logs all of ``fields``, as the row's ``identity`` fields, the line's ``step`` and ``fields``; a point
    already stored is left as it is (the store's run key). Returns how many points were added."""
    added = 0
    for row in rows:
        for line in read_jsonl(project / row["run_dir"] / "stats.jsonl"):  # [] where the run directory is gone
            if all(name in line for name in fields):
                point = {name: row[name] for name in identity} | {"step": line["step"]}
                added += store.append(point | {name: line[name] for name in fields})
    return added

"""The row store: result rows that are never counted twice, never silently wrong, and fail loudly.

Every study and table reads and writes its JSON-lines rows through :class:`RowStore`, which knows the rows'
:class:`RowSchema`: the **run key** (the fields that name one measured run: data, network, widths, method, K,
iterations, seed, evaluation protocol, profile), the provenance fields every row must carry, and the fields that
must be numbers.

* :meth:`RowStore.append` writes a row only if no row of its run key exists, checking and writing under one file
  lock, so two processes that measure the same run leave one row.
* Readers validate every line (a missing provenance field or a number written as text is an error naming
  ``file:line``; a line cut short by a kill is skipped with a warning naming it) and de-duplicate by run key: the
  last whole row wins, and two rows of one key whose measurements differ are a :class:`RowConflictError` naming
  both lines.
* :func:`study_lock` lets one process at a time run a study (or one shard of it), naming the holder to a second.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from granlib.jsonl import LockHeldError, append_jsonl, exclusive_lock, read_lines

# Fields that legitimately differ between two measurements of one run (when and by which code it was written, how
# long training took under the machine's load); any other difference is a conflict.
VOLATILE_FIELDS = ("date", "git_commit", "train_seconds", "torch", "run_dir", "load_average_1min")
RELATIVE_TOLERANCE = 1e-6  # two evaluations of one run agree to float32 rounding (thread counts change BLAS order)


class RowFileError(ValueError):
    """A rows file holds a line that is not a valid row; the message names ``file:line``."""


class RowConflictError(ValueError):
    """Two rows of one run key disagree in a measurement; the message names both lines and the fields."""


class StudyBusyError(LockHeldError):
    """Another process is running the same study (or shard); the message names it."""


@dataclass(frozen=True)
class RowSchema:
    """What a kind of row must hold: ``key`` names one run, ``required`` must be present, ``numeric`` must be
    numbers (or null)."""

    key: tuple[str, ...]
    required: tuple[str, ...]
    numeric: tuple[str, ...] = ()
    upgrade: Callable[[dict], dict] | None = None  # a row written by an earlier version, as this one spells it

    def key_of(self, row: dict) -> tuple:
        """The run key of ``row``: numbers normalised (1 == 1.0; 12 significant digits), NaN and missing as None."""
        return tuple(_normal(row.get(name)) for name in self.key)

    def validate(self, row: object, where: str) -> dict:
        """``row`` itself, or :class:`RowFileError` naming ``where`` and what is wrong."""
        if not isinstance(row, dict):
            raise RowFileError(f"{where}: not a JSON object but {type(row).__name__}")
        missing = [name for name in self.required if name not in row]
        if missing:
            raise RowFileError(f"{where}: the row lacks {missing}")
        for name in self.numeric:
            value = row.get(name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise RowFileError(f"{where}: field {name!r} is {value!r}, expected a number")
        return row


def _normal(value):
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return None if math.isnan(value) else float(f"{float(value):.12g}")
    return value


def _same(a, b) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        if math.isnan(a) and math.isnan(b):
            return True
        return math.isclose(a, b, rel_tol=RELATIVE_TOLERANCE, abs_tol=1e-12)
    return a == b


def conflicting_fields(first: dict, second: dict) -> list[str]:
    """The fields other than :data:`VOLATILE_FIELDS` in which two rows differ (a field missing in one is not a
    difference: later rows may measure more)."""
    shared = (set(first) & set(second)) - set(VOLATILE_FIELDS)
    return sorted(name for name in shared if not _same(first[name], second[name]))


def read_rows(paths: Path | Iterable[Path], schema: RowSchema) -> list[dict]:
    """The valid rows of one or more files, one per run key (the last whole row wins), in first-seen order."""
    paths = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    kept: dict[tuple, tuple[dict, str]] = {}
    for path in paths:
        for number, record in read_lines(path):
            where = f"{path}:{number}"
            row = schema.validate(record, where)
            row = schema.upgrade(row) if schema.upgrade else row
            key = schema.key_of(row)
            if key in kept:
                earlier, earlier_where = kept[key]
                differ = conflicting_fields(earlier, row)
                if differ:
                    shown = ", ".join(f"{n}: {earlier[n]!r} vs {row[n]!r}" for n in differ[:5])
                    raise RowConflictError(f"{earlier_where} and {where} are rows of one run that disagree ({shown}); "
                                           "remove the wrong one")
                kept.pop(key)  # re-inserted below: the later row's position and values
            kept[key] = (row, where)
    return [row for row, _ in kept.values()]


def to_frame(rows: list[dict], columns: Iterable[str] = ()) -> pd.DataFrame:
    """Rows as a DataFrame: ``columns`` first, in that order (present even when there are no rows), then every
    further field of the rows."""
    columns = list(columns)
    extra = [c for c in dict.fromkeys(k for r in rows for k in r) if c not in columns]
    return pd.DataFrame(rows, columns=columns + extra)


class RowStore:
    """The rows of one kind (``schema``) in one rows file ``path``, or read together from several (``path`` a list:
    read-only, one row per run key over all of them)."""

    def __init__(self, path: str | Path | Iterable[str | Path], schema: RowSchema):
        self.paths = [Path(path)] if isinstance(path, (str, Path)) else [Path(p) for p in path]
        self.schema = schema

    @property
    def path(self) -> Path:
        """The one file rows are appended to."""
        if len(self.paths) != 1:
            raise ValueError(f"a store over {len(self.paths)} files is read-only: append to one of them")
        return self.paths[0]

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(f".{self.path.name}.lock")

    def rows(self) -> list[dict]:
        """Validated rows, one per run key."""
        return read_rows(self.paths, self.schema)

    def frame(self, columns: Iterable[str] = (), **where: object) -> pd.DataFrame:
        """:meth:`rows` as a DataFrame (:func:`to_frame`), only those whose fields equal ``where``'s values
        (``profile="regime-map"``), numbered from 0."""
        rows = [row for row in self.rows() if all(row.get(name) == value for name, value in where.items())]
        return to_frame(rows, columns)

    def _upgraded(self, row: dict) -> dict:
        return self.schema.upgrade(row) if self.schema.upgrade else row

    def keys(self) -> set[tuple]:
        return {self.schema.key_of(row) for row in self.rows()}

    def has(self, row_or_key: dict) -> bool:
        """Whether a row of the run key of ``row_or_key`` (a row, or a dict of at least the key fields) exists."""
        return self.schema.key_of(self._upgraded(row_or_key)) in self.keys()

    def append(self, row: dict) -> bool:
        """Write ``row`` (as this version spells it) unless a row of its run key exists (checked and written under
        the file's lock); True when written."""
        row = self._upgraded(self.schema.validate(row, f"row for {self.path}"))
        with exclusive_lock(self.lock_path, f"appending to {self.path}", wait=True):
            if self.has(row):
                return False
            append_jsonl(self.path, row)
            return True


@contextmanager
def study_lock(rows_path: str | Path, shard: tuple[int, int] = (0, 1)) -> Iterator[None]:
    """Hold the lock of one study (its rows file) and shard while it runs; a second process is refused with
    :class:`StudyBusyError` naming the first."""
    rows_path = Path(rows_path)
    index, count = shard
    name = f".{rows_path.stem}.study.lock" if count == 1 else f".{rows_path.stem}.shard-{index}-of-{count}.lock"
    what = f"the study writing {rows_path}" + ("" if count == 1 else f" (shard {index}/{count})")
    with ExitStack() as stack:
        try:
            stack.enter_context(exclusive_lock(rows_path.with_name(name), what))
        except LockHeldError as error:
            raise StudyBusyError(str(error)) from None
        yield


def parse_shard(text: str) -> tuple[int, int]:
    """'i/n' → (i, n), refusing anything but 0 ≤ i < n."""
    index, _, count = text.partition("/")
    try:
        i, n = int(index), int(count or 1)
    except ValueError:
        raise ValueError(f"--shard {text!r}: expected i/n with whole numbers, e.g. 0/2") from None
    if not 0 <= i < n:
        raise ValueError(f"--shard {text!r}: needs 0 <= i < n (n processes take runs i, i+n, …)")
    return i, n


def print_plan(runs: list[tuple[str, bool]], shard: tuple[int, int] = (0, 1)) -> None:
    """A study's ``--plan``: one line per run in protocol order, (what it is, whether its row exists), marking the
    runs with a row and those another shard takes."""
    for i, (what, measured) in enumerate(runs):
        mine = "" if i % shard[1] == shard[0] else " (another shard)"
        print(f"  [{i + 1}/{len(runs)}] {what}{' (row exists)' if measured else ''}{mine}")

"""JSON lines: the one reader, appender and file lock behind run directories, result rows and ledgers.

A line cut short by a kill while it was written is skipped with a warning naming ``file:line``; whole lines are
appended with one ``write`` and flushed to disk, so a reader never sees half a record as a record, and an append
after a torn line starts a new line first.
:func:`exclusive_lock` holds an ``flock`` that the system releases however its process ends, and names its holder
to whoever is refused.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path


class LockHeldError(RuntimeError):
    """Another process holds the lock; the message names it (pid, host, since when)."""


def read_lines(path: str | Path) -> Iterator[tuple[int, dict]]:
    """(line number, record) of every complete JSON line of ``path``; nothing when it does not exist. A line that
    is not JSON is skipped with a warning naming ``path:line`` (a write cut short by a kill)."""
    path = Path(path)
    if not path.exists():
        return
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError:
            warnings.warn(f"{path}:{number} is not a complete JSON line (a write cut short); skipped", stacklevel=2)


def read_jsonl(path: str | Path) -> list[dict]:
    """The records of a JSON-lines file (see :func:`read_lines`); [] when it does not exist."""
    return [record for _, record in read_lines(path)]


def append_jsonl(path: str | Path, record: dict) -> None:
    """Append one record as one line (written whole, flushed and synced); creates the folder. A last line cut short
    by a kill (no newline at the end of the file) is ended first, so the record is not glued onto it: the torn line
    stays unreadable alone and the new record reads back whole."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as handle:
        torn = handle.seek(0, os.SEEK_END) > 0 and _last_byte(handle) != b"\n"
        handle.write((b"\n" if torn else b"") + (json.dumps(record) + "\n").encode())
        handle.flush()
        os.fsync(handle.fileno())


def _last_byte(handle) -> bytes:
    handle.seek(-1, os.SEEK_END)
    return handle.read(1)


def _holder(handle, wait_seconds: float = 1.0) -> str:
    """The line the lock's holder writes right after taking it; a refusal that comes between the two waits up to
    ``wait_seconds`` for it."""
    deadline = time.monotonic() + wait_seconds
    while True:
        handle.seek(0)
        text = handle.read().strip()
        if text or time.monotonic() > deadline:
            return text or "another process"
        time.sleep(0.02)


@contextmanager
def exclusive_lock(path: str | Path, what: str, wait: bool = False) -> Iterator[None]:
    """Hold an ``flock`` on ``path`` (created if missing) while the block runs.

    ``wait=False`` refuses at once with :class:`LockHeldError` naming the holder and ``what`` it protects;
    ``wait=True`` queues behind the holder (for short critical sections such as an append).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        holder = _holder(handle)
        handle.close()
        raise LockHeldError(f"{what} is held by {holder} (lock {path}); wait for it or stop it first") from None
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()} since "
                     f"{datetime.now(timezone.utc).isoformat(timespec='seconds')}\n")
        handle.flush()
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()

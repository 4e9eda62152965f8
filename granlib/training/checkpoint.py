"""Atomic files with the permissions of ordinary files, and checkpoints loadable with
``torch.load(weights_only=True)``, each with the sha256 that proves it whole."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

from granlib.files import sha256_of


class CheckpointError(RuntimeError):
    """A checkpoint file is truncated, damaged or unreadable; the message names it."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _temporary(path: Path) -> tuple[int, str]:
    """A temporary file beside ``path`` with the mode a plain ``open`` would give (mkstemp's is 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.chmod(tmp, 0o666 & ~_umask())
    return fd, tmp


def atomic_save(obj, path: str | Path) -> str:
    """torch.save to a temporary file in the same folder, then rename: a crash never leaves half a file.
    Returns the file's sha256."""
    path = Path(path)
    fd, tmp = _temporary(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
        digest = sha256_of(tmp)
        os.replace(tmp, path)
        return digest
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(text: str, path: str | Path) -> None:
    """Write text atomically (temp file + rename)."""
    path = Path(path)
    fd, tmp = _temporary(path)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path: str | Path, map_location="cpu", sha256: str | None = None) -> dict:
    """Load a checkpoint safely (tensors, dicts, lists and numbers only); with ``sha256``, only if the file has it.

    Raises :class:`CheckpointError` naming the file when it is damaged (a checksum that differs, a truncated or
    garbled file).
    """
    path = Path(path)
    if sha256 is not None and sha256_of(path) != sha256:
        raise CheckpointError(f"checkpoint {path} is damaged: its sha256 differs from the one recorded when it was "
                              f"written")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # torch.load raises many kinds for a truncated or garbled file
        raise CheckpointError(f"checkpoint {path} cannot be read ({type(error).__name__}: {error})") from error

"""The project worked in: the folder whose ``params/`` and ``notebooks/`` a run reads and whose ``results/`` and
``runs/`` it writes, and granlib's own checkout (the fallback)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]  # granlib's own checkout (its params/ are the fallback profiles)
PROJECT_ENV = "GRANLIB_PROJECT"


def is_project(path: Path) -> bool:
    """A granlib project holds ``params/`` and ``notebooks/``."""
    return (path / "params").is_dir() and (path / "notebooks").is_dir()


def project_root(start: str | Path | None = None) -> Path:
    """The project worked in: ``$GRANLIB_PROJECT``, else the nearest ancestor of ``start`` (default: the current
    directory) holding ``params/`` and ``notebooks/``, else granlib's own checkout."""
    if os.environ.get(PROJECT_ENV):
        return Path(os.environ[PROJECT_ENV]).expanduser().resolve()
    here = Path(start or Path.cwd()).resolve()
    return next((p for p in (here, *here.parents) if is_project(p)), REPO_ROOT)

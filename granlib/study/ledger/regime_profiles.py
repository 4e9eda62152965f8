"""The regime study's profiles (``params/ledger/regime.yaml``) and where their rows live: what the map
(:mod:`granlib.study.ledger.regime`) writes and what reads its rows without running it (the bf16 comparison,
:mod:`granlib.study.ledger.precision_check`) share."""

from __future__ import annotations

from pathlib import Path

from granlib.study.ledger.profiles import anchored_params, load_profiles

ROWS_FILE = "regime_map.jsonl"


def profiles() -> dict[str, dict]:
    """The map's profiles (``params/ledger/regime.yaml``), read when asked for."""
    return load_profiles("regime")


def row_profile(profile: str) -> str:
    """What a row of ``profile`` records as its profile: 'regime-map'."""
    return f"regime-{profile}"


def rows_path(profile: str, root: Path | None = None, **where: str | Path) -> Path:
    """The rows file of ``profile`` (``where``: a ``results_dir`` override); several profiles share it, so read it
    with :func:`granlib.study.pipeline.results.load_rows` and ``profile=row_profile(profile)``."""
    settings = profiles()[profile]
    return Path(anchored_params(settings, profile, root, where.get("results_dir"))["results_dir"]) / ROWS_FILE

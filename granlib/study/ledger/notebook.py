"""Notebook 40's set-up: which profile of the 2-D and cost studies a notebook profile stands for, where their rows,
tables and figures are, and the rows themselves (under smoke, the studies' miniatures run first)."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from granlib.project import project_root
from granlib.study.ledger import costs, mixtures
from granlib.study.ledger.profiles import load_profiles
from granlib.study.pipeline.experiments import notebook_setup, resolve_params
from granlib.study.pipeline.plots import apply_theme, stamp
from granlib.study.pipeline.row_store import RowStore


@dataclass(frozen=True)
class LedgerNotebook:
    """The studies' profile ("smoke": the miniatures, run here; "cpu": the committed rows) and its files."""

    profile: str
    mixtures_rows_path: Path
    cost_rows_path: Path
    tables_dir: Path
    figures_dir: Path

    @property
    def smoke(self) -> bool:
        return self.profile == "smoke"

    @property
    def min_n(self) -> int:
        """Seeds per group a 2-D verdict needs."""
        return load_profiles("mixtures")[self.profile]["min_n"]

    @property
    def cost_min_n(self) -> int:
        """Timings per configuration a cost verdict needs: every repeat."""
        return costs.cost_settings()[self.profile]["repeats"]

    def mixtures_rows(self) -> pd.DataFrame:
        """The 2-D study's rows of this profile, one per run (under smoke its miniature is trained first)."""
        if self.smoke:
            mixtures.run_study("smoke", self.mixtures_rows_path, log=lambda line: None)
        rows = mixtures.load_ledger_rows(self.mixtures_rows_path)
        return rows[rows.profile == self.profile].reset_index(drop=True)

    def cost_rows(self) -> pd.DataFrame:
        """The cost study's rows (under smoke measured first, in a child process: the CPU profiler logs to its
        process's stderr)."""
        if self.smoke:
            subprocess.run([sys.executable, "-m", "granlib.study.ledger.costs", "--profile", "smoke", "--out",
                            str(self.cost_rows_path)], check=True, capture_output=True)
        return RowStore(self.cost_rows_path, costs.COST_ROWS).frame()

    def save(self, fig: plt.Figure, name: str) -> None:
        """``fig`` as ``ledger_<name>.png`` among the figures, stamped under smoke (the notebook shows it)."""
        stamp(fig, self.smoke).savefig(self.figures_dir / f"ledger_{name}.png", dpi=110)


def ledger_notebook_setup(profile: str) -> LedgerNotebook:
    """The one set-up call of notebook 40. ``profile`` "smoke", or a ``params/`` profile marked smoke: the miniatures
    write beside that profile's results (:func:`granlib.study.pipeline.experiments.notebook_setup`). "cpu", or any
    other ``params/`` profile: the committed CPU rows are read; tables and figures go where they are committed."""
    smoke = profile == "smoke" or (profile != "cpu" and resolve_params(profile)["smoke"])
    if smoke:
        out = Path(notebook_setup(profile, show=("profile",))["results_dir"]) / "ledger"
        setup = LedgerNotebook("smoke", out / mixtures.ROWS_FILE, out / costs.ROWS_FILE, out, out)
    else:
        apply_theme()
        root, settings = project_root(), load_profiles("mixtures")["cpu"]
        setup = LedgerNotebook("cpu", root / settings["out_dir"] / mixtures.ROWS_FILE, costs.rows_path("cpu", root),
                               root / settings["tables_dir"], root / settings["figures_dir"])
    setup.figures_dir.mkdir(parents=True, exist_ok=True)
    print(f"studies' profile {setup.profile}: 2-D rows {setup.mixtures_rows_path}, cost rows {setup.cost_rows_path}")
    return setup

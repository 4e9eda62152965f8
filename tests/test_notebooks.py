"""Every numbered notebook, executed headlessly through the runner with the smoke profile."""

import json

import pytest

from granlib import runner
from granlib.experiments import REPO_ROOT, load_profile
from granlib.results import load_rows

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_notebooks_are_stored_without_outputs():
    assert len(NOTEBOOKS) == 9
    for path in NOTEBOOKS:
        cells = json.loads(path.read_text())["cells"]
        assert not any(c.get("outputs") or c.get("execution_count") for c in cells if c["cell_type"] == "code"), path
        tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, f"{path.name} needs exactly one cell tagged 'parameters'"


@pytest.mark.slow
def test_run_all_smoke_profile_produces_every_figure_and_table(tmp_path, smoke_profile):
    profile = smoke_profile()
    assert runner.main(["--profile", str(profile)]) == 0
    results = tmp_path / "results"
    figures = {p.name for p in (results / "figures").glob("*.png")}
    expected = {"01_regions.png", "01_normalisers.png", "01_toy_gan.png", "k_sweep_fd.png", "k_sweep_curves.png",
                "all_runs_fd.png"} | {f"{d}_{kind}.png" for d in ("cifar10", "cifar100", "stl10", "lsun_bedroom",
                                                                 "celeba") for kind in ("curves", "samples")}
    assert expected <= figures
    rows = load_rows(results)
    params = load_profile("smoke")
    per_dataset = len(params["methods"]) * len(params["seeds"])
    sweep = len(params["sweep_methods"]) * len(params["K_values"]) * len(params["seeds"])
    assert len(rows) == 5 * per_dataset + sweep
    assert set(rows.metric) == {"FD-EffNetLite0"} and (rows.profile == "smoke").all()
    assert rows.fd.notna().all() and (rows.n_fake == params["n_eval"]).all()
    tables = sorted((results / "tables").glob("*.md"))
    assert len(tables) == 5 and all("smoke — not a result" in t.read_text() for t in tables)
    executed = REPO_ROOT / "results" / "executed" / "smoke"
    assert {p.name for p in executed.glob("*.ipynb")} >= {p.name for p in NOTEBOOKS}

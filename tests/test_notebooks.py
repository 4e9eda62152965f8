"""Every numbered notebook, executed headlessly through the runner with the smoke profile."""

import json
from pathlib import Path

import pytest
import yaml

from granlib import runner
from granlib.experiments import REPO_ROOT, load_profile, resolve_params, run_and_evaluate
from granlib.results import load_rows

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def smoke_profile(tmp_path: Path, **changes) -> Path:
    params = load_profile("smoke")
    params.update(results_dir=str(tmp_path / "results"), runs_dir=str(tmp_path / "runs"), **changes)
    path = tmp_path / "smoke.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def test_notebooks_are_stored_without_outputs():
    assert len(NOTEBOOKS) == 9
    for path in NOTEBOOKS:
        cells = json.loads(path.read_text())["cells"]
        assert not any(c.get("outputs") or c.get("execution_count") for c in cells if c["cell_type"] == "code"), path
        tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, f"{path.name} needs exactly one cell tagged 'parameters'"


@pytest.mark.slow
def test_run_all_smoke_profile_produces_every_figure_and_table(tmp_path, capsys):
    profile = smoke_profile(tmp_path)
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


def test_rerun_skips_finished_runs_and_existing_rows(tmp_path):
    params = resolve_params(str(smoke_profile(tmp_path, iterations=4, n_eval=8, n_real=8)))
    run_dir = run_and_evaluate("cifar10", "gran/ns", 0, params)
    checkpoint = run_dir / "checkpoints" / "latest.pt"
    stamp = checkpoint.stat().st_mtime_ns
    assert run_and_evaluate("cifar10", "gran/ns", 0, params) == run_dir
    assert checkpoint.stat().st_mtime_ns == stamp
    rows = load_rows(params["results_dir"])
    assert len(rows) == 1
    assert {"dataset", "resolution", "method", "loss", "K", "iterations", "seed", "feature_extractor", "n_real",
            "n_fake", "gpu", "date"} <= set(rows.columns)
    assert rows.K.iloc[0] == pytest.approx(0.1) and rows.gpu.iloc[0] == "cpu"


def test_runner_stops_and_names_the_failing_notebook(tmp_path, capsys):
    profile = smoke_profile(tmp_path, dataset_override=f"imagefolder:{tmp_path / 'missing'}", datasets=["cifar10"])
    assert runner.main(["--profile", str(profile), "--only", "10_train_cifar10"]) == 1
    assert "FAILED: 10_train_cifar10.ipynb" in capsys.readouterr().err


def test_paper_profile_gpu_estimate():
    """8 methods × 3 seeds on five datasets, plus 3 × 5 K × 3 seeds of sweep on CIFAR-10, 100k iterations each."""
    cnn, resnet = 48.7, 8.6
    runs, sweep, its = 24, 45, 100_000
    seconds = ((runs + sweep) * its / cnn + runs * its / cnn + runs * its / (cnn / 2.25)
               + runs * its / (resnet / 16) + runs * its / (resnet / 4))
    assert runner.estimated_gpu_hours(load_profile("paper")) == pytest.approx(seconds / 3600)


def test_fast_rates_of_the_estimate_are_the_measured_ones():
    bench = REPO_ROOT / "results" / "bench"
    small = json.loads((bench / "2026-11-27_H200_run1_bench_32x32.json").read_text())["results"]
    large = json.loads((bench / "2026-11-27_H200_run2_bench_48_128.json").read_text())["results"]
    measured = {32: (small["cnn32_ndis1_ns"], small["resnet32_ndis5_hinge"]), 48: (large["cnn48_ndis1_ns"], None),
                128: (None, large["resnet128_ndis5_hinge"])}
    for resolution, rows in measured.items():
        for rate, row in zip(runner.FAST_IT_PER_S[resolution], rows):
            assert (rate is None) == (row is None)
            if row is not None:
                assert rate == pytest.approx(row["fast"]["it_per_s"], rel=1e-4)
    paper = load_profile("paper")
    assert runner.estimated_gpu_hours(paper, runner.FAST_IT_PER_S) < runner.estimated_gpu_hours(paper)

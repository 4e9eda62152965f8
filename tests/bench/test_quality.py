import json

import pytest

from granlib.bench import quality as bench_quality


def test_quality_comparison_runs_both_paths_on_cpu(tmp_path):
    out = tmp_path / "quality.json"
    report = bench_quality.main([
        "--dataset", "synthetic", "--iterations", "4", "--seeds", "0", "1", "--extractor", "effnet_lite0",
        "--n-eval", "16", "--device", "cpu", "--ngf", "16", "--ndf", "8", "--nz", "16", "--eval-every", "50000",
        "--runs-dir", str(tmp_path / "runs"), "--out", str(out)])
    assert json.loads(out.read_text()) == report
    runs = report["runs"]
    assert [(r["path"], r["seed"]) for r in runs] == [("reference", 0), ("fast", 0), ("reference", 1), ("fast", 1)]
    for run in runs:  # provenance of every run
        for key in ("dataset", "resolution", "method", "loss", "K", "iterations", "seed", "feature_extractor",
                    "n_real", "n_fake", "gpu", "date"):
            assert run[key] is not None, key
        assert run["K"] == 0.1 and run["iterations"] == 4 and run["n_fake"] == 16 and run["cuda_graph"] is False
    # on CPU in fp32 the two paths compute the same gradients, so the same seed reaches (nearly) the same distance
    for seed in (0, 1):
        ref, fast = (next(r["fd"] for r in runs if r["seed"] == seed and r["path"] == p) for p in ("reference", "fast"))
        assert abs(ref - fast) <= 1e-3 * abs(ref)
    summary = report["summary"]
    assert summary["fd_difference_fast_minus_reference"] == summary["fast"]["fd_mean"] - summary["reference"]["fd_mean"]
    projection = summary["projected_100k_run"]
    assert projection["evaluations"] == 2 and projection["minutes"] > 100_000 * projection["sec_per_it"] / 60


def test_one_seed_gives_no_noise_verdict():
    runs = [{"path": path, "fd": fd, "sec_per_it": 0.01, "startup_seconds": 1.0, "eval_seconds": 2.0}
            for path, fd in (("reference", 10.0), ("fast", 10.5))]
    summary = bench_quality.summarize(runs, eval_every=5000, eval_samples=100)
    assert summary["within_noise"] is None and summary["fd_difference_fast_minus_reference"] == 0.5
    two = runs + [{**runs[0], "fd": 11.0}, {**runs[1], "fd": 10.0}]
    assert bench_quality.summarize(two, eval_every=5000, eval_samples=100)["within_noise"] is True


def test_welch_interval_matches_scipy_and_needs_two_seeds_per_path():
    from scipy import stats

    fast = [{"fd": v} for v in (220.0, 226.8, 223.1, 219.5)]
    reference = [{"fd": v} for v in (229.9, 220.4, 227.0, 225.2)]
    result = bench_quality.welch(fast, reference)
    expected = stats.ttest_ind([r["fd"] for r in fast], [r["fd"] for r in reference], equal_var=False)
    assert result["p"] == pytest.approx(expected.pvalue, rel=1e-9)
    low, high = result["ci95"]
    assert low < result["difference"] < high and result["seeds"] == [4, 4]
    assert bench_quality.welch(fast[:1], reference) is None

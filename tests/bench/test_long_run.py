import json

import pytest

from granlib.bench import long_run as bench_long


def test_long_run_in_two_segments_sums_their_wall_time(tmp_path):
    run_dir, out = tmp_path / "run", tmp_path / "long.json"
    args = ["--dataset", "synthetic", "--iterations", "6", "--eval-every", "3", "--n-eval", "16", "--device", "cpu",
            "--ngf", "16", "--ndf", "8", "--nz", "16", "--run-dir", str(run_dir), "--out", str(out)]
    first = bench_long.main([*args, "--max-minutes", "0"])  # a job limit reached at once: one iteration, resumable
    assert first["finished"] is False and first["iterations_done"] == 1 and first["under_target"] is None
    report = bench_long.main(args)
    assert json.loads(out.read_text()) == report
    assert report["finished"] is True and report["iterations_done"] == 6
    assert [(s["first_step"], s["last_step"]) for s in report["segments"]] == [(0, 1), (1, 6)]
    assert report["wall_seconds"] == pytest.approx(sum(s["wall_seconds"] for s in report["segments"]))
    assert report["under_target"] is None  # a 6-iteration run at toy widths is not the target's protocol
    assert [point["step"] for point in report["fd_curve"]] == [3, 6] and report["evaluations"] == 2
    assert report["final_fd"] == report["fd_curve"][-1]["fd"] and report["eval_seconds_total"] > 0
    for key in ("dataset", "resolution", "method", "loss", "K", "iterations", "seed", "feature_extractor",
                "n_real", "n_fake", "gpu", "date", "git_commit"):
        assert report[key] is not None, key
    assert report["K"] == 0.1 and report["path"] == "fast" and report["n_dis"] == 1
    again = bench_long.main(args)  # a finished run adds no segment
    assert len(again["segments"]) == 2


def test_the_target_verdict_is_for_the_100k_cnn32_protocol_only():
    from granlib.training.config import preset

    target = preset("gngan_cnn", iterations=100_000, eval_every=5000)
    assert bench_long.is_target_protocol(target)
    for change in (dict(iterations=2500), dict(ngf=16), dict(n_dis=5), dict(eval_every=0), dict(resolution=48)):
        assert not bench_long.is_target_protocol(target.replace(**change)), change

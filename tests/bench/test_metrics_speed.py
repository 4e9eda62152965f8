import json

from granlib.bench import metrics_speed as bench_metrics


def test_metrics_bench_runs_with_the_proxy_on_cpu(tmp_path):
    out = tmp_path / "m.json"
    report = bench_metrics.main(["--device", "cpu", "--extractor", "effnet_lite0", "--n", "20", "--batch-size", "10",
                                 "--out", str(out)])
    assert json.loads(out.read_text()) == report
    assert report["extrapolated"] is True and report["images_per_s_extraction"] > 0
    assert report["seconds_for_50k"] == report["seconds_generation_extraction_fid_is"] * 50_000 / 20
    assert report["periodic_evaluation"]["n_samples"] == 20 and report["periodic_evaluation"]["seconds"] > 0

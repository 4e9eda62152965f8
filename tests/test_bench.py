import json

from granlib import bench


def test_bench_runs_on_cpu_and_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    report = bench.main(["--device", "cpu", "--configs", "cnn32_ndis1_ns", "resnet32_ndis5_hinge",
                         "--iterations", "1", "--warmup", "0", "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved["device"] == "cpu" and saved["tiny_widths"] is True
    for name in ("cnn32_ndis1_ns", "resnet32_ndis5_hinge"):
        row = saved["results"][name]
        assert row["reference"]["it_per_s"] > 0 and row["fast"]["it_per_s"] > 0
        assert row["reference"]["flops_per_iteration"] > 0
        assert row["speedup"] == row["fast"]["it_per_s"] / row["reference"]["it_per_s"]
    assert report["results"].keys() == saved["results"].keys()

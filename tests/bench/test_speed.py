import json

import torch

from granlib.bench import speed as bench


def test_bench_runs_on_cpu_and_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    report = bench.main(["--device", "cpu", "--tiny", "--configs", "cnn32_ndis1_ns", "resnet32_ndis5_hinge",
                         "--iterations", "1", "--warmup", "0", "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved["device"] == "cpu" and saved["tiny_widths"] is True
    assert set(saved["paths"]) == set(bench.PATHS)
    for name in ("cnn32_ndis1_ns", "resnet32_ndis5_hinge"):
        row = saved["results"][name]
        for path in bench.PATHS:
            assert row[path]["it_per_s"] > 0 and row[path]["timed_iterations"] == 1
            assert row[path]["flops_per_iteration"] > 0
            assert row[path]["cuda_graph"] is False and row[path]["graph_fallback_reason"]
            assert row[path]["fused_adam"] is False  # CPU; on CUDA only the fast paths fuse
        assert row["speedup"] == row["fast"]["it_per_s"] / row["reference"]["it_per_s"]
        assert row["speedup_vs_typical"] == row["fast"]["it_per_s"] / row["typical"]["it_per_s"]
        # the cheap G step does fewer FLOPs than double backprop through ‖∇f‖
        assert row["fast"]["flops_per_iteration"] < row["reference"]["flops_per_iteration"]
    assert report["results"].keys() == saved["results"].keys()


def test_bench_profile_lists_the_costliest_ops(tmp_path):
    report = bench.main(["--device", "cpu", "--tiny", "--configs", "cnn32_ndis1_ns", "--paths", "fast",
                         "--iterations", "1", "--profile", "--out", str(tmp_path / "p.json")])
    rows = report["profile"]["cnn32_ndis1_ns"]["top_ops"]
    assert 0 < len(rows) <= 15 and all(row["self_ms_per_iteration"] >= 0 and row["op"] for row in rows)
    times = [row["self_ms_per_iteration"] for row in rows]
    assert times == sorted(times, reverse=True) and times[0] > 0
    assert any("conv" in row["op"] for row in rows)  # convolutions are among the costliest ops
    assert report["profile"]["cnn32_ndis1_ns"]["kernels"]["kernels_per_iteration"] == 0  # no device kernels on CPU


def test_kernel_summary_counts_device_kernels_and_the_short_ones():
    from types import SimpleNamespace

    cuda, cpu = torch.autograd.DeviceType.CUDA, torch.autograd.DeviceType.CPU

    def event(device_type, microseconds):
        return SimpleNamespace(device_type=device_type, time_range=SimpleNamespace(elapsed_us=lambda: microseconds))

    events = [event(cuda, 4.0), event(cuda, 6.0), event(cuda, 90.0), event(cpu, 1000.0)] * 2  # two iterations
    summary = bench.kernel_summary(events, iterations=2)
    assert summary["kernels_per_iteration"] == 3 and summary["short_kernels_per_iteration"] == 2
    assert summary["kernel_ms_per_iteration"] == 0.1 and summary["short_kernel_ms_per_iteration"] == 0.01


def test_bench_ablation_measures_each_fast_path_measure(tmp_path):
    from granlib.training.fast_path import MEASURES

    report = bench.main(["--device", "cpu", "--tiny", "--configs", "cnn32_ndis1_ns", "--paths", "fast", "--ablation",
                         "--iterations", "1", "--out", str(tmp_path / "a.json")])
    row = report["results"]["cnn32_ndis1_ns"]
    assert set(row["measure_gain"]) == set(MEASURES)
    for measure in MEASURES:
        path = f"fast_without_{measure}"
        assert row[path]["fast_path"][measure] is False and report["paths"][path]["fast_path"][measure] is False
        assert row["measure_gain"][measure] == row["fast"]["it_per_s"] / row[path]["it_per_s"]
    assert row["fast_without_channels_last"]["fast_path"]["bf16_autocast"] is True


def test_table_rows_from_a_report(capsys, tmp_path):
    report = {"configs": {"cnn32_ndis1_ns": bench.CONFIGS["cnn32_ndis1_ns"],
                          "resnet128_ndis5_hinge": bench.CONFIGS["resnet128_ndis5_hinge"]},
              "results": {"cnn32_ndis1_ns": {"reference": {"it_per_s": 50.0, "timed_iterations": 500},
                                             "fast": {"it_per_s": 175.04, "timed_iterations": 900, "tflops": 60.02,
                                                      "fraction_of_peak": 0.0762},
                                             "speedup": 3.5008},
                          "resnet128_ndis5_hinge": {"reference": {"it_per_s": 0.681, "timed_iterations": 2}}}}
    assert bench.markdown_rows(report, "run 3") == [
        "| CNN32, n_dis=1, NS (128) — run 3 | 50.0 | – | – | 175.0 | 3.50× | 60.0 (7.6%) |",
        "| ResNet128, n_dis=5, hinge (64) — run 3 | 0.68 (2 it) | – | – | – | – | – |"]
    (tmp_path / "r.json").write_text(json.dumps(report))
    assert bench.main(["--table", f"{tmp_path / 'r.json'}=run 3"]) == {}  # measures nothing
    printed = capsys.readouterr().out.splitlines()
    assert printed[:2] == bench.TABLE_HEADER.splitlines() and printed[2:] == bench.markdown_rows(report, "run 3")


def test_ablation_rows_give_each_measure_its_gain(capsys, tmp_path):
    report = {"configs": {"resnet32_ndis5_hinge": bench.CONFIGS["resnet32_ndis5_hinge"]},
              "results": {"resnet32_ndis5_hinge": {
                  "fast": {"it_per_s": 11.0, "timed_iterations": 50, "tflops": 50.0, "fraction_of_peak": 0.06},
                  "fast_without_channels_last": {"it_per_s": 8.8, "timed_iterations": 40},
                  "measure_gain": {"channels_last": 1.25}}}}
    assert bench.ablation_rows(report) == ["| ResNet32, n_dis=5, hinge (128) | channels_last | 8.80 | 1.25× |"]
    assert bench.ablation_rows({"configs": report["configs"],
                                "results": {"resnet32_ndis5_hinge": {"fast": report["results"]["resnet32_ndis5_hinge"]
                                                                     ["fast"]}}}) == []
    (tmp_path / "a.json").write_text(json.dumps(report))
    bench.main(["--table", str(tmp_path / "a.json")])
    printed = capsys.readouterr().out
    assert bench.ABLATION_HEADER in printed and "| channels_last | 8.80 | 1.25× |" in printed

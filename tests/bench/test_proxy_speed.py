import json

import pytest
import torch

from granlib.bench import proxy_speed

pytest.importorskip("efficientnet_lite_pytorch")


def test_proxy_speed_times_both_paths_side_by_side_and_compares_their_fd(tmp_path):
    out = tmp_path / "p.json"
    threads = torch.get_num_threads()
    try:
        report = proxy_speed.main(["--n", "6", "--rounds", "2", "--out", str(out)])
    finally:
        torch.set_num_threads(threads)  # the benchmark sets its process's threads
    assert json.loads(out.read_text()) == report
    assert report["threads"] == 1 and report["cpu"] and report["torch"]
    for rates in (report["images_per_s_wall"], report["images_per_cpu_s"]):
        assert [len(r) for r in rates["per_round"].values()] == [2, 2]
        assert rates["folded"] > 0 and rates["reference"] > 0
    fd = report["fd_against_synthetic"]
    assert fd["reference"] > 1.0 and fd["relative_difference"] <= 1e-3

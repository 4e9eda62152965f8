import json
import re

import pytest

from granlib.bench import cpu, peer
from granlib.bench import speed as bench
from granlib.project import REPO_ROOT


def test_cpu_bench_times_every_path_side_by_side_and_writes_json(tmp_path, capsys):
    out = tmp_path / "cpu.json"
    report = bench.main(["--device", "cpu", "--settings", "study_64_8", "--threads", "1", "--rounds", "2",
                         "--warmup", "0", "--peer", "", "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved == json.loads(json.dumps(report))
    assert saved["device"] == "cpu" and saved["cpu_model"] and saved["torch"] and saved["threads"] == [1]
    assert {"date", "git_commit", "cpu_bf16_flags", "load_average_before"} <= set(saved)
    result = saved["results"]["study_64_8"]
    assert (result["config"]["ngf"], result["config"]["ndf"], result["config"]["batch_size_g"]) == (64, 8, 32)
    assert set(result["paths"]) == set(cpu.PATHS) and result["peer"] == {}
    assert result["paths"]["reference"]["cheap_generator_step"] is False
    assert result["paths"]["bf16_fast"]["bf16_autocast"] is (saved["cpu_bf16_missing"] is None)
    assert result["paths"]["fp32_fast_nchw"]["channels_last"] is False
    row = result["threads"]["1"]
    for path, timed in row["paths"].items():
        assert len(timed["ms_each_round"]) == 2 and timed["ms_per_iteration"] > 0, path
    times = {path: timed["ms_each_round"] for path, timed in row["paths"].items()}
    paired = sorted(b / a for a, b in zip(times["bf16_fast"], times["fp32_fast"]))
    assert row["ratios"]["bf16_fast_over_fp32_fast"] == pytest.approx(sum(paired) / 2, rel=1e-3)  # median of two
    assert "bf16_fast_over_gngan_code" not in row["ratios"]  # no peer, no peer column
    rows = cpu.markdown_rows(saved)
    assert len(rows) == 1 and rows[0].startswith("| 64/8, 32/32 | 1 |") and rows[0].count("|") == 10
    capsys.readouterr()
    assert bench.main(["--table", str(out)]) == {}  # a CPU file prints under the CPU table's header
    assert capsys.readouterr().out.splitlines() == [*cpu.TABLE_HEADER.splitlines(), *rows]


def test_the_gngan_code_joins_the_published_setting_only(tmp_path):
    steps, described, record = cpu.build(cpu.PUBLISHED, tmp_path)  # an empty folder: no peer code there
    assert cpu.PEER_PATH not in steps and "missing" in record and record["source"] == peer.PEER_SOURCE
    assert set(steps) == {"reference", "fp32_fast", "bf16_fast"}  # the channels_last ablation: study widths only
    steps, described, record = cpu.build("study_64_16", peer.PEER_DIR)
    assert cpu.PEER_PATH not in steps and record == {}  # their nets have fixed (published) widths
    if (peer.PEER_DIR / "models" / "dcgan.py").is_file():
        steps, described, record = cpu.build(cpu.PUBLISHED, peer.PEER_DIR)
        assert cpu.PEER_PATH in steps and len(record["commit"]) == 40
        assert described[cpu.PEER_PATH]["precision"] == "fp32"


def test_results_readme_holds_the_rows_of_the_committed_cpu_bench():
    """Every row that markdown_rows makes of a committed CPU bench file is in results/bench/README.md."""
    readme = (REPO_ROOT / "results" / "bench" / "README.md").read_text()
    files = sorted((REPO_ROOT / "results" / "bench").glob("*_cpu*.json"))
    assert files, "no committed CPU bench file"
    for path in files:
        report = json.loads(path.read_text())
        assert path.name in readme
        for row in cpu.markdown_rows(report):
            assert row in readme, row
    assert re.search(r"\| setting: G/D widths, batch D/G \|", readme)

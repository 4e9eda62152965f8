import json

from granlib.bench.report import BENCH_DIR, report_path, write_report


def test_the_default_path_is_dated_and_named_under_results_bench(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert report_path(None, "2026-12-07T06:41:18+00:00", "NVIDIA H100 80GB") == (
        BENCH_DIR / "2026-12-07_NVIDIA_H100_80GB.json")
    assert report_path(None, "2026-12-07", "cpu", prefix="quality_") == BENCH_DIR / "quality_2026-12-07_cpu.json"
    assert (tmp_path / BENCH_DIR).is_dir()  # made before the benchmark runs
    mine = tmp_path / "elsewhere" / "mine.json"
    assert report_path(mine, "2026-12-07", "cpu") == mine


def test_a_report_is_written_as_json_in_a_new_folder_and_rewritten_in_place(tmp_path):
    path = tmp_path / "new" / "bench.json"
    assert write_report({"runs": [1]}, path) == path
    write_report({"runs": [1, 2]}, path)  # a benchmark rewrites its report as runs finish
    assert json.loads(path.read_text()) == {"runs": [1, 2]}

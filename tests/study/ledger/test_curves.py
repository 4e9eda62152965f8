import json

from granlib.study.ledger.curves import copy_logged_points
from granlib.study.pipeline.row_store import RowSchema, RowStore

SCHEMA = RowSchema(key=("run", "step"), required=("run", "step", "loss"), numeric=("step",))


def write_stats(run_dir, lines):
    run_dir.mkdir(parents=True)
    (run_dir / "stats.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))


def test_every_logged_point_with_the_fields_is_copied_once_with_its_runs_identity(tmp_path):
    write_stats(tmp_path / "runs" / "a", [{"step": 250, "loss": 1.0}, {"step": 500, "loss": 0.5},
                                          {"step": 600, "other": 2.0}])  # a line without the fields: not a point
    rows = [{"run": "a", "run_dir": "runs/a"}, {"run": "b", "run_dir": "runs/b"}]  # b's directory is gone
    store = RowStore(tmp_path / "curves.jsonl", SCHEMA)
    assert copy_logged_points(rows, tmp_path, store, ("run",), ("loss",)) == 2
    assert [(r["run"], r["step"], r["loss"]) for r in store.rows()] == [("a", 250, 1.0), ("a", 500, 0.5)]
    assert copy_logged_points(rows, tmp_path, store, ("run",), ("loss",)) == 0  # again: nothing added twice
    assert len(store.rows()) == 2

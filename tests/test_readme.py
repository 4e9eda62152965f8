import re
import subprocess

from granlib.project import REPO_ROOT


def test_readme_example_runs():
    text = (REPO_ROOT / "README.md").read_text()
    block = re.search(r"<!-- readme-example.*?-->\s*```python\n(.*?)```", text, re.S).group(1)
    namespace: dict = {}
    exec(compile(block, "README example", "exec"), namespace)
    D, G = namespace["D"], namespace["G"]
    assert namespace["d_loss"].isfinite() and namespace["g_loss"].isfinite()
    assert all(p.grad is not None for p in G.parameters())
    assert D.K == 0.1


def test_ci_runs_the_readme_test_command():
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert "./run_tests.sh" in ci and "./run_tests.sh" in (REPO_ROOT / "README.md").read_text()


def test_shell_scripts_parse():
    for script in [REPO_ROOT / "run_all.sh", REPO_ROOT / "run_tests.sh", *sorted((REPO_ROOT / "scripts").glob("*.sh"))]:
        subprocess.run(["bash", "-n", str(script)], check=True)


def test_readme_speed_table_is_the_committed_bench_files():
    """Every row that `python -m granlib.bench --table` makes of the committed H200 files is in the README."""
    import json

    from granlib.bench.speed import TABLE_HEADER, markdown_rows

    text = (REPO_ROOT / "README.md").read_text()
    assert TABLE_HEADER in text
    for name, label in (("run1_bench_32x32", "run 1"), ("run2_bench_32x32", "run 2"), ("run2_bench_48_128", "run 2")):
        report = json.loads((REPO_ROOT / f"results/bench/2026-11-27_H200_{name}.json").read_text())
        for row in markdown_rows(report, label):
            assert row in text, row


def test_readme_worked_example_adds_a_normaliser_that_trains_and_is_listed(tmp_path):
    """The "Adding a normaliser" example, run in its own process (its registration stays there) and folder."""
    import json
    import sys

    text = (REPO_ROOT / "README.md").read_text()
    module = re.search(r"<!-- readme-example: plugin module.*?-->\s*```python\n(.*?)```", text, re.S).group(1)
    (tmp_path / "my_normalisers.py").write_text(module)  # saved outside granlib, as the README says
    block = re.search(r"<!-- readme-example: new normaliser.*?-->\s*```python\n(.*?)```", text, re.S).group(1)
    result = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert "| `ortho/ns` | **Ortho-GAN** | orthogonal regularisation" in result.stdout
    assert "**GraND-GAN**" in result.stdout
    config = json.loads((tmp_path / "runs" / "ortho" / "config.json").read_text())
    assert config["normalizer"] == "ortho" and config["normalizer_options"] == {"ortho_weight": 1e-3}

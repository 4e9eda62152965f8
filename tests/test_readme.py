import re
import subprocess

from granlib.experiments import REPO_ROOT


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


def test_readme_speed_table_quotes_the_committed_bench_files():
    import json

    text = (REPO_ROOT / "README.md").read_text()
    run1 = json.loads((REPO_ROOT / "results/bench/2026-11-27_H200_run1_bench_32x32.json").read_text())
    cnn, resnet = run1["results"]["cnn32_ndis1_ns"], run1["results"]["resnet32_ndis5_hinge"]
    assert f"| {cnn['fast']['it_per_s']:.1f} | {cnn['speedup']:.2f}×" in text
    assert f"| {resnet['fast']['it_per_s']:.2f} | {resnet['speedup']:.2f}×" in text

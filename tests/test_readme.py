import re

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

"""The set-up shared by ./run_all.sh and ./run_tests.sh (scripts/ensure_env.sh), with pip stubbed out: an
interrupted or out-of-date install is finished, a complete one is left alone, and --help installs nothing."""

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from granlib.project import REPO_ROOT

MARKER = ".granlib-setup-complete"


@pytest.fixture
def checkout(tmp_path):
    """A copy of the scripts with a stub granlib, and a .venv whose python is the real one with ``-m pip`` and
    ``-m ipykernel`` recorded in install.log instead of run (``$FAIL_PIP=1`` makes pip fail)."""
    root = tmp_path / "clone"
    (root / "scripts").mkdir(parents=True)
    for name in ("run_all.sh", "run_tests.sh", "pyproject.toml", "scripts/ensure_env.sh"):
        shutil.copy2(REPO_ROOT / name, root / name)
    (root / "granlib").mkdir()
    (root / "granlib" / "__init__.py").write_text("")
    python = root / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f"""#!/usr/bin/env bash
if [ "$1" = -m ] && {{ [ "$2" = pip ] || [ "$2" = ipykernel ]; }}; then
  echo "${{*:2}}" >> "{root}/install.log"
  [ "$2" = pip ] && [ "${{FAIL_PIP:-0}}" = 1 ] && [[ "$*" == *-e* ]] && exit 1
  exit 0
fi
[ "$1" = -c ] && [[ "$2" == "import torch"* ]] && exit 0  # torch is there (importing it takes seconds)
PYTHONPATH="{root}" exec "{sys.executable}" "$@"
""")
    python.chmod(0o755)
    return root


def ensure_env(root: Path, **env) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX", "PYTHONPATH")}
    return subprocess.run(["bash", "-c", "set -euo pipefail; source scripts/ensure_env.sh; echo \"PY=$PY\""],
                          cwd=root, env={**environment, **env}, capture_output=True, text=True, timeout=120)


def installs(root: Path) -> list[str]:
    log = root / "install.log"
    return log.read_text().splitlines() if log.exists() else []


def test_an_interrupted_install_is_finished_then_left_alone(checkout):
    """A .venv that imports granlib from the checkout but has no marker (the install was killed) is installed
    again; the marker then holds pyproject.toml's hash and the next call installs nothing."""
    result = ensure_env(checkout)
    assert result.returncode == 0, result.stderr
    assert f"PY={checkout}/.venv/bin/python" in result.stdout
    done = installs(checkout)
    assert f"pip install -q -e {checkout}[dev,proxy]" in done
    assert 'ipykernel install --sys-prefix --name granlib --display-name Python (granlib)' in done
    assert not any("torch==" in line for line in done)  # torch imports already: not reinstalled
    digest = hashlib.sha256((checkout / "pyproject.toml").read_bytes()).hexdigest()
    assert (checkout / ".venv" / MARKER).read_text().strip() == digest

    assert ensure_env(checkout).returncode == 0
    assert installs(checkout) == done  # complete: nothing installed again


def test_a_changed_pyproject_redoes_the_install(checkout):
    assert ensure_env(checkout).returncode == 0
    before = len(installs(checkout))
    with (checkout / "pyproject.toml").open("a") as handle:
        handle.write("\n# a new dependency\n")
    assert ensure_env(checkout).returncode == 0
    assert any("-e" in line for line in installs(checkout)[before:])


def test_a_failed_install_leaves_no_marker(checkout):
    result = ensure_env(checkout, FAIL_PIP="1")
    assert result.returncode != 0
    assert not (checkout / ".venv" / MARKER).exists()
    assert ensure_env(checkout).returncode == 0 and (checkout / ".venv" / MARKER).exists()


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_run_all_help_prints_usage_and_installs_nothing(tmp_path, flag):
    root = tmp_path / "fresh"
    (root / "scripts").mkdir(parents=True)
    for name in ("run_all.sh", "scripts/ensure_env.sh"):
        shutil.copy2(REPO_ROOT / name, root / name)
    result = subprocess.run(["bash", str(root / "run_all.sh"), flag], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: ./run_all.sh") and "--profile" in result.stdout and "--lab" in result.stdout
    assert not (root / ".venv").exists() and not result.stderr


def test_the_set_up_installs_the_nbstripout_filter_that_gitattributes_names(checkout):
    """In a git clone the set-up configures the filter .gitattributes names: a notebook saved with outputs is staged
    without them (cell ids kept), while an executed copy under results/executed/ keeps its outputs."""
    import nbformat

    shutil.copy2(REPO_ROOT / ".gitattributes", checkout / ".gitattributes")

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=checkout, check=True, capture_output=True, text=True).stdout

    git("init", "-q")
    assert ensure_env(checkout).returncode == 0
    assert git("config", "--get", "filter.nbstripout.clean").strip().endswith("-m nbstripout --keep-id")
    cell = nbformat.v4.new_code_cell("print(1)", id="kept-id", execution_count=1,
                                     outputs=[nbformat.v4.new_output("stream", text="1\n")])
    for folder in ("notebooks", "results/executed"):
        (checkout / folder).mkdir(parents=True)
        nbformat.write(nbformat.v4.new_notebook(cells=[cell]), checkout / folder / "x.ipynb")
    git("add", "notebooks", "results")
    (stripped,) = nbformat.reads(git("show", ":notebooks/x.ipynb"), as_version=4).cells
    assert stripped.outputs == [] and stripped.execution_count is None and stripped.id == "kept-id"
    (kept,) = nbformat.reads(git("show", ":results/executed/x.ipynb"), as_version=4).cells
    assert kept.outputs and kept.execution_count == 1
    assert ensure_env(checkout).returncode == 0  # a second call leaves the configured filter as it is

"""Repository-wide conventions: tests mirror the package, and the code is ruff clean."""

import importlib.util
import shutil
import subprocess
import sys

import pytest

from granlib.experiments import REPO_ROOT

PACKAGE = REPO_ROOT / "granlib"


def test_every_module_has_its_test_file():
    modules = [p.relative_to(PACKAGE) for p in PACKAGE.rglob("*.py") if p.name != "__init__.py"]
    assert len(modules) > 20
    missing = [str(m) for m in modules if not (REPO_ROOT / "tests" / m.parent / f"test_{m.name}").is_file()]
    assert not missing, f"modules without tests/<same folder>/test_<module>.py: {missing}"


def test_ruff_is_clean():
    if importlib.util.find_spec("ruff") is not None:
        command = [sys.executable, "-m", "ruff"]
    elif shutil.which("ruff"):
        command = [shutil.which("ruff")]
    else:
        pytest.skip("ruff is not installed (it comes with the dev extra)")
    result = subprocess.run([*command, "check", "--no-cache", str(REPO_ROOT)], capture_output=True, text=True,
                            cwd=REPO_ROOT)
    assert result.returncode == 0, result.stdout[-4000:]

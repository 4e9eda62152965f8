"""A profile's ``plugins``: normalisers registered outside granlib reach the profile check, the runner and the
notebooks' kernels."""

import json
import re
import subprocess
import textwrap

import pytest
import yaml

from granlib.normalizers import NORMALIZERS, unregister_normalizer
from granlib.project import REPO_ROOT
from granlib.study.pipeline.experiments import load_profile
from granlib.study.pipeline.profiles import ProfileError, read_profile
from granlib.study.pipeline.results import load_rows

PLUGIN = textwrap.dedent('''
    from granlib.normalizers import Discriminator, NormalizerSpec, register_normalizer


    class Halved(Discriminator):
        """D = K·f/2."""

        def forward(self, x, generator_step=False):
            return 0.5 * super().forward(x, generator_step)


    register_normalizer(NormalizerSpec(name="halved", label="halved", build=Halved, default_K=1.0,
                                       method_names={"ns": "Halved-GAN"}))
''')


def readme_plugin() -> str:
    """The README's "Adding a normaliser" module: the code a user saves as a file outside granlib."""
    text = (REPO_ROOT / "README.md").read_text()
    return re.search(r"<!-- readme-example: plugin module.*?-->\s*```python\n(.*?)```", text, re.S).group(1)


def profile_with(tmp_path, **changes) -> str:
    params = {**load_profile("smoke"), "results_dir": str(tmp_path / "results"), "runs_dir": str(tmp_path / "runs"),
              **changes}
    path = tmp_path / "plugged.yaml"
    path.write_text(yaml.safe_dump(params))
    return str(path)


def test_a_profile_imports_its_plugins_before_it_checks_the_methods_they_register(tmp_path):
    plugin = tmp_path / "my_normalisers.py"
    plugin.write_text(PLUGIN)
    try:
        with pytest.raises(ProfileError, match="'halved/ns' is not a method"):
            read_profile(profile_with(tmp_path, methods=["halved/ns"]))
        params = read_profile(profile_with(tmp_path, plugins=[str(plugin)], methods=["halved/ns"]))
        assert params["methods"] == ["halved/ns"] and "halved" in NORMALIZERS
        read_profile(profile_with(tmp_path, plugins=[str(plugin)], methods=["halved/ns"]))  # read twice: no error
    finally:
        unregister_normalizer("halved")


def test_a_plugin_that_cannot_be_imported_is_a_profile_error_naming_it(tmp_path):
    with pytest.raises(ProfileError, match=r"plugins: 'no_such_module_here' could not be imported"):
        read_profile(profile_with(tmp_path, plugins=["no_such_module_here"]))
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('boom')\n")
    with pytest.raises(ProfileError, match=r"broken\.py' could not be imported \(RuntimeError: boom\)"):
        read_profile(profile_with(tmp_path, plugins=[str(broken)]))


@pytest.mark.slow
def test_the_readme_normaliser_runs_through_run_all_from_a_module_outside_granlib(tmp_path):
    """The README's module saved outside granlib, named by a smoke profile's plugins and methods: ./run_all.sh
    trains it in notebook 10, and its row and its name reach the table notebook 30 renders."""
    plugin = tmp_path / "elsewhere" / "my_normalisers.py"
    plugin.parent.mkdir()
    plugin.write_text(readme_plugin())
    profile = profile_with(tmp_path, plugins=[str(plugin)], methods=["ortho/ns"], seeds=[0])
    result = subprocess.run(["./run_all.sh", "--profile", profile, "--only", "[13]0_*"], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = load_rows(tmp_path / "results")
    assert list(rows.method) == ["ortho"] and json.loads(rows.hyperparameters[0]) == {"ortho_weight": 1e-4}
    (table,) = [path for path in (tmp_path / "results" / "tables").glob("*.md") if path.name != "paper_fig1.md"]
    assert "Ortho-GAN" in table.read_text() and "smoke — not a result" in table.read_text()

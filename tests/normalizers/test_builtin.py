import re
from pathlib import Path

from granlib.losses import LOSSES
from granlib.normalizers import NORMALIZERS, builtin, default_K, method_label
from granlib.study.ledger import costs


def test_every_built_in_normaliser_is_declared_once_with_a_positive_default_K():
    assert {"none", "sn", "gp", "wc", "gn", "gran", "gran_inverse", "equivalent"} <= set(NORMALIZERS)
    ours = [name for name, spec in NORMALIZERS.items() if "ours" in spec.label]
    assert ours == ["gran_floor", "gran_scalefree"]  # forms of this library: labelled so, in no paper comparison
    assert all(not NORMALIZERS[name].paper_losses and "(ours)" in method_label(name, "ns")
               and NORMALIZERS[name].variant_of == "gran" for name in ours)
    assert not any(f"{name}/ns" in costs.cost_methods() for name in ours)  # their step is GraN's, timed as GraN
    for name, spec in NORMALIZERS.items():
        assert spec.name == name and spec.default_K > 0 and spec.label and set(spec.method_names) <= set(LOSSES)
    assert default_K("gran") == default_K("gran_inverse") == default_K("equivalent") == 0.1
    assert {default_K(name) for name in ("none", "sn", "gp", "wc", "gn")} == {1.0}


def test_the_default_K_values_are_written_in_one_module():
    """A default K is a number in the table of built-ins only: no other module of granlib gives K a numeric
    default (a signature's ``K: float = 1.0``, a ``default_K=`` or a ``DEFAULT_K`` constant); they read the
    registry."""
    package = Path(builtin.__file__).parents[1]
    pattern = re.compile(r"\bK: float = [0-9]|default_K\s*=\s*[0-9]|\bDEFAULT_K\w*\s*=")
    holding = sorted(str(p.relative_to(package)) for p in package.rglob("*.py") if pattern.search(p.read_text()))
    assert holding == [], holding
    assert {spec.default_K for spec in NORMALIZERS.values()} == {builtin.BASELINE_K, builtin.GRAN_K}

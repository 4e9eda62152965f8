"""Notebook 02's layer-wise gradient bound check (check 6), run on its own: it passes on the discriminators as
built and fails, for each of them, once ‖∇f‖ exceeds what the layers allow."""

import json

import pytest
import torch

from granlib.models import build_models
from granlib.project import REPO_ROOT
from granlib.study.instruments.lipschitz import layerwise_bound

NAMES = ("CNN32 D", "ResNet32 D")


def bound_check_source() -> str:
    notebook = json.loads((REPO_ROOT / "notebooks" / "02_gran_derivation_checks.ipynb").read_text())
    (cell,) = [c for c in notebook["cells"] if c["cell_type"] == "code" and "layerwise_bound(" in "".join(c["source"])]
    return "".join(cell["source"])


def run_bound_check(gradient_scale: dict[str, float] | None = None) -> dict[str, tuple[bool, str]]:
    """{check name: (passed, detail)} of the cell on narrow nets; ``gradient_scale`` multiplies a net's output, so its
    ‖∇f‖, while its layers (and so its bound) stay as built."""
    torch.manual_seed(0)
    nets = {"CNN32 D": (build_models("cnn", 32, ndf=8)[1].double(), (3, 32, 32)),
            "ResNet32 D": (build_models("resnet", 32, ndf=16)[1].double(), (3, 32, 32))}
    for name, scale in (gradient_scale or {}).items():
        net = nets[name][0]
        net.forward = lambda x, net=net, scale=scale: scale * type(net).forward(net, x)
    inputs = {name: torch.randn(4, *shape, dtype=torch.float64) for name, (_, shape) in nets.items()}
    results = {}

    def check(name, passed, detail=""):
        results[name] = (bool(passed), detail)

    exec(bound_check_source(), {"torch": torch, "nets": nets, "inputs": inputs, "check": check,
                                "layerwise_bound": layerwise_bound})
    return results


def test_the_bound_check_passes_for_every_discriminator_as_built():
    results = run_bound_check()
    assert [name.rsplit(": ", 1)[1] for name in results] == list(NAMES)
    assert all(passed for passed, _ in results.values()), results


@pytest.mark.parametrize("inflated", NAMES)
def test_the_bound_check_fails_where_the_gradient_exceeds_the_bound(inflated):
    results = run_bound_check({inflated: 1e8})  # bound/actual is about 1e3-1e4 for these nets
    verdicts = {name.rsplit(": ", 1)[1]: passed for name, (passed, _) in results.items()}
    assert verdicts == {name: name != inflated for name in NAMES}, results

import pandas as pd
import pytest
import torch

from granlib.study.ledger import costs
from granlib.study.ledger.images.protocol import study_params


@pytest.fixture(scope="module")
def params(tmp_path_factory):
    return study_params("smoke", root=tmp_path_factory.mktemp("costs"))


def test_holding_the_gradient_norm_constant_gives_the_same_generator_gradient(params):
    """f is piecewise linear: the G step needs no second-order term (float64, to rounding)."""
    for method in ("gran/ns", "gn/ns", "equivalent/ns"):
        assert max(costs.generator_gradient_gap(method, params, batches=2)) <= costs.GAP_TOLERANCE
    assert costs.generator_gradient_gap("sn/ns", params, batches=1) == [0.0]  # no gradient term: one computation


def test_the_g_step_forms_differ_in_what_they_compute(params):
    held = costs.build_trainer("gran/ns", "held_constant", params, torch.device("cpu"))
    double = costs.build_trainer("gran/ns", "double_backprop", params, torch.device("cpu"))
    assert held.fast_path.cheap_generator_step and not double.fast_path.cheap_generator_step
    assert not held.fast_path.channels_last  # otherwise the reference path
    assert costs.peak_bytes(double, "g") > costs.peak_bytes(held, "g")  # the kept graph of ∇ₓf costs memory


def test_peak_memory_grows_with_the_batch(params):
    small = costs.build_trainer("none/ns", "held_constant", params, torch.device("cpu"))
    large = costs.build_trainer("none/ns", "held_constant", {**params, "model_overrides": {
        **params["model_overrides"], "batch_size_d": 64, "batch_size_g": 64}}, torch.device("cpu"))
    assert costs.peak_bytes(large, "d") > costs.peak_bytes(small, "d") > 0


def cost_rows(gran_seconds: float) -> pd.DataFrame:
    rows = []
    for method in ("gran/ns", "gn/ns", "equivalent/ns", *costs.C2_BASELINES):
        normalizer, _, loss = method.partition("/")
        for form in costs.FORMS:
            for repeat in range(3):
                seconds = (gran_seconds if normalizer == "gran" else 1.0) + 0.01 * repeat
                rows.append({"method": normalizer, "loss": loss, "form": form, "repeat": repeat,
                             "d_step_seconds": seconds, "g_step_seconds": seconds, "iteration_seconds": 2 * seconds,
                             "peak_mib_d_step": 20.0 if normalizer == "gran" else 10.0, "peak_mib_g_step": 5.0,
                             "generator_gradient_gap": 0.0})
    return pd.DataFrame(rows)


def test_c2_verdicts_follow_the_measurements():
    table = costs.evaluate_claims(cost_rows(gran_seconds=2.0), min_n=3)
    timing = table[table.setting.str.contains("seconds")]
    assert set(timing.verdict) == {"supported"} and (table.claim == "C2").all()
    assert set(table[table.setting.str.contains("peak")].verdict) == {"supported"}
    gap = table[table.setting.str.contains("generator gradient")]
    assert len(gap) == 3 and set(gap.verdict) == {"contradicted"}  # the G update needs no second order
    faster = costs.evaluate_claims(cost_rows(gran_seconds=0.5), min_n=3)
    assert set(faster[faster.setting.str.contains("seconds")].verdict) == {"contradicted"}

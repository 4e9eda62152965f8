import pandas as pd
import pytest

from granlib.study.ledger.images.pilot import NoLengthError, choose_length, pilot_figure, read_pilot_curves


def pilot(curve_of) -> pd.DataFrame:
    return pd.DataFrame([{"method": m, "loss": "ns", "seed": s, "step": step, "fd": curve_of(m, step) + s,
                          "metric": "FD-EffNetLite0", "dataset": "CIFAR-10 (JPEG-q75 copy)", "n_fake": 250,
                          "n_real": 250, "ngf": 64, "ndf": 8, "batch_size": 32}
                         for m in ("none", "sn", "gran") for s in (0, 1) for step in range(1000, 12_001, 1000)])


def test_the_study_length_is_where_every_pilot_curve_has_flattened():
    flat_early = pilot(lambda m, step: 100 + 1e6 / step**1.5)  # within 5 % of its minimum from 10k on
    assert choose_length(flat_early) == 10_000
    still_falling = pilot(lambda m, step: 400 - 0.02 * step if m == "sn" else 100.0)
    assert choose_length(still_falling) == 12_000
    rising = pilot(lambda m, step: 100 + 0.02 * step if m == "gran" else 100.0)  # its minimum is at the start
    with pytest.raises(NoLengthError, match=r"no length among \[10000, 11000, 12000\]"):
        choose_length(rising)
    assert choose_length(read_pilot_curves()) == 10_000  # the committed study's length, chosen by this rule
    figure = pilot_figure(flat_early, chosen=10_000)
    assert figure.axes[0].get_xlabel() == "generator iterations" and "SNGAN" in str(
        [t.get_text() for t in figure.axes[0].get_legend().get_texts()])

import pandas as pd
import pytest

from granlib.normalizers import default_K
from granlib.study.ledger.images.claims import evaluate_claims
from granlib.study.ledger.images.protocol import METHODS


def synthetic_rows(gran_fd: float, seeds: int = 5, diverged: float | None = None) -> pd.DataFrame:
    rows = []
    for method in METHODS:
        normalizer, _, loss = method.partition("/")
        for seed in range(seeds):
            fd = gran_fd if normalizer == "gran" else 300.0
            if diverged is not None and normalizer == "gran" and seed == seeds - 1:
                fd = diverged  # one seed of GraN diverged
            rows.append({"dataset": "CIFAR-10 (JPEG-q75 copy)", "dataset_key": "cifar10", "ndf": 16,
                         "method": normalizer, "loss": loss, "K": default_K(normalizer), "seed": seed,
                         "fd": fd + seed, "train_seconds": 1.0, "jump_share": 0.5, "fd_above_K[real]": 0.0})
    return pd.DataFrame(rows)


def test_image_verdicts_follow_the_fd_under_holm_and_need_five_seeds():
    table = evaluate_claims(synthetic_rows(gran_fd=200.0), min_n=5)
    p4 = table[table.claim == "P4"]
    assert len(p4) == 4 and set(p4.verdict) == {"supported"}  # every baseline's FD above GraN's
    assert set(table[table.claim == "C1"].verdict) == {"contradicted"}  # GraN beat the penalty here
    assert p4.measurement.str.contains("Holm-adjusted over 6").all()  # P4 ×4 and C1 ×2: one family
    assert "SNGAN − GraND-GAN, K=0.1" in " ".join(p4.setting) and "sn/ns" not in " ".join(table.setting)
    worse = evaluate_claims(synthetic_rows(gran_fd=400.0), min_n=5)
    assert set(worse[worse.claim == "P4"].verdict) == {"contradicted"}
    assert set(evaluate_claims(synthetic_rows(200.0, seeds=4), min_n=5).verdict) == {"pending"}


def test_every_verdict_names_the_d_width_it_holds_at():
    table = evaluate_claims(synthetic_rows(gran_fd=200.0), min_n=5)
    assert table.setting.str.startswith("CIFAR-10 (JPEG-q75 copy), D width 16; ").all()
    bf16 = evaluate_claims(synthetic_rows(gran_fd=200.0).assign(precision="bf16"), min_n=5)
    assert bf16.setting.str.startswith("CIFAR-10 (JPEG-q75 copy), D width 16, bf16; ").all()


def test_rows_of_two_widths_or_precisions_are_never_judged_together():
    rows = synthetic_rows(gran_fd=200.0).assign(precision="fp32")
    for column, other in (("ndf", 8), ("precision", "bf16")):
        mixed = rows.copy()
        mixed.loc[mixed.seed == 0, column] = other  # one seed of every method at the other setting
        with pytest.raises(ValueError, match=column):
            evaluate_claims(mixed, min_n=5)


def test_one_diverged_seed_leaves_a_comparison_undecided_and_the_rank_test_says_so():
    table = evaluate_claims(synthetic_rows(gran_fd=200.0, diverged=2000.0), min_n=5)
    p4 = table[(table.claim == "P4") & table.setting.str.contains("D width 16; SNGAN")]
    assert p4.verdict.tolist() == ["inconclusive"]  # Welch's interval is swamped by the diverged seed
    assert "Mann–Whitney" in p4.measurement.iloc[0]


def test_the_floored_forms_comparisons_are_a_family_of_their_own_and_leave_the_papers_unchanged():
    floor = synthetic_rows(gran_fd=400.0).query("method == 'gran' and loss == 'ns'").assign(
        method="gran_floor", fd=lambda r: r.fd - 250.0)  # FD 150-154: better than GraN (400) and SNGAN (300)
    rows = pd.concat([synthetic_rows(gran_fd=400.0), floor], ignore_index=True)
    paper = evaluate_claims(synthetic_rows(gran_fd=400.0), min_n=5)
    both = evaluate_claims(rows, min_n=5, methods=(*METHODS, "gran_floor/ns"))
    ours = both[both.claim.isin(["F1", "F2"])]
    assert list(ours.claim) == ["F1", "F2"] and set(ours.verdict) == {"supported"}
    assert ours.measurement.str.contains("Holm-adjusted over 2").all()  # its own family of two
    assert "GraND-GAN, K=0.1 − GraND-GAN, floored n (ours), K=0.1" in ours.setting.iloc[0]
    unchanged = both[~both.claim.isin(["F1", "F2"])].reset_index(drop=True)
    assert unchanged.equals(paper.reset_index(drop=True))  # the paper's family keeps its size and verdicts
    assert not evaluate_claims(rows, min_n=5).claim.isin(["F1", "F2"]).any()  # only where the profile trains it

"""The claims ledger at image scale: CIFAR-10 (the JPEG-q75 copy) with the standard CNN at a size a 2-core CPU trains
far enough to learn, the paper's six methods at one budget, verdicts computed by a rule fixed before the runs.

**Protocol** (profile ``cpu``): GraND-GAN, GraNC-GAN, SNGAN, WGAN-GP, GN-GAN and no normalisation, and the floored form
of ours (``gran_floor``, R(max(n, √ε)); not the paper's), each normaliser at its default K, 5 seeds; GN-GAN's CNN
settings (n_dis = 1, Adam 2e-4 (0, 0.9), linear decay to 0) on the standard CNN of the published code (N(0, 0.02) init)
at G/D base widths 64/8, batch 32 for D and G, and the length the pilot chose (``pilot`` profile: none, SNGAN, GraND-GAN
at 2 seeds with FD every 1 000 iterations; :func:`pilot_curves`). EMA-G with the published decay 0.999 from the first
iteration: after n iterations the initial weights keep a share 0.999ⁿ of EMA-G (< 1 % once n ≥ 4 603;
:func:`ema_initial_share`). Profile ``regime16``: the same protocol, methods and length at D base width 16, the smallest
width at which GraND-GAN learned in the regime map (:mod:`granlib.study.ledger.regime`).

**A row** per run: full provenance (:mod:`granlib.study.pipeline.results`), FD-EffNetLite0 (a proxy, never FID), IS
and KID of EMA-G against held-out test images; the same FD of the raw G; for seed 0 of each method a second FD of
EMA-G from a disjoint noise stream (the estimate's own noise); the per-image pixel standard deviation of EMA-G's
samples and of real images (flat samples show at once); and the trained D measured in float64
(:func:`granlib.study.instruments.measurements.measure_discriminator`): ‖∇ₓD‖ and finite-difference slopes at real,
generated, interpolated and uniform-noise images (P1, P3), the layers' spectral norms against the measured slope (P2,
power iteration seeded by the run's seed) and, for D built on ∇ₓf, jumps along real→generated segments (C3).
Each run's last sample grid is kept under ``samples/`` beside the rows.

**Verdicts**: the bound claims by :data:`granlib.study.ledger.verdicts.RULE`; the FD comparisons (P4 ×4, C1 ×2; P7
where the profile trains the ablation) as one family by :data:`granlib.study.ledger.verdicts.FAMILY_RULE` (Welch and
Mann–Whitney, Holm-adjusted over the family); the floored form of ours (``gran_floor``, where a profile trains it)
against GraN and SNGAN (F1, F2) as a family of its own, so the paper's six keep theirs.

Run ``python -m granlib.study.ledger.images --profile smoke|pilot|cpu|regime16|gpu [--shard i/n]`` (profiles:
``params/ledger/images.yaml``): trains what is missing
(resumable: a finished run is evaluated, an unfinished one resumed, a row that exists skipped), in protocol order
(every method of seed 0, then seed 1, …, so a study cut short leaves whole seeds); ``--shard i/n`` takes every n-th
run from the i-th, so n processes share the plan; one process per shard (a second is refused, naming the first).
``--plan`` prints the plan and its time estimate without training; ``--collect`` copies the probe logs of every run
with a row into ``train_curves.jsonl`` beside the rows (run directories are not in git).

The package, by concern: :mod:`.protocol` (profiles, plan, estimate, the training loop), :mod:`.measures` (what a
row adds per run), :mod:`.pilot` (the length rule and its curves), :mod:`.claims` (verdicts), :mod:`.report`
(summary, figures, findings, the rendered ledger), :mod:`.curves` (D on the probes during training, against the
Lipschitz ceiling); ``__main__`` is the command line. Rows are read with
:func:`granlib.study.pipeline.results.load_rows` (``load_rows(rows_path(p), profile=row_profile(p))``).
"""

from granlib.study.ledger.images.claims import IMAGE_RULE, evaluate_claims, group
from granlib.study.ledger.images.curves import (
    collect_train_curves,
    curves_path,
    gap_figure,
    lipschitz_gap_ceiling,
    load_train_curves,
)
from granlib.study.ledger.images.measures import (
    COLLAPSE_RATIO,
    ema_initial_share,
    grid_pixel_std,
    measure_run,
    pixel_std,
    train_seconds,
)
from granlib.study.ledger.images.pilot import (
    NoLengthError,
    choose_length,
    pilot_curves,
    pilot_curves_path,
    pilot_figure,
    read_pilot_curves,
    save_pilot_curves,
)
from granlib.study.ledger.images.protocol import (
    DATASET,
    METHODS,
    ROWS_FILE,
    d_width,
    estimated,
    measured_runs,
    methods_of,
    plan,
    profiles,
    row_profile,
    rows_path,
    run_study,
    study_params,
)
from granlib.study.ledger.images.report import (
    describe,
    fd_figure,
    fd_noise,
    findings,
    method_summary,
    reference_caption,
    render_ledger,
    row_samples,
    samples_panel,
    seed_markdown,
    seed_table,
)

__all__ = ["COLLAPSE_RATIO", "DATASET", "IMAGE_RULE", "METHODS", "ROWS_FILE", "choose_length", "collect_train_curves",
           "curves_path", "d_width", "describe", "ema_initial_share", "estimated", "evaluate_claims",
           "fd_figure", "fd_noise", "findings", "gap_figure", "grid_pixel_std", "group", "lipschitz_gap_ceiling",
           "load_train_curves", "measure_run", "measured_runs", "method_summary", "methods_of", "NoLengthError",
           "pilot_curves", "pilot_curves_path", "pilot_figure", "pixel_std", "plan", "profiles", "read_pilot_curves",
           "reference_caption", "render_ledger", "row_profile", "row_samples", "rows_path", "run_study",
           "samples_panel", "save_pilot_curves", "seed_markdown", "seed_table", "study_params", "train_seconds"]

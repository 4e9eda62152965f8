"""The claims ledger: each claim about GraN (from the paper and from its critics) with its source, the experiment
that tests it, the measured evidence and a verdict computed from the rows by a rule fixed before the runs. The
statistics (:mod:`.statistics`), the verdict rule (:mod:`.verdicts`), the claims and their ledger rows
(:mod:`.claims`), the rendered table (:mod:`.render`), the figures (:mod:`.figures`), the studies' profiles
(:mod:`.profiles`, read from ``params/ledger/``), notebook 40's set-up (:mod:`.notebook`), and the four studies,
each a ``python -m`` command: 2-D mixtures (:mod:`.mixtures`), images (the package :mod:`.images`, by concern), the
cost per step (:mod:`.costs`) and the regime map (:mod:`.regime`, its rule :mod:`.regime_rule` and figures
:mod:`.regime_figures`).

May import ``study.instruments`` and ``study.pipeline``, the top-level modules, ``models``, ``training`` and
``evaluation``; never ``bench``.
"""

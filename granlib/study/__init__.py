"""Studies: what the notebooks call. Profiles and runs per (dataset, method, seed) with their result rows,
the runner behind ``./run_all.sh``, result tables beside published anchors, plots, the 2-D toy problems and the
Lipschitz measurements, and the claims ledger (2-D mixtures, images, cost per step).

May import everything below it (top-level modules, ``evaluation``, ``training``); never ``bench``.
"""

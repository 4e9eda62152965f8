"""Studies: what the notebooks and the study commands call, in three rooms.

* ``instruments``: what measures — the 2-D toy problems and mixtures, the one 2-D GAN trainer, the Lipschitz
  measurements and those of a trained discriminator, the named seed streams of a study run;
* ``pipeline``: the notebooks' pipeline — profiles, runs per (dataset, method, seed) with their result rows, tables
  beside published anchors, figures, the runner behind ``./run_all.sh`` and the slots that fill a table;
* ``ledger``: the claims ledger — the statistics and verdict rule, the claims, and its three studies (2-D mixtures,
  images, cost per step) with their profiles (``params/ledger/``).

Layering: instruments import neither pipeline nor ledger; pipeline may import instruments; ledger may import both.
Every room may import everything below study (top-level modules, ``evaluation``, ``training``); never ``bench``.
"""

"""The notebooks' pipeline: profiles (``params/*.yaml``) and their schema, one run per (dataset, method, loss, K,
seed) with its provenance-complete result row, the row store, tables beside published anchors, figures, the
explorer of notebook 01, the runner behind ``./run_all.sh`` and the slots that fill a table inside a time budget.

The explorer lives here, not with the instruments: it is an interactive view of a notebook, drawn with the
pipeline's figure conventions (the smoke stamp) and the paper's method names of the result tables, and the runner
reads its Jupyter-session variable.

May import ``study.instruments``, the top-level modules, ``models``, ``training`` and ``evaluation``; never
``study.ledger`` or ``bench``.
"""

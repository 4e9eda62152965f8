"""Benchmarks: training speed per path (``python -m granlib.bench``, :mod:`granlib.bench.speed`), metric speed
(:mod:`granlib.bench.metrics_speed`), the proxy extractor's CPU paths side by side
(:mod:`granlib.bench.proxy_speed`), fast-vs-reference quality (:mod:`granlib.bench.quality`) and a timed
full-length run (:mod:`granlib.bench.long_run`). Each writes JSON with its device, date and git commit.

May import everything else in granlib; nothing imports it.
"""

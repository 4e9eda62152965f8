"""``python -m granlib.bench``: the training-speed benchmark (:mod:`granlib.bench.speed`)."""

from granlib.bench.speed import main

main()

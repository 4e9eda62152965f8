"""``python -m granlib.training --config cfg.yaml --run-dir runs/x`` (see :mod:`granlib.training.cli`)."""

from granlib.training.cli import main

main()

#!/usr/bin/env bash
# Regenerate every figure and table: runs the numbered notebooks headlessly with papermill.
# Sets itself up on a fresh machine (scripts/ensure_env.sh); --help prints the options without setting up.
set -euo pipefail
cd "$(dirname "$0")"
usage() {
  cat <<'TEXT'
usage: ./run_all.sh [--profile NAME] [--only PATTERN] [--device cpu|cuda|auto]
       ./run_all.sh --lab [JUPYTER LAB OPTIONS]
       ./run_all.sh --unpack ARCHIVE

Executes the numbered notebooks headlessly (papermill); executed copies go to results/executed/<profile>/,
logs to results/logs/<profile>/. Stops at the first failing notebook, naming it.

  --profile NAME    smoke (default: offline, tiny, CPU, minutes; stamped "smoke - not a result")
                    | quick (~1 GPU-hour on CIFAR-10) | paper (the full protocol; prints its GPU time first)
                    | a path to a params/*.yaml file
  --only PATTERN    run only notebooks whose name matches (glob or substring), e.g. '1*_train_*'
  --device DEVICE   override the profile's device (cpu, cuda, auto); without a GPU, a GPU profile is refused
                    with its CPU-time estimate unless --device cpu
  --lab             start JupyterLab on the project (the file browser opens in notebooks/; results/ is one click
                    away) with the "Python (granlib)" kernel instead
  --unpack ARCHIVE  unpack the CIFAR-10 JPEG copy (cifar10-jpeg.tar.gz) into data/ and check its images
  -h, --help        this text (installs nothing)

The first call sets up .venv (or finishes an interrupted set-up); see scripts/ensure_env.sh.
TEXT
}
for arg in "$@"; do
  case "$arg" in -h|--help) usage; exit 0 ;; esac
done
source scripts/ensure_env.sh
if [ "${1:-}" = "--lab" ]; then
  shift
  # served from the project root, so results/ (README, figures, tables) sits beside notebooks/ in the file browser
  exec "$PY" -m jupyter lab --ServerApp.root_dir=. --LabApp.default_url=/lab/tree/notebooks "$@"
fi
if [ "${1:-}" = "--unpack" ]; then
  shift
  exec "$PY" -m granlib.data unpack "$@"
fi
exec "$PY" -m granlib.study.pipeline.runner "$@"

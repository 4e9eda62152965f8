#!/usr/bin/env bash
# Regenerate every figure and table: runs the numbered notebooks headlessly with papermill.
#   ./run_all.sh                      smoke profile: offline, tiny, CPU, minutes (stamped "smoke — not a result")
#   ./run_all.sh --profile quick      ~1 GPU-hour on CIFAR-10
#   ./run_all.sh --profile paper      the full protocol (prints its estimated GPU time first)
#   ./run_all.sh --only '1*_train_*' --device cuda
# Sets itself up on a fresh machine (scripts/ensure_env.sh). --help lists the options.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/ensure_env.sh
exec "$PY" -m granlib.runner "$@"

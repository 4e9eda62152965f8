#!/usr/bin/env bash
# The test suite. Sets itself up on a fresh machine (see scripts/ensure_env.sh), then runs pytest.
# Extra arguments go to pytest, e.g. ./run_tests.sh -k gran -x
set -euo pipefail
cd "$(dirname "$0")"
source scripts/ensure_env.sh
exec "$PY" -m pytest "$@"

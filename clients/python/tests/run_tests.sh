#!/usr/bin/env bash
# CTest driver of the Python client's tests: unit tests and the integration tests against a
# real serve on the demo data (needs the local stack), under coverage; fails below 90%.
#   run_tests.sh VENV_PYTHON POSTGRES_SERVICE_BINARY
set -euo pipefail
PYTHON=$1
export PSVC_BINARY=$2
HERE=$(cd "$(dirname "$0")" && pwd)
: "${PSVC_ADMIN_DATABASE_URL:?start the stack: eval \"\$(scripts/stack env)\"}"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export COVERAGE_FILE=$WORK/coverage
cd "$WORK"  # so the installed package is imported, never a source folder
"$PYTHON" -m coverage run --branch --source=postgres_graph_client --omit='*/_generated/*' \
  -m unittest discover -s "$HERE" -p 'test_*.py' -v
"$PYTHON" -m coverage report --show-missing --fail-under=90

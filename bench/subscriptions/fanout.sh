#!/usr/bin/env bash
# Subscription fan-out alone: graphql_test_server (demo data, subscriptions fed by POST
# /test/change instead of the change feed), N graphql-ws subscribers, changes posted one at a
# time; change posted -> delivered percentiles, beside LISTEN/NOTIFY on the stack's database.
#   bench/subscriptions/fanout.sh <build dir> [subscribers] [changes]
# Needs the local stack (eval "$(scripts/stack env)") and scripts/bootstrap --npm.
set -euo pipefail
BUILD=${1:?build dir}; SUBS=${2:-1000}; CHANGES=${3:-100}
: "${PSVC_ADMIN_DATABASE_URL:?eval \"\$(scripts/stack env)\" first}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d); SERVER=
cleanup() { [[ -n $SERVER ]] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
echo "== $(date -u '+%Y-%m-%d %H:%M') UTC, load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores, $SUBS subscribers, $CHANGES changes"
"$BUILD/src/graphql_api/graphql_test_server" > "$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 300); do grep -q "listening on" "$WORK/server.log" && break; sleep 0.1; done
PORT=$(sed -n 's/listening on \([0-9]*\)/\1/p' "$WORK/server.log")
PSVC_BENCH_TRIGGER=post PSVC_BENCH_ANIME=de0a0000-0000-4000-8000-000000000003 \
  node "$ROOT/bench/subscriptions/subscribers.mjs" "http://127.0.0.1:$PORT/graphql" \
  "$PSVC_ADMIN_DATABASE_URL" "$SUBS" "$CHANGES"

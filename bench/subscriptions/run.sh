#!/usr/bin/env bash
# GraphQL subscriptions: N subscribers (graphql-ws clients, one WebSocket connection each) on
# one serve replica, a series of committed changes (updateAnime over HTTP, one at a time),
# change -> delivered latency percentiles over every (change, subscriber) pair; beside it the
# floor PostgreSQL itself gives: the same changes announced by NOTIFY in the writing
# transaction, received by LISTEN connections. Fresh database of 1,000 anime.
#   bench/subscriptions/run.sh <build dir> [subscribers] [changes] [http port]
# Needs the local stack (eval "$(scripts/stack env)") and scripts/bootstrap --npm (tests/js
# for graphql-ws and ws, bench/graphql_api for pg). PSVC_BENCH_SHARED=0 gives every
# subscriber its own document (no shared execution: one execution per subscriber per change).
# PSVC_BENCH_CLIENT=raw speaks the protocol over bare ws sockets; with it,
# PSVC_BENCH_CLIENT_THREADS=N spreads the subscribers over N worker threads of the client.
set -euo pipefail
BUILD=${1:?build dir}; SUBS=${2:-1000}; CHANGES=${3:-100}; PORT=${4:-27400}
: "${PSVC_ADMIN_DATABASE_URL:?eval \"\$(scripts/stack env)\" first}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$BUILD/src/cli/postgres-service
source "$ROOT/bench/lib.sh"
echo "== $(date -u '+%Y-%m-%d %H:%M') UTC, load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores, $SUBS subscribers, $CHANGES changes"

bench_thousand_anime psvc_subs_bench
q() { psql "$DB" -XAtc "$1"; }

"$BIN" serve --database-url "$DB" --http-port "$PORT" --grpc-address 127.0.0.1:$((PORT + 1)) \
  --ws-max-connections $((SUBS + 100)) --log-level warn > "$WORK/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 100); do grep -q "HTTP on" "$WORK/serve.log" && break; sleep 0.1; done
ulimit -n 65536 2>/dev/null || true
node "$ROOT/bench/subscriptions/subscribers.mjs" "http://127.0.0.1:$PORT/graphql" "$DB" "$SUBS" "$CHANGES"
curl -s "http://127.0.0.1:$PORT/metrics" > "$WORK/metrics.txt"
echo "-- serve: $(grep -E '^psvc_graphql_subscription_(executions|deliveries)_total|^psvc_graphql_ws_slow|^psvc_changes_(polls|batches)_total' "$WORK/metrics.txt" | tr '\n' ' ')"
echo "-- serve, server side (histogram buckets, interpolated):"
python3 "$ROOT/bench/subscriptions/server_quantiles.py" psvc_changes_delivery_seconds \
  psvc_graphql_subscription_delivery_seconds psvc_graphql_subscription_send_seconds < "$WORK/metrics.txt"

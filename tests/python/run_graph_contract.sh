#!/usr/bin/env bash
# CTest driver for graph_contract_test.py: a fresh database with the fixture, the real
# service on free ports, stubs generated from proto/ by protoc + grpc_python_plugin.
# GRAPH_ENGINE=memory serves with --graph-engine memory (and waits until memory answers).
set -euo pipefail
BIN=$1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
: "${PSVC_ADMIN_DATABASE_URL:?start the stack: eval \"\$(scripts/stack env)\"}"
DB=psvc_test_pycontract_$$
URL=${PSVC_ADMIN_DATABASE_URL%/*}/$DB
WORK=$(mktemp -d)
SERVICE_PID=
cleanup() {
  [[ -n $SERVICE_PID ]] && kill "$SERVICE_PID" 2>/dev/null && wait "$SERVICE_PID" 2>/dev/null || true
  psql "$PSVC_ADMIN_DATABASE_URL" -X -q -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

psql "$PSVC_ADMIN_DATABASE_URL" -X -q -c "CREATE DATABASE $DB"
"$BIN" migrate --database-url "$URL" >/dev/null
psql "$URL" -X -q -v ON_ERROR_STOP=1 -f "$ROOT/tests/python/graph_fixture.sql"

protoc -I "$ROOT/proto" --python_out="$WORK" --grpc_python_out="$WORK" \
  --plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin \
  "$ROOT/proto/anime/graph/v1/graph_service.proto"
touch "$WORK/anime/__init__.py" "$WORK/anime/graph/__init__.py" "$WORK/anime/graph/v1/__init__.py"

# Served as the least-privileged role, as in production.
ENGINE=${GRAPH_ENGINE:-sql}
env -u NATS_URL "$BIN" serve --database-url "${URL/psvc_owner@/psvc_app@}" --grpc-address 127.0.0.1:0 --http-port 0 \
  --graph-engine "$ENGINE" >"$WORK/serve.log" 2>&1 &
SERVICE_PID=$!
for _ in $(seq 1 100); do
  grep -q "gRPC on" "$WORK/serve.log" && break
  kill -0 "$SERVICE_PID" 2>/dev/null || { cat "$WORK/serve.log"; exit 1; }
  sleep 0.1
done
ADDRESS=$(sed -n 's/.*gRPC on \([0-9.]*:[0-9]*\).*/\1/p' "$WORK/serve.log" | head -1)
[[ -n $ADDRESS ]] || { cat "$WORK/serve.log"; exit 1; }

HTTP_URL=$(sed -n 's/.*HTTP on \(http:\/\/[0-9.]*:[0-9]*\).*/\1/p' "$WORK/serve.log" | head -1)
# /readyz names the engine that answers (X-Graph-Engine); the memory graph loads in the
# background, SQL answering until then.
for _ in $(seq 1 100); do
  curl -s -D - -o /dev/null "$HTTP_URL/readyz" | grep -qi "^x-graph-engine: $ENGINE;" && break
  sleep 0.1
done
curl -s -D - -o /dev/null "$HTTP_URL/readyz" | grep -qi "^x-graph-engine: $ENGINE;" ||
  { echo "/readyz never named the $ENGINE engine"; curl -s -D - "$HTTP_URL/readyz"; cat "$WORK/serve.log"; exit 1; }
GRAPH_ENGINE=$ENGINE HTTP_URL=$HTTP_URL GRPC_ADDRESS=$ADDRESS GRPC_STUBS_DIR=$WORK /usr/bin/python3 "$ROOT/tests/python/graph_contract_test.py"

# Last: SIGTERM under load. The service must answer what it accepted and exit 0.
SERVICE_PID=$SERVICE_PID GRPC_ADDRESS=$ADDRESS GRPC_STUBS_DIR=$WORK \
  /usr/bin/python3 "$ROOT/tests/python/graceful_shutdown_test.py"
set +e
wait "$SERVICE_PID"
status=$?
set -e
SERVICE_PID=
if [[ $status -ne 0 ]]; then
  echo "service exited with status $status after SIGTERM (expected 0)"; cat "$WORK/serve.log" | tail -20; exit 1
fi
echo "service exited 0 after SIGTERM"

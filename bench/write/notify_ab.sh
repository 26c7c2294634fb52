#!/usr/bin/env bash
# What the outbox's wake-up costs writers: PostgreSQL serialises the commits of transactions
# that NOTIFY. pgbench at 32 clients, one outbox row per transaction, on three databases in the
# same run, alternating:
#   every   - a NOTIFY in every writing transaction (the trigger before migration 0021)
#   gated   - the schema as migrated (0021: only the transaction holding the gate notifies)
#   none    - no trigger at all (the ceiling)
#   bench/write/notify_ab.sh <build dir> [seconds] [rounds] [clients]
# Needs the local stack (eval "$(scripts/stack env)").
set -euo pipefail
BUILD=${1:?build dir}; SECS=${2:-6}; ROUNDS=${3:-3}; CLIENTS=${4:-32}
: "${PSVC_ADMIN_DATABASE_URL:?eval \"\$(scripts/stack env)\" first}"
BIN=$BUILD/src/cli/postgres-service
BASE=${PSVC_ADMIN_DATABASE_URL%/*}
WORK=$(mktemp -d)
NAMES=()
cleanup() {
  for n in "${NAMES[@]}"; do
    psql "$PSVC_ADMIN_DATABASE_URL" -Xqc "DROP DATABASE IF EXISTS $n WITH (FORCE)" >/dev/null 2>&1
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
for kind in every gated none; do
  name=psvc_notify_${kind}_$$
  NAMES+=("$name")
  psql "$PSVC_ADMIN_DATABASE_URL" -Xqc "CREATE DATABASE $name" >/dev/null
  "$BIN" migrate --database-url "$BASE/$name" >/dev/null 2>&1
done
psql "$BASE/psvc_notify_every_$$" -Xq >/dev/null <<'SQL'
DROP TRIGGER qdrant_outbox_notify ON qdrant_outbox;
CREATE FUNCTION notify_every_transaction() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('qdrant_outbox', '');
  RETURN NULL;
END $$;
CREATE TRIGGER qdrant_outbox_notify AFTER INSERT ON qdrant_outbox
  FOR EACH STATEMENT EXECUTE FUNCTION notify_every_transaction();
SQL
psql "$BASE/psvc_notify_none_$$" -Xqc "DROP TRIGGER qdrant_outbox_notify ON qdrant_outbox"
cat > "$WORK/insert.sql" <<'SQL'
INSERT INTO qdrant_outbox (aggregate_id, event_type, payload)
VALUES (gen_random_uuid(), 'AnimeUpdated', convert_to('{"schema":1}', 'UTF8'));
SQL
echo "== $(date -u '+%Y-%m-%d %H:%M') UTC, load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores, $CLIENTS clients, ${SECS}s per run"
for round in $(seq "$ROUNDS"); do
  for kind in every gated none; do
    pgbench -n -c"$CLIENTS" -j2 -T"$SECS" -f "$WORK/insert.sql" "$BASE/psvc_notify_${kind}_$$" \
      > "$WORK/out" 2>&1
    printf 'round %d  %-6s %8.0f commits/s  mean latency %s ms\n' "$round" "$kind" \
      "$(awk '/^tps/ {print $3}' "$WORK/out")" "$(awk '/latency average/ {print $4}' "$WORK/out")"
  done
done
echo "== load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

#!/usr/bin/env bash
# Page views: GraphQL recordView through a real serve (wrk, 32 connections) on one anime and
# over 1,000 anime, beside the per-view UPDATE it replaced sent straight through libpq
# (pgbench, 32 clients), in the same run on a fresh database of 1,000 anime. Reports views/s,
# latency percentiles and WAL bytes per view (pg_current_wal_lsn before and after, the last
# flush included) and serve's CPU time per request, then GET /healthz on the same server (the
# HTTP path alone, no GraphQL: the floor a recordView sits on), then typeahead latency alone and
# while views run. Load average at the start and the end: the machine may be shared.
#   bench/views/run.sh <build dir> [seconds] [http port]
# Needs the local stack (eval "$(scripts/stack env)"). PSVC_BENCH_HTTP_THREADS (default 4),
# PSVC_BENCH_FLUSH_MS (serve's --view-flush-ms, default 1000). PSVC_BENCH_JSON=FILE: also
# append each measurement to FILE as a JSON line (bench/lib.sh).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
BUILD=${1:?build dir}; SECS=${2:-10}; PORT=${3:-57301}
HTTP_THREADS=${PSVC_BENCH_HTTP_THREADS:-4}
FLUSH_MS=${PSVC_BENCH_FLUSH_MS:-1000}
: "${PSVC_ADMIN_DATABASE_URL:?eval \"\$(scripts/stack env)\" first}"
BIN=$BUILD/src/cli/postgres-service
echo "== $(date -u '+%Y-%m-%d %H:%M') UTC, load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores, HTTP threads $HTTP_THREADS, flush every ${FLUSH_MS} ms, ${SECS}s per run"

bench_thousand_anime psvc_views_bench
q() { psql "$DB" -XAtc "$1"; }
ONE=00000000-0000-4000-8000-000000000001

"$BIN" serve --database-url "$DB" --http-port "$PORT" --grpc-address 127.0.0.1:$((PORT + 1)) \
  --http-threads "$HTTP_THREADS" --view-flush-ms "$FLUSH_MS" --log-level warn > "$WORK/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 100); do grep -q "HTTP on" "$WORK/serve.log" && break; sleep 0.1; done
URL=http://127.0.0.1:$PORT/graphql

cat > "$WORK/one.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"query":"mutation { recordView(animeId: \\"ONE\\") { viewCount } }"}'
LUA
sed -i "s/ONE/$ONE/" "$WORK/one.lua"
cat > "$WORK/many.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  local id = string.format("00000000-0000-4000-8000-%012x", math.random(1000))
  return wrk.format(nil, nil, nil,
    '{"query":"mutation { recordView(animeId: \\"' .. id .. '\\") { viewCount } }"}')
end
LUA
cat > "$WORK/typeahead.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  return wrk.format(nil, nil, nil,
    '{"query":"{ search(query: \\"bench show ' .. math.random(99) .. '\\", limit: 10) { matched } }"}')
end
LUA
echo "set id 1" > "$WORK/one.sql"
echo "UPDATE anime SET view_count = view_count + 1 WHERE id = '$ONE' AND merged_into IS NULL RETURNING version, view_count;" >> "$WORK/one.sql"
cat > "$WORK/many.sql" <<'SQL'
\set n random(1, 1000)
UPDATE anime SET view_count = view_count + 1 WHERE id = ('00000000-0000-4000-8000-' || lpad(to_hex(:n), 12, '0'))::uuid AND merged_into IS NULL RETURNING version, view_count;
SQL
sed -i '1d' "$WORK/one.sql"

total_views() { q "SELECT sum(view_count) FROM anime"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$SERVER/stat"; }  # utime + stime, clock ticks
pending() { curl -s "http://127.0.0.1:$PORT/metrics" | awk '$1 == "psvc_views_pending" {print $2}'; }
wal() { q "SELECT pg_current_wal_lsn()"; }
wal_diff() { q "SELECT pg_wal_lsn_diff('$2', '$1')::bigint"; }

run_wrk() {  # label script
  local v0 w0 v1 w1 c0 c1
  v0=$(total_views); w0=$(wal); c0=$(cpu_ticks)
  wrk -t2 -c32 -d"${SECS}s" --latency -s "$WORK/$2" "$URL" > "$WORK/wrk.out"
  c1=$(cpu_ticks)
  for _ in $(seq 100); do [[ $(pending) == 0 ]] && break; sleep 0.1; done
  v1=$(total_views); w1=$(wal)
  local views=$((v1 - v0)) bytes
  bytes=$(wal_diff "$w0" "$w1")
  printf '%-34s %8.0f views/s  p50 %-8s p99 %-8s WAL %6.1f bytes/view  serve CPU %5.1f us/view (%d views stored, %s non-2xx)\n' \
    "$1" "$(echo "$views / $SECS" | bc -l)" \
    "$(awk '$1 == "50%" {print $2}' "$WORK/wrk.out")" "$(awk '$1 == "99%" {print $2}' "$WORK/wrk.out")" \
    "$(echo "$bytes / $views" | bc -l)" "$(echo "($c1 - $c0) * 1000000 / $(getconf CLK_TCK) / $views" | bc -l)" \
    "$views" "$(grep -o 'Non-2xx or 3xx responses: [0-9]*' "$WORK/wrk.out" | grep -o '[0-9]*$' || echo 0)"
  bench_emit views "$3" ours 32 "$(bench_ms "$(awk '$1 == "50%" {print $2}' "$WORK/wrk.out")")" \
    "$(bench_ms "$(awk '$1 == "99%" {print $2}' "$WORK/wrk.out")")" "$(bench_div "$views" "$SECS")" \
    "\"wal_bytes_per_view\":$(bench_div "$bytes" "$views")"
}
run_healthz() {  # the same server's HTTP path without GraphQL or the counter
  local c0 c1 n
  c0=$(cpu_ticks)
  wrk -t2 -c32 -d"${SECS}s" --latency "http://127.0.0.1:$PORT/healthz" > "$WORK/wrk.out"
  c1=$(cpu_ticks)
  n=$(awk '/requests in/ {print $1}' "$WORK/wrk.out")
  printf '%-34s %8.0f req/s    p50 %-8s p99 %-8s                        serve CPU %5.1f us/request\n' \
    "GET /healthz (HTTP path alone)" "$(echo "$n / $SECS" | bc -l)" \
    "$(awk '$1 == "50%" {print $2}' "$WORK/wrk.out")" "$(awk '$1 == "99%" {print $2}' "$WORK/wrk.out")" \
    "$(echo "($c1 - $c0) * 1000000 / $(getconf CLK_TCK) / $n" | bc -l)"
  bench_emit_wrk views healthz ours 32 "$WORK/wrk.out"
}
run_pgbench() {  # label script
  local v0 w0 w1 v1
  v0=$(total_views); w0=$(wal)
  rm -f "$WORK"/pl.*
  pgbench -n -c32 -j2 -T "$SECS" -r -f "$WORK/$2" --log --log-prefix="$WORK/pl" "$DB" > "$WORK/pgb.out" 2>&1
  v1=$(total_views); w1=$(wal)
  local views=$((v1 - v0)) bytes
  bytes=$(wal_diff "$w0" "$w1")
  printf '%-34s %8.0f views/s  mean latency %s ms  WAL %6.1f bytes/view\n' "$1" \
    "$(echo "$views / $SECS" | bc -l)" "$(awk '/latency average/ {print $4}' "$WORK/pgb.out")" \
    "$(echo "$bytes / $views" | bc -l)"
  local p50 p99
  read -r p50 p99 < <(bench_log_percentiles "$WORK"/pl.*)
  bench_emit views "$3" libpq 32 "$p50" "$p99" "$(bench_div "$views" "$SECS")" \
    "\"wal_bytes_per_view\":$(bench_div "$bytes" "$views")"
}

run_wrk "recordView, one anime" one.lua one_anime
run_healthz
run_wrk "recordView, 1,000 anime" many.lua many_anime
run_pgbench "UPDATE per view (pgbench), one anime" one.sql one_anime
run_pgbench "UPDATE per view (pgbench), 1,000" many.sql many_anime

wrk -t1 -c4 -d"${SECS}s" --latency -s "$WORK/typeahead.lua" "$URL" > "$WORK/ta.out"
echo "typeahead alone (4 conn)           p50 $(awk '$1 == "50%" {print $2}' "$WORK/ta.out") p99 $(awk '$1 == "99%" {print $2}' "$WORK/ta.out")"
bench_emit_wrk views typeahead_alone ours 4 "$WORK/ta.out"
wrk -t1 -c28 -d"${SECS}s" -s "$WORK/many.lua" "$URL" > /dev/null &
VIEWS=$!
wrk -t1 -c4 -d"${SECS}s" --latency -s "$WORK/typeahead.lua" "$URL" > "$WORK/ta.out"
wait $VIEWS
echo "typeahead while views run (4+28)   p50 $(awk '$1 == "50%" {print $2}' "$WORK/ta.out") p99 $(awk '$1 == "99%" {print $2}' "$WORK/ta.out")"
bench_emit_wrk views typeahead_with_views ours 4 "$WORK/ta.out"
echo "== load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

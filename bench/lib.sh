# Shared by the benchmark scripts (source it): machine-readable results for bench/run.
# When PSVC_BENCH_JSON names a file, each measurement is appended to it as one JSON line:
#   {"bench":B,"case":C,"mode":M,"clients":N,"p50_ms":X,"p99_ms":Y,"rate":R, ...extra}
# Without it these functions print nothing and write nothing.

# bench_emit BENCH CASE MODE CLIENTS P50_MS P99_MS RATE [EXTRA_JSON_MEMBERS]
# Empty P50/P99/RATE become null.
bench_emit() {
  [[ -n ${PSVC_BENCH_JSON:-} ]] || return 0
  local extra=${8:-}
  printf '{"bench":"%s","case":"%s","mode":"%s","clients":%s,"p50_ms":%s,"p99_ms":%s,"rate":%s%s}\n' \
    "$1" "$2" "$3" "$4" "${5:-null}" "${6:-null}" "${7:-null}" "${extra:+,$extra}" >> "$PSVC_BENCH_JSON"
}

# bench_ms VALUE: a wrk duration (950.00us, 3.09ms, 1.20s, 2.00m) in milliseconds.
bench_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
    printf "%.3f", n }'
}

# bench_emit_wrk BENCH CASE MODE CLIENTS WRK_OUTPUT_FILE: a `wrk --latency` run's p50, p99
# and requests/s (non-2xx answers as "errors").
bench_emit_wrk() {
  local out=$5 p50 p99 rate errors
  p50=$(awk '$1 == "50%" {print $2}' "$out")
  p99=$(awk '$1 == "99%" {print $2}' "$out")
  rate=$(awk '/^Requests\/sec/ {print $2}' "$out")
  errors=$(grep -o 'Non-2xx or 3xx responses: [0-9]*' "$out" | grep -o '[0-9]*$' || echo 0)
  bench_emit "$1" "$2" "$3" "$4" "${p50:+$(bench_ms "$p50")}" "${p99:+$(bench_ms "$p99")}" \
    "$rate" "\"errors\":${errors:-0}"
}

# bench_log_percentiles LOG_FILES...: "p50_ms p99_ms" from pgbench --log files (the third
# column is each transaction's latency in microseconds; the p-th percentile is the
# ceil(p * n)-th smallest).
bench_log_percentiles() {
  cat "$@" | awk '{print $3}' | sort -n |
    awk '{a[NR] = $1}
         END {
           if (NR == 0) exit
           m = int(NR * 0.5); if (m < NR * 0.5) m++; if (m < 1) m = 1
           t = int(NR * 0.99); if (t < NR * 0.99) t++; if (t < 1) t = 1
           printf "%.3f %.3f\n", a[m] / 1000, a[t] / 1000
         }'
}

# bench_div A B: A / B with three decimals (0 when B is 0), a valid JSON number.
bench_div() {
  awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b + 0 == 0) ? 0 : a / b }'
}

# bench_thousand_anime PREFIX: a fresh database of 1,000 anime for a benchmark that runs a real
# `serve` (needs BIN and PSVC_ADMIN_DATABASE_URL). Sets NAME, DB, WORK and SERVER (the caller
# stores serve's pid there) and drops the database, stops serve and removes WORK at exit.
bench_thousand_anime() {
  NAME=${1}_$$
  DB=${PSVC_ADMIN_DATABASE_URL%/*}/$NAME
  WORK=$(mktemp -d); SERVER=
  trap bench_cleanup EXIT
  psql "$PSVC_ADMIN_DATABASE_URL" -Xqc "CREATE DATABASE $NAME" >/dev/null
  "$BIN" migrate --database-url "$DB" >/dev/null
  psql "$DB" -XAtqc "INSERT INTO anime (id, title, year)
    SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, 'Bench Show ' || g,
           1990 + g % 30 FROM generate_series(1, 1000) g" >/dev/null
  psql "$DB" -XAtqc "VACUUM ANALYZE anime, search_term" >/dev/null
}

bench_cleanup() {
  [[ -n $SERVER ]] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
  psql "$PSVC_ADMIN_DATABASE_URL" -Xqc "DROP DATABASE IF EXISTS $NAME WITH (FORCE)" >/dev/null 2>&1
  rm -rf "$WORK"
}

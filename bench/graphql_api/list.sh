#!/usr/bin/env bash
# Browse benchmark on SF1 (Query.animeList): a page of 20 with studios and the top 3
# characters, page 1 beside page 1,000 (after the cursor of the 20,000th row) of the same
# filtered list (yearMin: 1990, 26,651 anime at SF1), and page 1 sent as an automatic
# persisted query (hash only) beside its full text. wrk at 32 connections against graphql_test_server.
#   bench/graphql_api/list.sh <build dir> <database url (SF1, migrations applied)> [seconds]
set -euo pipefail
BUILD=${1:?build dir}; DB=${2:?database url}; SECS=${3:-10}
WORK=$(mktemp -d); SERVER=
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
echo "== $(date -u '+%Y-%m-%d %H:%M') UTC, load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"

"$BUILD/src/graphql_api/graphql_test_server" --database-url "$DB" --threads 4 --pool-size 8 > "$WORK/server.out" &
SERVER=$!
for _ in $(seq 50); do grep -q listening "$WORK/server.out" && break; sleep 0.2; done
URL=http://127.0.0.1:$(grep -o '[0-9]*$' "$WORK/server.out")/graphql

SEL='edges { cursor } nodes { id title year score studios { name } characters(first: 3) { role character { name } } } pageInfo { hasNextPage endCursor }'
FILTER='{yearMin: 1990}'
page() {  # $1: after cursor or empty -> request body
  local after=""; [[ -n $1 ]] && after=", after: \\\"$1\\\""
  printf '{"query":"{ animeList(orderBy: POPULARITY_DESC, first: 20, filter: %s%s) { %s } }"}' "$FILTER" "$after" "$SEL"
}
# The cursor of the 20,000th row (page 1,000 of 20), made as the API makes it:
# base64url("POPULARITY_DESC:<id>:<view_count>") of that row.
ROW=$(psql "$DB" -Atc "SELECT id || ':' || view_count FROM anime WHERE merged_into IS NULL AND hidden_at IS NULL AND year >= 1990 ORDER BY view_count DESC, id DESC OFFSET 19999 LIMIT 1")
AFTER=$(printf 'POPULARITY_DESC:%s' "$ROW" | base64 -w0 | tr '+/' '-_' | tr -d '=')
page "" > "$WORK/page1.json"
page "$AFTER" > "$WORK/page1000.json"
QUERY=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["query"])' "$WORK/page1.json")
HASH=$(printf '%s' "$QUERY" | sha256sum | cut -d' ' -f1)
python3 - "$WORK" "$HASH" <<'PY'
import json, sys
work, h = sys.argv[1], sys.argv[2]
q = json.load(open(work + "/page1.json"))["query"]
ext = {"persistedQuery": {"version": 1, "sha256Hash": h}}
json.dump({"query": q, "extensions": ext}, open(work + "/register.json", "w"))
json.dump({"extensions": ext}, open(work + "/apq.json", "w"))
PY
curl -s -o /dev/null -H 'Content-Type: application/json' -d @"$WORK/register.json" "$URL"
for f in page1 page1000 apq; do
  printf "%s: " "$f"; curl -s -H "Content-Type: application/json" -d @"$WORK/$f.json" "$URL" | head -c 120 || true; echo
done
for f in page1 page1000 apq; do
  printf 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nlocal f = io.open("%s"); wrk.body = f:read("*a"); f:close()\n' "$WORK/$f.json" > "$WORK/$f.lua"
  echo "== $f (wrk, 32 connections, ${SECS}s)"
  wrk -t2 -c32 -d"${SECS}s" --latency -s "$WORK/$f.lua" "$URL" > "$WORK/wrk.out" 2>&1 || true
  grep -E "50%|99%|Requests/sec|Non-2xx|rror" "$WORK/wrk.out" || cat "$WORK/wrk.out"
done

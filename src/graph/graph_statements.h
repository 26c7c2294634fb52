#pragma once
/// SQL of the graph primitives. Included by graph code and the statement check test only.

#include "db/statement.h"

namespace psvc::graph::sql {

// Neighbours of every node in a frontier, in one statement. The rules it implements are
// written in docs/graph.md ("Neighbours"); in short:
//  $1 uuid[]  frontier (its order is the output order)
//  $2 text[]  relation types to follow
//  $3 bool    SAME_STUDIO   $4 bool CO_APPEARS   $5 bool ADAPTED_FROM
//  $6 int     hub window: members on each side of the node in the hub's (year, id) order
//  $7 uuid[]  nodes to leave out (already visited)
//  $8 int     at most this many neighbours per frontier node
//  $9 bool    reverse: find the nodes that have the frontier node as a neighbour (a relation
//             type then is the one seen from that node: a path search walking backward)
// Output: src, dst, code (EdgeType value), via (hub id or NULL), ordered by frontier position,
// then rank, then closeness in year, then dst. One row per (src, dst): the edge of lowest rank
// (relation types in EdgeType order, then ADAPTED_FROM, CO_APPEARS, SAME_STUDIO), nearest
// year, smallest hub id. A relation row (A, B, t) is the edge A->B of type t and the edge
// B->A of type inverse(t); both ends see every row, so the answer is the same whichever end
// stored it.
// Anime a saga merged away or is removing (merged_into / hidden_at set) are not in the graph:
// neither expanded, returned, nor counted in a hub window. They are few (only sagas in
// flight; finished ones delete the row), so their ids are read once per call from the partial
// index anime_retired (an InitPlan) and compared as an array: per-row anti-join probes cost
// ~8% of this hot statement, this ~nothing.
inline constexpr db::Statement kNeighbors{"graph.neighbors", R"sql(
WITH retired AS MATERIALIZED (
  SELECT coalesce(array_agg(id), '{}') AS ids FROM anime
   WHERE merged_into IS NOT NULL OR hidden_at IS NOT NULL
),
f AS (
  SELECT f.id, f.ord FROM unnest($1::uuid[]) WITH ORDINALITY AS f(id, ord)
   WHERE f.id <> ALL((SELECT ids FROM retired)::uuid[])
),
cand AS (
  SELECT f.ord, f.id AS src, r.related_anime_id AS dst, x.t, 0 AS dist, NULL::uuid AS via
    FROM f JOIN anime_relation r ON r.anime_id = f.id
   CROSS JOIN LATERAL (SELECT CASE WHEN $9 THEN psvc_inverse_relation(r.relation_type)
                                   ELSE r.relation_type END AS t) x
   WHERE x.t = ANY($2::text[])
  UNION ALL
  SELECT f.ord, f.id, r.anime_id, x.t, 0, NULL::uuid
    FROM f JOIN anime_relation r ON r.related_anime_id = f.id
   CROSS JOIN LATERAL (SELECT CASE WHEN $9 THEN r.relation_type
                                   ELSE psvc_inverse_relation(r.relation_type) END AS t) x
   WHERE x.t = ANY($2::text[])
  UNION ALL
  SELECT f.ord, f.id, w.anime_id, 'SAME_STUDIO', abs(w.anime_year - s.anime_year), s.company_id
    FROM f JOIN anime_company s ON s.anime_id = f.id AND s.role = 'studio'
   CROSS JOIN LATERAL (
     (SELECT m.anime_id, m.anime_year FROM anime_company m
       WHERE m.company_id = s.company_id AND m.role = 'studio'
         AND (m.anime_year, m.anime_id) > (s.anime_year, s.anime_id)
         AND m.anime_id <> ALL((SELECT ids FROM retired)::uuid[])
       ORDER BY m.anime_year, m.anime_id LIMIT $6)
     UNION ALL
     (SELECT m.anime_id, m.anime_year FROM anime_company m
       WHERE m.company_id = s.company_id AND m.role = 'studio'
         AND (m.anime_year, m.anime_id) < (s.anime_year, s.anime_id)
         AND m.anime_id <> ALL((SELECT ids FROM retired)::uuid[])
       ORDER BY m.anime_year DESC, m.anime_id DESC LIMIT $6)
   ) w
   WHERE $3
  UNION ALL
  SELECT f.ord, f.id, w.anime_id, 'CO_APPEARS', abs(w.anime_year - s.anime_year), s.character_id
    FROM f JOIN anime_character s ON s.anime_id = f.id
   CROSS JOIN LATERAL (
     (SELECT m.anime_id, m.anime_year FROM anime_character m
       WHERE m.character_id = s.character_id
         AND (m.anime_year, m.anime_id) > (s.anime_year, s.anime_id)
         AND m.anime_id <> ALL((SELECT ids FROM retired)::uuid[])
       ORDER BY m.anime_year, m.anime_id LIMIT $6)
     UNION ALL
     (SELECT m.anime_id, m.anime_year FROM anime_character m
       WHERE m.character_id = s.character_id
         AND (m.anime_year, m.anime_id) < (s.anime_year, s.anime_id)
         AND m.anime_id <> ALL((SELECT ids FROM retired)::uuid[])
       ORDER BY m.anime_year DESC, m.anime_id DESC LIMIT $6)
   ) w
   WHERE $4
  UNION ALL
  SELECT f.ord, f.id, w.anime_id, 'ADAPTED_FROM', abs(w.anime_year - s.anime_year), s.original_work_id
    FROM f JOIN anime_original_work_relation s ON s.anime_id = f.id
   CROSS JOIN LATERAL (
     (SELECT m.anime_id, m.anime_year FROM anime_original_work_relation m
       WHERE m.original_work_id = s.original_work_id
         AND (m.anime_year, m.anime_id) > (s.anime_year, s.anime_id)
         AND m.anime_id <> ALL((SELECT ids FROM retired)::uuid[])
       ORDER BY m.anime_year, m.anime_id LIMIT $6)
     UNION ALL
     (SELECT m.anime_id, m.anime_year FROM anime_original_work_relation m
       WHERE m.original_work_id = s.original_work_id
         AND (m.anime_year, m.anime_id) < (s.anime_year, s.anime_id)
         AND m.anime_id <> ALL((SELECT ids FROM retired)::uuid[])
       ORDER BY m.anime_year DESC, m.anime_id DESC LIMIT $6)
   ) w
   WHERE $5
),
best AS (
  SELECT DISTINCT ON (ord, dst) ord, src, dst, rank, dist, via
    FROM (SELECT cand.*,
                 array_position('{SEQUEL,PREQUEL,SIDE_STORY,ALTERNATIVE,SUMMARY,FULL_STORY,CHARACTER,SPIN_OFF,ADAPTATION,OTHER,ADAPTED_FROM,CO_APPEARS,SAME_STUDIO}'::text[], t) AS rank
            FROM cand) c
   WHERE dst <> src AND dst <> ALL($7::uuid[])
     AND dst <> ALL((SELECT ids FROM retired)::uuid[])
   ORDER BY ord, dst, rank, dist, via
),
ranked AS (
  SELECT ord, src, dst, rank, dist, via,
         row_number() OVER (PARTITION BY ord ORDER BY rank, dist, dst) AS rn
    FROM best
)
SELECT src::text, dst::text, CASE rank WHEN 11 THEN 13 WHEN 13 THEN 11 ELSE rank END AS code,
       via::text
  FROM ranked
 WHERE rn <= $8
 ORDER BY ord, rank, dist, dst
)sql"};

// Which of the given ids exist (merged-away and hidden anime do not).
inline constexpr db::Statement kExisting{"graph.existing", R"sql(
SELECT id::text FROM anime WHERE id = ANY($1::uuid[]) AND merged_into IS NULL AND hidden_at IS NULL
)sql"};

// Scalars of two anime (compare); merged-away and hidden anime are not found.
inline constexpr db::Statement kCompareSummary{"graph.compare_summary", R"sql(
SELECT id::text, title, coalesce(title_english, ''), type, status, coalesce(season, ''),
       coalesce(year, 0), coalesce(episode_count, 0), coalesce(score, 0), view_count
  FROM anime WHERE id = ANY(ARRAY[$1::uuid, $2::uuid]) AND merged_into IS NULL AND hidden_at IS NULL
)sql"};

inline constexpr db::Statement kCompareCharacters{"graph.compare_characters", R"sql(
SELECT c.id::text, c.name, a.role, b.role
  FROM anime_character a
  JOIN anime_character b ON b.character_id = a.character_id AND b.anime_id = $2::uuid
  JOIN character c ON c.id = a.character_id
 WHERE a.anime_id = $1::uuid
 ORDER BY c.name, c.id
)sql"};

inline constexpr db::Statement kCompareStudios{"graph.compare_studios", R"sql(
SELECT c.id::text, c.name, a.role, b.role
  FROM anime_company a
  JOIN anime_company b ON b.company_id = a.company_id AND b.anime_id = $2::uuid AND b.role = 'studio'
  JOIN company c ON c.id = a.company_id
 WHERE a.anime_id = $1::uuid AND a.role = 'studio'
 ORDER BY c.name, c.id
)sql"};

inline constexpr db::Statement kCompareWorks{"graph.compare_works", R"sql(
SELECT w.id::text, w.title, w.kind, w.kind
  FROM anime_original_work_relation a
  JOIN anime_original_work_relation b ON b.original_work_id = a.original_work_id AND b.anime_id = $2::uuid
  JOIN original_work w ON w.id = a.original_work_id
 WHERE a.anime_id = $1::uuid
 ORDER BY w.title, w.id
)sql"};

// Relation edges from $1 to $2 as seen from $1: stored rows and inverses of stored reverse
// rows, in EdgeType order (the first is the one the other primitives report).
inline constexpr db::Statement kCompareDirect{"graph.compare_direct", R"sql(
SELECT t FROM (
  SELECT relation_type AS t FROM anime_relation WHERE anime_id = $1::uuid AND related_anime_id = $2::uuid
  UNION
  SELECT psvc_inverse_relation(relation_type) FROM anime_relation
   WHERE anime_id = $2::uuid AND related_anime_id = $1::uuid
) d
 ORDER BY array_position('{SEQUEL,PREQUEL,SIDE_STORY,ALTERNATIVE,SUMMARY,FULL_STORY,CHARACTER,SPIN_OFF,ADAPTATION,OTHER}'::text[], t)
)sql"};

inline constexpr const db::Statement* kAll[] = {
    &kNeighbors,      &kExisting,     &kCompareSummary, &kCompareCharacters,
    &kCompareStudios, &kCompareWorks, &kCompareDirect};

}  // namespace psvc::graph::sql

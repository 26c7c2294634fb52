#pragma once
/// SQL of the graph primitives. Included by graph code and the statement check test only.

#include "db/statement.h"

namespace psvc::graph::sql {

// Neighbours of every node in a frontier, in one statement.
//  $1 uuid[]  frontier (its order is the output order)
//  $2 text[]  relation types to follow (as seen from the frontier node)
//  $3 bool    SAME_STUDIO   $4 bool CO_APPEARS   $5 bool ADAPTED_FROM
//  $6 int     hub window: members on each side of the node in the hub's (year, id) order
//  $7 uuid[]  nodes to leave out (already visited)
//  $8 int     at most this many neighbours per frontier node
// Output: src, dst, code (EdgeType value), via (hub id or NULL), ordered by frontier position,
// then code, then closeness in year, then dst. One row per (src, dst): the stored relation
// row wins over an inferred inverse, then the lowest code, nearest year, smallest hub id.
// Anime a saga merged away or is removing (merged_into / hidden_at set) are neither expanded
// nor returned. They are few (only sagas in flight; finished ones delete the row), so their
// ids are read once per call from the partial index anime_retired (an InitPlan) and compared
// as an array: per-row anti-join probes cost ~8% of this hot statement, this ~nothing.
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
  SELECT f.ord, f.id AS src, r.related_anime_id AS dst,
         array_position('{SEQUEL,PREQUEL,SIDE_STORY,ALTERNATIVE,SUMMARY,FULL_STORY,CHARACTER,SPIN_OFF,ADAPTATION,OTHER}'::text[],
                        r.relation_type) AS code,
         0 AS inferred, 0 AS dist, NULL::uuid AS via
    FROM f JOIN anime_relation r ON r.anime_id = f.id
   WHERE r.relation_type = ANY($2::text[])
  UNION ALL
  SELECT f.ord, f.id, r.anime_id,
         array_position('{SEQUEL,PREQUEL,SIDE_STORY,ALTERNATIVE,SUMMARY,FULL_STORY,CHARACTER,SPIN_OFF,ADAPTATION,OTHER}'::text[],
                        psvc_inverse_relation(r.relation_type)),
         1, 0, NULL::uuid
    FROM f JOIN anime_relation r ON r.related_anime_id = f.id
   WHERE psvc_inverse_relation(r.relation_type) = ANY($2::text[])
  UNION ALL
  SELECT f.ord, f.id, w.anime_id, 11, 0, abs(w.anime_year - s.anime_year), s.company_id
    FROM f JOIN anime_company s ON s.anime_id = f.id AND s.role = 'studio'
   CROSS JOIN LATERAL (
     (SELECT m.anime_id, m.anime_year FROM anime_company m
       WHERE m.company_id = s.company_id AND m.role = 'studio'
         AND (m.anime_year, m.anime_id) > (s.anime_year, s.anime_id)
       ORDER BY m.anime_year, m.anime_id LIMIT $6)
     UNION ALL
     (SELECT m.anime_id, m.anime_year FROM anime_company m
       WHERE m.company_id = s.company_id AND m.role = 'studio'
         AND (m.anime_year, m.anime_id) < (s.anime_year, s.anime_id)
       ORDER BY m.anime_year DESC, m.anime_id DESC LIMIT $6)
   ) w
   WHERE $3
  UNION ALL
  SELECT f.ord, f.id, w.anime_id, 12, 0, abs(w.anime_year - s.anime_year), s.character_id
    FROM f JOIN anime_character s ON s.anime_id = f.id
   CROSS JOIN LATERAL (
     (SELECT m.anime_id, m.anime_year FROM anime_character m
       WHERE m.character_id = s.character_id
         AND (m.anime_year, m.anime_id) > (s.anime_year, s.anime_id)
       ORDER BY m.anime_year, m.anime_id LIMIT $6)
     UNION ALL
     (SELECT m.anime_id, m.anime_year FROM anime_character m
       WHERE m.character_id = s.character_id
         AND (m.anime_year, m.anime_id) < (s.anime_year, s.anime_id)
       ORDER BY m.anime_year DESC, m.anime_id DESC LIMIT $6)
   ) w
   WHERE $4
  UNION ALL
  SELECT f.ord, f.id, w.anime_id, 13, 0, abs(w.anime_year - s.anime_year), s.original_work_id
    FROM f JOIN anime_original_work_relation s ON s.anime_id = f.id
   CROSS JOIN LATERAL (
     (SELECT m.anime_id, m.anime_year FROM anime_original_work_relation m
       WHERE m.original_work_id = s.original_work_id
         AND (m.anime_year, m.anime_id) > (s.anime_year, s.anime_id)
       ORDER BY m.anime_year, m.anime_id LIMIT $6)
     UNION ALL
     (SELECT m.anime_id, m.anime_year FROM anime_original_work_relation m
       WHERE m.original_work_id = s.original_work_id
         AND (m.anime_year, m.anime_id) < (s.anime_year, s.anime_id)
       ORDER BY m.anime_year DESC, m.anime_id DESC LIMIT $6)
   ) w
   WHERE $5
),
best AS (
  SELECT DISTINCT ON (ord, dst) ord, src, dst, code, dist, via
    FROM cand
   WHERE dst <> src AND dst <> ALL($7::uuid[])
     AND dst <> ALL((SELECT ids FROM retired)::uuid[])
   ORDER BY ord, dst, inferred, code, dist, via
),
ranked AS (
  SELECT ord, src, dst, code, dist, via,
         row_number() OVER (PARTITION BY ord ORDER BY code, dist, dst) AS rn
    FROM best
)
SELECT src::text, dst::text, code, via::text
  FROM ranked
 WHERE rn <= $8
 ORDER BY ord, code, dist, dst
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

// Relation edges from $1 to $2 as seen from $1: stored rows and inverses of stored reverse rows.
inline constexpr db::Statement kCompareDirect{"graph.compare_direct", R"sql(
SELECT t FROM (
  SELECT relation_type AS t FROM anime_relation WHERE anime_id = $1::uuid AND related_anime_id = $2::uuid
  UNION
  SELECT psvc_inverse_relation(relation_type) FROM anime_relation
   WHERE anime_id = $2::uuid AND related_anime_id = $1::uuid
) d
 ORDER BY array_position('{SEQUEL,PREQUEL,SIDE_STORY,ALTERNATIVE,SUMMARY,FULL_STORY,CHARACTER,SPIN_OFF,ADAPTATION,OTHER}'::text[], t)
)sql"};

inline constexpr const db::Statement* kAll[] = {&kNeighbors,       &kExisting,     &kCompareSummary,
                                                &kCompareCharacters, &kCompareStudios, &kCompareWorks,
                                                &kCompareDirect};

}  // namespace psvc::graph::sql

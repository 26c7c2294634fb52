#pragma once
/// The two catalogue sagas: MergeAnime(duplicate, survivor) and RemoveAnime(id, reason).
/// The rule that makes their compensation safe next to concurrent writes is in docs/sagas.md:
/// before its point of no return a saga changes nothing a write can touch.
///
/// MergeAnime
///   0 merge (local)      checks both anime (visible, not merged); in the same transaction the
///                        AnimeMerged request of step 1. Changes no catalogue row.
///                        Compensation: emit AnimeMergeReverted (nothing to restore).
///   1 confirm (remote)   the Qdrant Sync Service confirms or refuses AnimeMerged.
///   2 finalize (local)   locks both rows, moves the duplicate's characters, companies, original
///                        works, relations (both directions, no self-relations, no doubles),
///                        pending relations, episodes (see below) and views onto the survivor,
///                        redirects duplicate -> survivor (flattening older redirects), deletes
///                        the duplicate's row, emits AnimeMergeCompleted.
///   Episodes: unique (anime_id, number). A duplicate's episode moves (same id) unless the
///   survivor has that number; then the survivor's episode is kept and the duplicate's is
///   purged with it.
///
/// RemoveAnime
///   0 hide (local)       hidden_at = now() (reads only: writes still apply); with the
///                        AnimeRemoved request of step 1.
///                        Compensation: un-hide, emit AnimeRemovalReverted.
///   1 confirm (remote)
///   2 purge (local)      tombstone (the id and ids redirected to it), delete the row.

#include "db/statement.h"
#include "saga/definition.h"

namespace psvc::saga {

inline constexpr const char* kMergeAnime = "MergeAnime";
inline constexpr const char* kRemoveAnime = "RemoveAnime";

const SagaDefinition& MergeAnimeSaga();
const SagaDefinition& RemoveAnimeSaga();

/// The SQL of both sagas, the engine and SagaStore, for the prepare-every-statement test.
db::StatementList AllStatements();

}  // namespace psvc::saga

#pragma once
/// The two catalogue sagas: MergeAnime(duplicate, survivor) and RemoveAnime(id, reason).
///
/// MergeAnime
///   0 merge (local)      snapshot, move the duplicate's characters, companies, original works,
///                        relations (both directions, no self-relations, no doubles), pending
///                        relations, episodes (see below) and views onto the survivor, mark
///                        the duplicate merged_into = survivor; in the same transaction the
///                        AnimeMerged request of step 1. Compensation: restore from the
///                        snapshot exactly, emit AnimeMergeReverted.
///   1 confirm (remote)   the Qdrant Sync Service confirms or refuses AnimeMerged.
///   2 finalize (local)   move edges that arrived meanwhile, redirect duplicate -> survivor
///                        (flattening older redirects), delete the duplicate's row.
///   Episodes: unique (anime_id, number). A duplicate's episode moves (same id) unless the
///   survivor has that number; then the survivor's episode is kept and the duplicate's is
///   purged with it at finalization.
///
/// RemoveAnime
///   0 hide (local)       hidden_at = now(); with the AnimeRemoved request of step 1.
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

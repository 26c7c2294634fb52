#pragma once
/// The one write path: validates an event and applies it, with its outbox row(s) and its
/// processed-event record, in a single transaction.

#include <chrono>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "db/error.h"
#include "db/statement.h"
#include "write/events.h"
#include "write/validate.h"

namespace psvc::db {
class Connection;
class Pool;
}  // namespace psvc::db

namespace psvc::write {

/// Pool wait and retry policy of the write path.
struct ApplierOptions {
  std::chrono::milliseconds acquire_timeout{2000};
  /// Deadlocks and serialization failures are retried this many times, then surface.
  int retries = 3;
  /// Fault injection for tests: runs after every write of the event, before COMMIT.
  std::function<void(const Event&)> before_commit;
};

/// One event of ApplyBatch: its result, or why it was not applied.
struct BatchItem {
  enum class Error { kNone, kInvalid, kNotFound, kTransient };
  std::optional<ApplyResult> result;
  Error error = Error::kNone;
  std::string message;
  /// For kInvalid/kTransient from the database: what it said, so callers can tell a row the
  /// database refuses (retrying will not help) from an outage.
  std::optional<db::ErrorKind> db_error;
};

/// Used by gRPC PostgresWriteService, the JetStream consumer and GraphQL mutations alike.
class EventApplier {
 public:
  EventApplier(db::Pool& pool, ApplierOptions options = {});

  /// Throws InvalidEvent (nothing written), AnimeNotFound (nothing written) or db::DbError.
  ApplyResult Apply(Event event);

  /// Applies events in order in ONE transaction, each under its own savepoint: each gets its
  /// own outcome, invalid ones change nothing, and the batch costs one commit. Throws
  /// db::DbError when the transaction as a whole fails (then nothing of the batch is applied).
  std::vector<BatchItem> ApplyBatch(std::vector<Event> events);

  /// Moves pending relations whose target exists into anime_relation (with outbox rows for
  /// their source anime); returns how many source anime changed. A relation written while
  /// its target was being created in a concurrent transaction is left pending by both; the
  /// server runs this every few seconds so such an edge appears shortly after, without the
  /// writers having to lock each other out.
  int MaterializeStrandedRelations();

  static db::StatementList Statements();

 private:
  /// The event's statements inside the caller's transaction (no BEGIN/COMMIT here).
  ApplyResult ApplyInTransaction(db::Connection& conn, const Event& event);

  /// AnimeEnriched events for distinct anime (`run` indexes `events`), set-based, in ~15
  /// statements whatever the run's size (a single enrichment is a run of one). Throws
  /// db::DbError with the run's writes to be rolled back by the caller's savepoint.
  void ApplyEnrichedRun(db::Connection& conn, std::span<const Event> events,
                        const std::vector<size_t>& run, std::vector<BatchItem>& items);

  /// The per-event path's deadlock guard: missing shared entities inserted in id order.
  void PreinsertSharedEntities(db::Connection& conn, const std::vector<Event>& events,
                               const std::vector<size_t>& which);

  /// One event at a time, each under its own savepoint; the path for everything that is not
  /// an enriched run, and the fallback when a run fails as a whole.
  void ApplyEachInSavepoints(db::Connection& conn, const std::vector<Event>& events,
                             const std::vector<size_t>& which, std::vector<BatchItem>& items);

  db::Pool& pool_;
  ApplierOptions options_;
};

}  // namespace psvc::write

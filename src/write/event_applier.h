#pragma once
/// The one write path: validates an event and applies it, with its outbox row(s) and its
/// processed-event record, in a single transaction.

#include <chrono>
#include <functional>

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

/// Used by gRPC PostgresWriteService, the JetStream consumer and GraphQL mutations alike.
class EventApplier {
 public:
  EventApplier(db::Pool& pool, ApplierOptions options = {});

  /// Throws InvalidEvent (nothing written), AnimeNotFound (nothing written) or db::DbError.
  ApplyResult Apply(Event event);

  static db::StatementList Statements();

 private:
  ApplyResult ApplyOnce(db::Connection& conn, const Event& event);

  db::Pool& pool_;
  ApplierOptions options_;
};

}  // namespace psvc::write

#pragma once
/// Page views counted in memory and added to the catalogue in bulk.
///
/// A view costs a map increment on this replica; every flush interval the replica adds each
/// anime's pending views to `anime.view_count` in one statement (one row update per anime,
/// not per view; the search popularity trigger follows once per anime) and writes one
/// coalesced `AnimeViewed` outbox row per anime. Totals over replicas are exact: a flush is an
/// increment, applied once: a batch whose commit outcome the replica did not learn (connection
/// lost at COMMIT, failover) is retried under the id it recorded, and a retry of a batch that
/// did commit writes nothing. Stop() flushes what is pending (SIGTERM drain); a crash (kill -9)
/// loses at most the views of the last flush interval on this replica (more while the database is
/// unreachable: failed flushes keep their views and retry).
///
/// While the database is unreachable, views of anime this replica has looked up before keep
/// counting (their last known status is trusted until a look-up succeeds again; a merge or
/// removal that happened meanwhile is resolved at the flush). Memory stays bounded: pending
/// views cost one entry per anime (a count, not a row per view), at most
/// `max_pending_anime` of them; a view of another anime beyond that is refused (kRefused)
/// rather than acknowledged and dropped. Remembered statuses are one entry per anime of the
/// catalogue viewed, and view ids at most `dedup_capacity`.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "db/statement.h"

namespace psvc::db {
class Pool;
}  // namespace psvc::db

namespace psvc::write {

/// Pacing and limits of a ViewCounter.
struct ViewCounterOptions {
  /// Pending views are written this often; also the crash-loss bound per replica.
  std::chrono::milliseconds flush_interval{1000};
  /// How long a looked-up anime (live, or merged into a survivor) is trusted without asking
  /// the database again.
  std::chrono::milliseconds status_ttl{1000};
  /// A view id seen within this window (on this replica) is not counted again.
  std::chrono::milliseconds dedup_window{std::chrono::minutes(2)};
  /// At most this many view ids are remembered; beyond it the oldest are forgotten first.
  size_t dedup_capacity = 1'000'000;
  /// At most this many distinct anime hold views not yet written. A view of an anime already
  /// pending always counts (it adds to a count); one of another anime beyond the bound is
  /// refused. Reaching the bound also starts a flush at once.
  size_t max_pending_anime = 100'000;
  std::chrono::milliseconds acquire_timeout{1000};
  /// Fault injection for tests: runs after a flush committed, before the replica learns it
  /// did. A throw makes the flush look failed, as a connection lost during COMMIT does.
  std::function<void()> after_commit;
};

/// What Record did with one view.
struct ViewRecord {
  /// kRefused: not counted, because `max_pending_anime` anime already wait for a flush (the
  /// database has not taken this replica's views for a while).
  enum class Outcome { kCounted, kDuplicate, kMerged, kNotFound, kRefused };
  Outcome outcome = Outcome::kNotFound;
  std::string merged_into;  ///< kMerged: the survivor's id
  /// The count as of this replica's last flush plus its views not yet written (other
  /// replicas' unflushed views are not included), and the anime's version at the last look.
  int64_t view_count = 0;
  int64_t version = 0;
};

/// Counters for /metrics; a snapshot.
struct ViewCounterStats {
  uint64_t counted = 0;         ///< views accepted
  uint64_t duplicates = 0;      ///< views refused as a repeated view id
  uint64_t flushed = 0;         ///< views written to the database
  uint64_t flushes = 0;         ///< flush transactions committed
  uint64_t flush_failures = 0;  ///< flushes that failed (their batch is retried as it was)
  /// Retried batches found already committed (their first commit's outcome was lost).
  uint64_t flush_retries_found_applied = 0;
  uint64_t redirected = 0;  ///< views written to a survivor because their anime was merged
  uint64_t dropped = 0;     ///< views of an anime removed before the flush
  uint64_t refused = 0;     ///< views not counted: max_pending_anime reached
  /// Views counted on a remembered status because the look-up failed (database unreachable).
  uint64_t counted_unverified = 0;
  int64_t pending = 0;        ///< views not yet written
  int64_t pending_anime = 0;  ///< distinct anime holding views not yet written
};

/// Per-replica view aggregation. Thread-safe.
class ViewCounter {
 public:
  ViewCounter(db::Pool& pool, ViewCounterOptions options = {});
  ViewCounter(const ViewCounter&) = delete;
  ViewCounter& operator=(const ViewCounter&) = delete;
  ~ViewCounter();  ///< Stop()s

  /// Counts one view of `anime_id` (a valid UUID). A non-empty `view_id` already seen within
  /// the dedup window is not counted again (kDuplicate). A merged id is refused (kMerged with
  /// the survivor); an unknown or removed one is kNotFound; beyond `max_pending_anime` a view
  /// of an anime not yet pending is kRefused. Throws db::DbError when the anime had to be
  /// looked up, the database failed and this replica never learned the anime's status.
  ViewRecord Record(const std::string& anime_id, const std::string& view_id = "");

  /// Writes every pending view now; returns how many were written. A batch that failed before
  /// is retried first, under its id, then the views pending since. On failure the views stay
  /// pending (the failed batch kept whole for its retry) and the db::Error propagates.
  int64_t Flush();

  /// Starts flushing every flush_interval on a background thread.
  void Start();
  /// Stops the background thread, then flushes what is pending (retrying a few times).
  void Stop();

  ViewCounterStats stats() const;

  /// The counter's SQL, for the prepare-every-statement test.
  static db::StatementList Statements();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace psvc::write

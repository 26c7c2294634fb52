#pragma once
/// The transactional outbox relay: qdrant_outbox rows → a JetStream stream, exactly once in
/// effect.
///
/// Guarantees (see docs in outbox_relay.cpp for the reasoning):
///  - At least once into the stream; the server drops repeats by `Nats-Msg-Id` (= outbox id)
///    within the stream's de-duplication window, so in effect once. A row is marked published
///    only after the stream acknowledged it. Downstream consumers must still be idempotent by
///    outbox id (the header `Nats-Msg-Id`, also `Psvc-Outbox-Id`): a redelivery by their own
///    consumer, or a retry after an outage longer than the window, can repeat a message.
///  - Order: rows are published one at a time in id order by one relay at a time (replicas
///    serialize on a transaction-scoped advisory lock). Ids are assigned at insert, not at
///    commit, so two transactions can commit out of id order and the later-committed lower id
///    is published after the higher one. Per anime the order is the commit order provided the
///    writer locks the anime row before inserting its outbox row (the apply path does).

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "db/statement.h"

namespace psvc::db {
class Connection;
}  // namespace psvc::db

namespace psvc::events {

/// How the relay reaches PostgreSQL and NATS, and its pacing.
struct OutboxRelayOptions {
  /// libpq URI; the relay holds one dedicated connection (LISTEN needs a session).
  std::string database_url;
  std::string nats_url = "nats://127.0.0.1:4222";
  std::string stream = "ANIME_CHANGES";
  /// A row of event_type T goes to `<subject_prefix>.<T>`; the stream captures `<prefix>.>`.
  std::string subject_prefix = "anime.changes";
  /// Server-side de-duplication window; must exceed retry_max (checked at construction).
  std::chrono::milliseconds duplicate_window = std::chrono::hours(1);
  int batch_size = 256;
  /// Fallback when a NOTIFY is missed (e.g. while reconnecting).
  std::chrono::milliseconds poll_interval{1000};
  /// After a read that found rows, the next read comes at the latest this much later: only
  /// one of the transactions committing at a time sends the NOTIFY (migration 0021), and a
  /// concurrent one may become visible just after the woken relay read.
  std::chrono::milliseconds busy_poll_interval{50};
  std::chrono::milliseconds publish_timeout{5000};
  std::chrono::milliseconds retry_initial{100};
  std::chrono::milliseconds retry_max{30000};
  /// Published rows older than this are deleted, at most every prune_interval.
  std::chrono::milliseconds retention = std::chrono::hours(24);
  std::chrono::milliseconds prune_interval{60000};
  int prune_batch = 10000;
  /// NATS connection name (shows in the server's connz).
  std::string client_name = "postgres-service-outbox-relay";
};

/// Counters for /metrics; a snapshot.
struct OutboxRelayStats {
  /// Upper bounds (ms) of the publish latency histogram; the last bucket is +Inf.
  static constexpr std::array<double, 12> kLatencyBucketsMs{1,   2,   5,   10,   25,   50,
                                                            100, 250, 500, 1000, 5000, 30000};
  int64_t backlog = -1;             ///< unpublished rows at the last check (-1 = not yet known)
  double oldest_unpublished_s = 0;  ///< age of the oldest unpublished row at the last check
  uint64_t published = 0;           ///< rows acknowledged by the stream and marked
  uint64_t duplicates = 0;          ///< of those, acks flagged Duplicate (already in the stream)
  uint64_t publish_failures = 0;    ///< publishes that failed or timed out
  uint64_t database_failures = 0;   ///< cycles lost to a database error
  uint64_t batches = 0;
  uint64_t wakeups_by_notify = 0;
  uint64_t pruned = 0;
  /// Publish latency: the row's created_at (its insert, ~ commit) → the stream's ack.
  std::array<uint64_t, kLatencyBucketsMs.size() + 1> latency_buckets{};
  double latency_sum_ms = 0;
  double latency_max_ms = 0;
};

/// Publishes qdrant_outbox rows to JetStream on its own thread. Start() returns at once;
/// NATS or PostgreSQL being down is retried with backoff, never fatal.
class OutboxRelay {
 public:
  /// Throws std::invalid_argument on inconsistent options.
  explicit OutboxRelay(OutboxRelayOptions options);
  OutboxRelay(const OutboxRelay&) = delete;
  OutboxRelay& operator=(const OutboxRelay&) = delete;
  ~OutboxRelay();  ///< Stop()s

  void Start();
  /// Finishes the current batch (bounded by publish_timeout per row) and joins the thread.
  void Stop();
  OutboxRelayStats stats() const;

  /// The relay's SQL, for the prepare-every-statement test.
  static db::StatementList Statements();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Deletes qdrant_outbox rows created more than `retention` ago, published or not, in batches:
/// what a replica without NATS runs, since no relay will ever send them. Returns rows deleted.
int64_t PruneUnrelayedOutbox(db::Connection& conn, std::chrono::milliseconds retention,
                             int batch = 10000);

}  // namespace psvc::events

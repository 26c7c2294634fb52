#pragma once
/// The committed change feed: qdrant_outbox rows of finished transactions, read in order with
/// a snapshot watermark (docs/architecture.md, "Committed change feed").

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "changes/change_source.h"
#include "db/statement.h"

namespace psvc::db {
class Connection;
}  // namespace psvc::db

namespace psvc::observability {
class MetricsRegistry;
}  // namespace psvc::observability

namespace psvc::changes {

/// Where the feed reads and how it paces itself.
struct ChangeFeedOptions {
  /// libpq URI of the primary; the feed holds one dedicated connection (LISTEN needs a session).
  std::string database_url;
  /// First position: a consumer's saved watermark, or a snapshot's (SnapshotWatermark). 0 =
  /// the current watermark at the first successful poll (changes committed before it are not
  /// delivered).
  uint64_t start_watermark = 0;
  /// Poll interval while a notified commit is not yet delivered (its transaction is above the
  /// watermark because an older one is still open).
  std::chrono::milliseconds fast_poll{50};
  /// Fallback poll when nothing was notified (a NOTIFY lost while reconnecting).
  std::chrono::milliseconds idle_poll{1000};
  /// Most rows per batch; a single transaction with more rows is still delivered whole.
  int batch_limit = 5000;
  std::chrono::milliseconds retry_initial{100};
  std::chrono::milliseconds retry_max{10000};
  /// Label of this feed's metrics (several feeds in one process: tests).
  std::string name = "main";
};

/// Counters for /metrics; a snapshot.
struct ChangeFeedStats {
  uint64_t watermark = 0;
  uint64_t polls = 0;
  uint64_t batches = 0;  ///< batches delivered (polls that found changes or moved the watermark)
  uint64_t changes = 0;
  uint64_t failures = 0;      ///< polls lost to a database error
  uint64_t lost_batches = 0;  ///< batches flagged changes_lost (pruned before read)
  /// Polls that held rows back to keep one anime's changes in commit order.
  uint64_t order_holds = 0;
  /// When the last successful poll read (system clock; epoch = never).
  std::chrono::system_clock::time_point last_read_at{};
  /// Transactions in [watermark, xmax) at the last poll: in flight or finished but held back
  /// by an older open transaction.
  uint64_t behind_xids = 0;
  /// Seconds the watermark has not moved while transactions were in flight below the server's
  /// xmax: an open transaction somewhere on the server holds the feed back (0 when not).
  double held_back_seconds = 0;
};

/// Polls qdrant_outbox on its own thread and delivers ChangeBatches to listeners in order.
/// Start() returns at once; the database being down is retried with backoff, never fatal.
class ChangeFeed final : public ChangeSource {
 public:
  /// Throws std::invalid_argument on inconsistent options.
  explicit ChangeFeed(ChangeFeedOptions options);
  ChangeFeed(const ChangeFeed&) = delete;
  ChangeFeed& operator=(const ChangeFeed&) = delete;
  ~ChangeFeed() override;  ///< Stop()s

  void Start();
  /// Joins the thread (a batch being delivered finishes first).
  void Stop();

  ListenerId Subscribe(Listener listener) override;
  /// Must not be called from a listener (it waits for the running one).
  void Unsubscribe(ListenerId id) override;
  uint64_t watermark() const override;

  /// Waits until watermark() > `xid` (the change of transaction `xid` was delivered to every
  /// listener) or `deadline`; true when reached. Wakes the feed for a poll at once.
  bool WaitPast(uint64_t xid, std::chrono::steady_clock::time_point deadline) const;

  ChangeFeedStats stats() const;
  /// Exports psvc_changes_* (labelled feed=<name>); the registry must not outlive the feed.
  void AddMetrics(observability::MetricsRegistry& registry);

  /// The watermark of the snapshot `conn` is reading in now: call it inside the REPEATABLE
  /// READ transaction a consumer loads its snapshot with, and start a feed there. Every
  /// transaction below it is in the snapshot; those at or above it may be too, so the consumer
  /// sees them again (apply idempotently) but never misses one.
  static uint64_t SnapshotWatermark(db::Connection& conn);
  /// The transaction id of `conn`'s open transaction (assigning one): a write's change token.
  static uint64_t CurrentTransactionId(db::Connection& conn);

  /// The feed's SQL, for the prepare-every-statement test.
  static db::StatementList Statements();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// A change token / watermark as text (xid8's decimal form) and back (false when malformed).
std::string FormatXid(uint64_t xid);
bool ParseXid(std::string_view text, uint64_t* xid);

}  // namespace psvc::changes

#pragma once
/// The committed catalogue changes every replica follows (memory graph, GraphQL subscriptions).

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace psvc::changes {

/// One committed change: an outbox row read back after its transaction committed.
struct Change {
  int64_t outbox_id = 0;
  uint64_t xid = 0;        // the writing transaction (xid8)
  std::string anime_id;    // the aggregate the row names
  std::string event_type;  // AnimeCreated, AnimeUpdated, AnimeMerged, AnimeViewed, ...
  std::string payload;     // the outbox payload (JSON text, see docs/events.md)
};

/// The event type of the change a bulk load commits (`generate`, `demo-data`, load.sql): the
/// catalogue was filled without per-anime changes, so a consumer re-reads all of it.
inline constexpr std::string_view kCatalogueLoaded = "CatalogueLoaded";

/// Changes delivered together. Every transaction with xid below `watermark` has finished and
/// all of its rows were delivered, in this batch or an earlier one; the changes of one anime
/// come in commit order.
struct ChangeBatch {
  std::vector<Change> changes;
  uint64_t watermark = 0;
  std::chrono::system_clock::time_point read_at;  // when the feed read the batch
  /// The batch covers the transactions in [from_watermark, watermark): the previous batch's
  /// watermark, or the feed's start position for the first one. A consumer whose own position
  /// is below it missed changes (it subscribed late) and must load a fresh snapshot.
  uint64_t from_watermark = 0;
  /// Outbox rows in [from_watermark, watermark) were pruned (retention) before the feed read
  /// them: `changes` is incomplete and consumers must load a fresh snapshot.
  bool changes_lost = false;
};

/// Where changes come from. Listeners run on the feed's thread, in registration order, and
/// must not block (hand work to another thread if it can wait).
class ChangeSource {
 public:
  using Listener = std::function<void(const ChangeBatch&)>;
  using ListenerId = uint64_t;

  virtual ~ChangeSource() = default;
  /// Registers a listener for every batch read from now on.
  virtual ListenerId Subscribe(Listener listener) = 0;
  /// After it returns the listener is not running and is never called again.
  virtual void Unsubscribe(ListenerId id) = 0;
  /// The feed's position: every transaction below it was delivered (0 before the first read).
  virtual uint64_t watermark() const = 0;
};

}  // namespace psvc::changes

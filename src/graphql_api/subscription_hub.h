#pragma once
/// GraphQL subscriptions fed by committed changes: the hub listens to a changes::ChangeSource
/// and runs each subscription matching a change, in the feed's order, on its own thread.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "graphql/value.h"
#include "graphql_api/graphql_api.h"

namespace psvc::changes {
class ChangeSource;
struct ChangeBatch;
}  // namespace psvc::changes

namespace psvc::observability {
class MetricsRegistry;
}

namespace psvc::api {

/// One event's result as every subscription of one shared execution receives it: formatted
/// once, its bytes shared by every subscriber's connection.
struct SubscriptionResult {
  /// The GraphQL response for the event (the `next` payload).
  std::shared_ptr<const std::string> payload;
  /// When set: to be called once the result has been written to the subscriber's connection
  /// (the hub's delivery latency metric).
  std::shared_ptr<const std::function<void()>> on_written;
};

/// Where one subscription's results go. Called on the hub's thread; must not block.
class SubscriptionSink {
 public:
  virtual ~SubscriptionSink() = default;
  virtual void Next(const SubscriptionResult& result) = 0;
};

/// A subscription as the hub runs it.
struct Subscription {
  std::string query;
  std::string operation_name;
  std::string variables_json;  ///< as sent (with query and name: the key shared executions use)
  graphql::ValueMap variables;
  std::shared_ptr<const graphql::PreparedDocument> prepared;
  SubscriptionStream stream;
};

/// Counters for metrics and tests.
struct SubscriptionHubStats {
  int64_t subscriptions = 0;  ///< active now
  uint64_t changes = 0;       ///< changes read from the source
  uint64_t executions = 0;    ///< documents run (one per distinct subscription per event)
  uint64_t deliveries = 0;    ///< results handed to subscriptions
  int64_t queued_batches = 0;
};

/// Thread-safe. Subscriptions with the same document, operation and variables share one
/// execution per event. Events of one batch share loaders (an anime is read once per batch).
class SubscriptionHub {
 public:
  using Handle = uint64_t;
  /// Listens to `source` until destroyed or Stop(). `metrics` (optional): delivery latency.
  SubscriptionHub(const GraphqlApi& api, changes::ChangeSource& source,
                  observability::MetricsRegistry* metrics = nullptr, int worker_threads = 2);
  ~SubscriptionHub();
  SubscriptionHub(const SubscriptionHub&) = delete;
  SubscriptionHub& operator=(const SubscriptionHub&) = delete;

  Handle Add(Subscription subscription, std::shared_ptr<SubscriptionSink> sink);
  /// After it returns the sink gets no new event (one being delivered may still arrive).
  void Remove(Handle handle);
  /// Runs `work` on the hub's worker threads (preparing documents, single-result operations),
  /// never on the thread that delivers events.
  void RunOnWorker(std::function<void()> work);
  /// Stops listening and delivering, drops every subscription. Idempotent.
  void Stop();

  const GraphqlApi& api() const;
  SubscriptionHubStats stats() const;

  /// The events a change stands for (one per anime it concerns: a completed merge is reported
  /// for the survivor and the merged anime); empty for outbox rows no subscription reports.
  /// Each is an AnimeChange map (see the schema).
  static std::vector<graphql::Value> EventsOf(const std::string& anime_id,
                                              const std::string& event_type,
                                              const std::string& payload, int64_t outbox_id);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace psvc::api

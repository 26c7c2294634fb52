#include "graphql_api/subscription_hub.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "changes/change_source.h"
#include "graphql/json.h"
#include "observability/metrics.h"

namespace psvc::api {

using graphql::Value;
using graphql::ValueList;
using graphql::ValueMap;

namespace {

std::string_view KindOf(std::string_view event_type) {
  for (const auto& k : kChangeKinds) {
    if (k.event_type == event_type) return k.name;
  }
  return {};
}

Value IntOrNull(const Value* v) {
  if (!v) return Value();
  const Value& d = v->Deref();
  if (d.IsInt()) return d;
  return Value();
}

std::string StringOr(const Value* v, std::string fallback) {
  if (v && v->Deref().IsString()) return std::string(v->Deref().AsString());
  return fallback;
}

Value MakeEvent(std::string_view kind, const std::string& anime_id, Value version,
                int64_t outbox_id) {
  ValueMap m;
  m.emplace_back("kind", Value(std::string(kind)));
  m.emplace_back("animeId", Value(anime_id));
  m.emplace_back("version", std::move(version));
  m.emplace_back("changeId", Value(std::to_string(outbox_id)));
  m.emplace_back("fields", Value());
  m.emplace_back("mergedInto", Value());
  m.emplace_back("viewCount", Value());
  return Value(std::move(m));
}

void Set(Value& event, std::string_view key, Value v) {
  for (auto& [k, value] : event.AsMap()) {
    if (k == key) value = std::move(v);
  }
}

// A worker pool for subscribe handling and single-result operations over WebSocket.
class Workers {
 public:
  explicit Workers(int n) {
    for (int i = 0; i < std::max(1, n); ++i) {
      threads_.emplace_back([this](std::stop_token stop) { Run(stop); });
    }
  }
  ~Workers() { Stop(); }
  void Post(std::function<void()> work) {
    {
      std::lock_guard lock(mu_);
      if (stopped_) return;
      queue_.push_back(std::move(work));
    }
    cv_.notify_one();
  }
  void Stop() {
    {
      std::lock_guard lock(mu_);
      stopped_ = true;
    }
    for (auto& t : threads_) t.request_stop();
    cv_.notify_all();
    threads_.clear();  // joins
  }

 private:
  void Run(std::stop_token stop) {
    for (;;) {
      std::function<void()> work;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, stop, [&] { return !queue_.empty(); });
        if (stop.stop_requested()) return;
        work = std::move(queue_.front());
        queue_.pop_front();
      }
      try {
        work();
      } catch (const std::exception& e) {
        spdlog::error("graphql websocket worker: {}", e.what());
      }
    }
  }
  std::mutex mu_;
  std::condition_variable_any cv_;
  std::deque<std::function<void()>> queue_;
  bool stopped_ = false;
  std::vector<std::jthread> threads_;
};

}  // namespace

struct SubscriptionHub::Impl {
  const GraphqlApi& api;
  changes::ChangeSource& source;
  observability::Histogram* latency = nullptr;
  observability::Histogram* send_latency = nullptr;
  changes::ChangeSource::ListenerId listener = 0;

  struct Entry {
    Subscription sub;
    std::string key;  // query, operation and variables: equal keys share one execution
    std::shared_ptr<SubscriptionSink> sink;
  };
  mutable std::mutex mu;
  std::unordered_map<Handle, std::shared_ptr<const Entry>> entries;
  std::unordered_map<std::string, std::vector<Handle>> by_anime;
  std::vector<Handle> catalogue;
  Handle next_handle = 1;

  std::mutex queue_mu;
  std::condition_variable_any queue_cv;
  std::deque<changes::ChangeBatch> queue;
  std::atomic<uint64_t> changes{0}, executions{0}, deliveries{0};
  std::atomic<int64_t> queued{0};
  std::atomic<bool> stopped{false};
  std::jthread dispatcher;
  Workers workers;

  Impl(const GraphqlApi& a, changes::ChangeSource& s, int worker_threads)
      : api(a), source(s), workers(worker_threads) {}

  // Runs on the feed's thread: only queues (the listener must not block).
  void OnBatch(const changes::ChangeBatch& batch) {
    if (batch.changes.empty() || stopped.load()) return;
    {
      std::lock_guard lock(queue_mu);
      queue.push_back(batch);
    }
    queued.fetch_add(1);
    queue_cv.notify_one();
  }

  void Dispatch(std::stop_token stop) {
    for (;;) {
      changes::ChangeBatch batch;
      {
        std::unique_lock lock(queue_mu);
        queue_cv.wait(lock, stop, [&] { return !queue.empty(); });
        if (stop.stop_requested()) return;
        batch = std::move(queue.front());
        queue.pop_front();
      }
      queued.fetch_sub(1);
      try {
        Deliver(batch);
      } catch (const std::exception& e) {
        spdlog::error("subscriptions: delivering a batch failed: {}", e.what());
      }
    }
  }

  bool Matches(const Entry& e, std::string_view kind) const {
    const auto& s = e.sub.stream;
    return !s.kinds_filtered || std::find(s.kinds.begin(), s.kinds.end(), kind) != s.kinds.end();
  }

  void Deliver(const changes::ChangeBatch& batch) {
    std::shared_ptr<EventScope> scope;
    // One callable for every message of the batch: from the feed's read to the socket write.
    std::shared_ptr<const std::function<void()>> on_written;
    if (send_latency && batch.read_at.time_since_epoch().count() != 0) {
      on_written = std::make_shared<const std::function<void()>>(
          [histogram = send_latency, read_at = batch.read_at] {
            histogram->Observe(
                std::chrono::duration<double>(std::chrono::system_clock::now() - read_at).count());
          });
    }
    for (const auto& change : batch.changes) {
      changes.fetch_add(1);
      for (const Value& event :
           EventsOf(change.anime_id, change.event_type, change.payload, change.outbox_id)) {
        std::string_view kind = event.Find("kind")->AsString();
        const std::string anime_id(event.Find("animeId")->AsString());
        // Matching subscriptions, grouped by key (first-seen order).
        std::vector<std::pair<std::string_view, std::vector<std::shared_ptr<const Entry>>>> groups;
        {
          std::lock_guard lock(mu);
          auto add = [&](Handle h) {
            auto it = entries.find(h);
            if (it == entries.end() || !Matches(*it->second, kind)) return;
            for (auto& [key, members] : groups) {
              if (key == it->second->key) {
                members.push_back(it->second);
                return;
              }
            }
            groups.push_back({it->second->key, {it->second}});
          };
          if (auto it = by_anime.find(anime_id); it != by_anime.end()) {
            for (Handle h : it->second) add(h);
          }
          for (Handle h : catalogue) add(h);
        }
        for (auto& [key, members] : groups) {
          if (stopped.load()) return;
          if (!scope) scope = api.NewEventScope();
          const Subscription& sub = members.front()->sub;
          GraphqlRequest request;
          request.query = sub.query;
          request.operation_name = sub.operation_name;
          request.variables = &sub.variables;
          request.prepared = sub.prepared.get();
          const SubscriptionResult result{
              std::make_shared<const std::string>(api.ExecuteEvent(request, event, *scope)),
              on_written};
          executions.fetch_add(1);
          for (const auto& m : members) {
            try {
              m->sink->Next(result);
            } catch (const std::exception& e) {
              spdlog::warn("subscriptions: a subscriber failed: {}", e.what());
            }
            deliveries.fetch_add(1);
          }
        }
      }
    }
    if (latency && batch.read_at.time_since_epoch().count() != 0) {
      latency->Observe(
          std::chrono::duration<double>(std::chrono::system_clock::now() - batch.read_at).count());
    }
  }
};

SubscriptionHub::SubscriptionHub(const GraphqlApi& api, changes::ChangeSource& source,
                                 observability::MetricsRegistry* metrics, int worker_threads)
    : impl_(std::make_unique<Impl>(api, source, worker_threads)) {
  if (metrics) {
    impl_->latency = &metrics->GetHistogram(
        "psvc_graphql_subscription_delivery_seconds",
        "From the change feed reading a batch to its last result handed to subscribers' "
        "connections");
    impl_->send_latency = &metrics->GetHistogram(
        "psvc_graphql_subscription_send_seconds",
        "From the change feed reading a batch to one subscriber's result for it written to the "
        "subscriber's socket (one observation per result sent)",
        {},
        {0.001, 0.002, 0.005, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5,
         1, 2.5, 5, 10});
  }
  impl_->dispatcher =
      std::jthread([impl = impl_.get()](std::stop_token stop) { impl->Dispatch(stop); });
  impl_->listener =
      source.Subscribe([impl = impl_.get()](const changes::ChangeBatch& b) { impl->OnBatch(b); });
}

SubscriptionHub::~SubscriptionHub() { Stop(); }

void SubscriptionHub::Stop() {
  if (impl_->stopped.exchange(true)) return;
  impl_->source.Unsubscribe(impl_->listener);
  impl_->dispatcher.request_stop();
  impl_->queue_cv.notify_all();
  if (impl_->dispatcher.joinable()) impl_->dispatcher.join();
  impl_->workers.Stop();
  std::lock_guard lock(impl_->mu);
  impl_->entries.clear();
  impl_->by_anime.clear();
  impl_->catalogue.clear();
}

SubscriptionHub::Handle SubscriptionHub::Add(Subscription subscription,
                                             std::shared_ptr<SubscriptionSink> sink) {
  auto entry = std::make_shared<Impl::Entry>();
  entry->key = subscription.query;
  entry->key.push_back('\0');
  entry->key += subscription.operation_name;
  entry->key.push_back('\0');
  entry->key += subscription.variables_json;
  entry->sub = std::move(subscription);
  entry->sink = std::move(sink);
  std::lock_guard lock(impl_->mu);
  Handle h = impl_->next_handle++;
  if (entry->sub.stream.field == SubscriptionStream::Field::kAnimeChanged) {
    for (const auto& id : entry->sub.stream.anime_ids) {
      auto& list = impl_->by_anime[id];
      if (std::find(list.begin(), list.end(), h) == list.end()) list.push_back(h);
    }
  } else {
    impl_->catalogue.push_back(h);
  }
  impl_->entries.emplace(h, std::move(entry));
  return h;
}

void SubscriptionHub::Remove(Handle handle) {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->entries.find(handle);
  if (it == impl_->entries.end()) return;
  auto drop = [handle](std::vector<Handle>& list) {
    list.erase(std::remove(list.begin(), list.end(), handle), list.end());
  };
  for (const auto& id : it->second->sub.stream.anime_ids) {
    auto list = impl_->by_anime.find(id);
    if (list == impl_->by_anime.end()) continue;
    drop(list->second);
    if (list->second.empty()) impl_->by_anime.erase(list);
  }
  if (it->second->sub.stream.field == SubscriptionStream::Field::kCatalogueChanged) {
    drop(impl_->catalogue);
  }
  impl_->entries.erase(it);
}

void SubscriptionHub::RunOnWorker(std::function<void()> work) {
  impl_->workers.Post(std::move(work));
}

const GraphqlApi& SubscriptionHub::api() const { return impl_->api; }

SubscriptionHubStats SubscriptionHub::stats() const {
  SubscriptionHubStats s;
  {
    std::lock_guard lock(impl_->mu);
    s.subscriptions = static_cast<int64_t>(impl_->entries.size());
  }
  s.changes = impl_->changes.load();
  s.executions = impl_->executions.load();
  s.deliveries = impl_->deliveries.load();
  s.queued_batches = impl_->queued.load();
  return s;
}

std::vector<Value> SubscriptionHub::EventsOf(const std::string& anime_id,
                                             const std::string& event_type,
                                             const std::string& payload, int64_t outbox_id) {
  std::vector<Value> out;
  std::string_view kind = KindOf(event_type);
  if (kind.empty()) return out;
  std::string why;
  auto parsed = graphql::ParseJson(payload, &why);
  static const Value kEmpty{ValueMap{}};
  const Value& p = parsed && parsed->IsMap() ? *parsed : kEmpty;
  if (event_type == "AnimeMergeCompleted") {
    // Aggregate: the survivor. Subscribers of either anime hear of it.
    std::string survivor = StringOr(p.Find("survivor_id"), anime_id);
    std::string duplicate = StringOr(p.Find("duplicate_id"), "");
    out.push_back(MakeEvent(kind, survivor, Value(), outbox_id));
    if (!duplicate.empty() && duplicate != survivor) {
      Value gone = MakeEvent(kind, duplicate, Value(), outbox_id);
      Set(gone, "mergedInto", Value(survivor));
      out.push_back(std::move(gone));
    }
    return out;
  }
  if (event_type == "AnimeRemoved") {
    // The removal saga writes this row again each time it asks for the confirmation again
    // (`attempt` 2, 3); the anime was hidden once, by the first.
    const Value* attempt = p.Find("attempt");
    if (attempt && attempt->Deref().IsInt() && attempt->Deref().AsInt() > 1) return out;
  }
  Value event = MakeEvent(kind, anime_id, IntOrNull(p.Find("version")), outbox_id);
  if (const Value* fields = p.Find("fields"); fields && fields->Deref().IsList()) {
    ValueList names;
    for (const Value& f : fields->Deref().AsList()) {
      if (f.Deref().IsString()) names.emplace_back(std::string(f.Deref().AsString()));
    }
    Set(event, "fields", Value(std::move(names)));
  }
  if (event_type == "AnimeViewed") Set(event, "viewCount", IntOrNull(p.Find("view_count")));
  out.push_back(std::move(event));
  return out;
}

}  // namespace psvc::api

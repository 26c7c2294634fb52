#include "graph/serving_engine.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "changes/change_feed.h"
#include "db/connection.h"
#include "graph/memory_engine.h"
#include "observability/metrics.h"

namespace psvc::graph {

namespace {

std::string OneLine(std::string text) {  // it goes into an HTTP header
  std::replace_if(
      text.begin(), text.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  return text;
}

}  // namespace

bool ChangeTouchesGraph(std::string_view event_type) { return event_type != "AnimeViewed"; }

ServingGraphEngine::ServingGraphEngine(GraphEngine& sql)
    : sql_(sql), sql_alias_(std::shared_ptr<GraphEngine>(), &sql) {}

ServingGraphEngine::~ServingGraphEngine() {
  if (feed_) feed_->Unsubscribe(listener_);
  if (loader_.joinable()) {
    loader_.request_stop();
    loader_.join();
  }
}

void ServingGraphEngine::FollowChanges(changes::ChangeSource& feed, std::string reload_url,
                                       std::chrono::milliseconds retry_initial) {
  reload_url_ = std::move(reload_url);
  retry_initial_ = retry_initial;
  {
    std::lock_guard lock(mu_);
    freshness_.following = true;
  }
  feed_ = &feed;
  listener_ = feed.Subscribe([this](const changes::ChangeBatch& batch) { OnBatch(batch); });
}

void ServingGraphEngine::OnBatch(const changes::ChangeBatch& batch) {
  // On the feed's thread: decide and flag, never load here.
  bool touches = batch.changes_lost;
  for (const auto& c : batch.changes) touches = touches || ChangeTouchesGraph(c.event_type);
  std::lock_guard lock(mu_);
  delivered_until_ = std::max(delivered_until_, batch.watermark);
  if (!first_batch_from_) {
    first_batch_from_ = batch.from_watermark;
    if (check_first_batch_against_ && batch.from_watermark > *check_first_batch_against_) {
      touches = true;  // the feed began above the snapshot: what lies between was missed
    }
  }
  if (!touches) {
    // Read-your-writes without a reload: when the served graph holds every graph change
    // delivered so far, it holds every transaction below this batch's watermark.
    if (memory_.load() && freshness_.watermark >= unserved_until_) {
      AdvanceWatermark(batch.watermark);
    }
    return;
  }
  unserved_until_ = std::max(unserved_until_, batch.watermark);
  dirty_ = true;
  freshness_.reload_pending = true;
  wake_.notify_all();
}

void ServingGraphEngine::LoadMemoryInBackground(std::string read_url) {
  {
    std::lock_guard lock(mu_);
    status_ = {"sql", "memory_loading", "answering from SQL while the memory graph loads"};
  }
  loader_ = std::jthread(
      [this, url = std::move(read_url)](std::stop_token stop) { Run(std::move(stop), url); });
}

void ServingGraphEngine::Run(std::stop_token stop, const std::string& read_url) {
  if (!LoadOnce(read_url, /*first=*/true) || !feed_) return;
  auto retry = retry_initial_;
  while (!stop.stop_requested()) {
    {
      std::unique_lock lock(mu_);
      if (!wake_.wait(lock, stop, [this] { return dirty_; })) return;
      dirty_ = false;  // changes from here on are flagged again and cause one more reload
    }
    if (LoadOnce(reload_url_, /*first=*/false)) {
      retry = retry_initial_;
      continue;
    }
    {
      std::unique_lock lock(mu_);
      dirty_ = true;  // the changes are still not in the served graph
      wake_.wait_for(lock, stop, retry, [] { return false; });
    }
    retry = std::min<std::chrono::milliseconds>(retry * 2, std::chrono::seconds(30));
  }
}

bool ServingGraphEngine::LoadOnce(const std::string& url, bool first) {
  const auto start = std::chrono::steady_clock::now();
  const auto taken_at = std::chrono::system_clock::now();
  bool batch_seen_before;
  uint64_t delivered = 0;
  {
    std::lock_guard lock(mu_);
    batch_seen_before = first_batch_from_.has_value();
    // A reload reads where the feed reads: every transaction of this database below the
    // batches delivered so far had finished, so it is in the snapshot, even when an open
    // transaction of another database holds the snapshot's cluster-wide xmin lower.
    if (!first) delivered = delivered_until_;
  }
  try {
    uint64_t watermark = 0;
    auto engine = MemoryGraphEngine::Load(url, sql_, [&](db::Connection& c) {
      if (feed_) watermark = changes::ChangeFeed::SnapshotWatermark(c);
    });
    const double took =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::shared_ptr<MemoryGraphEngine> fresh = std::move(engine);
    std::lock_guard lock(mu_);
    if (feed_ && !batch_seen_before) {
      // The snapshot was taken before the feed's first batch: that batch must begin at or
      // below the snapshot's watermark, or the transactions between were missed.
      if (first_batch_from_) {
        if (*first_batch_from_ > watermark) {
          dirty_ = true;
          unserved_until_ = std::max(unserved_until_, *first_batch_from_);
        }
      } else {
        check_first_batch_against_ = watermark;
      }
    }
    if (first) {
      load_seconds_ = took;
      spdlog::info(
          "graph: memory engine ready ({} anime, {} bytes of adjacency, {} bytes of labels, "
          "loaded in {:.2f} s)",
          fresh->graph().nodes(), fresh->graph().bytes(), fresh->labels()->bytes(), took);
    } else {
      ++freshness_.reloads;
      freshness_.last_reload_seconds = took;
      spdlog::info("graph: memory graph reloaded ({} anime, watermark {}, {:.2f} s)",
                   fresh->graph().nodes(), watermark, took);
    }
    freshness_.taken_at = taken_at;
    freshness_.reload_pending = dirty_;
    status_ = {"memory", "requested",
               "memory graph of " + std::to_string(fresh->graph().nodes()) + " anime, " +
                   (feed_ ? "reloaded after committed changes that touch the graph"
                          : "a snapshot taken at start-up (later writes are not seen)")};
    memory_.store(std::move(fresh));  // calls in flight keep the graph they started with
    AdvanceWatermark(std::max(watermark, delivered));
    return true;
  } catch (const std::exception& e) {
    std::lock_guard lock(mu_);
    if (first) {
      spdlog::error("graph: memory graph failed to load, answering from SQL: {}", e.what());
      status_ = {"sql", "memory_failed",
                 OneLine(std::string("memory graph failed to load: ") + e.what())};
    } else {
      ++freshness_.reload_failures;
      spdlog::warn("graph: memory graph reload failed, serving the previous snapshot: {}",
                   e.what());
    }
    return false;
  }
}

EngineStatus ServingGraphEngine::Status() const {
  std::lock_guard lock(mu_);
  return status_;
}

MemoryFreshness ServingGraphEngine::Freshness() const {
  std::lock_guard lock(mu_);
  return freshness_;
}

void ServingGraphEngine::AddMetrics(observability::MetricsRegistry& registry) {
  registry.AddCollector([this](observability::SampleWriter& w) {
    auto memory = memory_.load();
    std::lock_guard lock(mu_);
    w.Add("psvc_graph_engine", "Which engine answers the graph service (1), and why", "gauge",
          {{"engine", status_.engine}, {"reason", status_.reason}}, 1);
    if (!memory) return;
    w.Add("psvc_graph_memory_nodes", "Anime in the memory graph", "gauge", {},
          static_cast<double>(memory->graph().nodes()));
    w.Add("psvc_graph_memory_bytes", "Bytes held by the memory graph's adjacency", "gauge", {},
          static_cast<double>(memory->graph().bytes()));
    w.Add("psvc_graph_memory_label_bytes",
          "Bytes held by the memory graph's labels (titles, hub names)", "gauge", {},
          static_cast<double>(memory->labels()->bytes()));
    w.Add("psvc_graph_memory_load_seconds", "How long the first memory graph took to load", "gauge",
          {}, load_seconds_);
    w.Add("psvc_graph_memory_snapshot_age_seconds",
          "Seconds since the served memory graph's snapshot was taken", "gauge", {},
          std::chrono::duration<double>(std::chrono::system_clock::now() - freshness_.taken_at)
              .count());
    if (!freshness_.following) return;
    w.Add("psvc_graph_memory_watermark",
          "Change-feed watermark of the served snapshot: every transaction below it is in it",
          "gauge", {}, static_cast<double>(freshness_.watermark));
    w.Add("psvc_graph_memory_reloads_total", "Memory graph reloads after committed changes",
          "counter", {}, static_cast<double>(freshness_.reloads));
    w.Add("psvc_graph_memory_reload_failures_total",
          "Memory graph reloads that failed (the previous snapshot kept answering)", "counter", {},
          static_cast<double>(freshness_.reload_failures));
    w.Add("psvc_graph_memory_reload_seconds", "Duration of the last memory graph reload", "gauge",
          {}, freshness_.last_reload_seconds);
    w.Add("psvc_graph_memory_reload_pending",
          "1 while a committed change that touches the graph waits for a reload", "gauge", {},
          freshness_.reload_pending ? 1 : 0);
  });
}

std::shared_ptr<GraphEngine> ServingGraphEngine::Current() const {
  if (auto m = memory_.load()) return m;
  return sql_alias_;
}

void ServingGraphEngine::AdvanceWatermark(uint64_t watermark) {
  if (watermark <= freshness_.watermark) return;
  freshness_.watermark = watermark;
  watermark_advanced_.notify_all();
}

bool ServingGraphEngine::WaitForWatermark(uint64_t xid,
                                          std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock lock(mu_);
  return watermark_advanced_.wait_until(lock, deadline, [&] { return freshness_.watermark > xid; });
}

std::shared_ptr<GraphEngine> ServingGraphEngine::Answering(const CallBudget& budget) const {
  auto memory = memory_.load();
  if (!memory) return sql_alias_;  // SQL honours min_change itself (it reads the primary)
  if (!budget.min_change) return memory;
  const uint64_t token = *budget.min_change;
  if (!WaitForWatermark(token, budget.change_wait_deadline)) {
    const uint64_t watermark = Freshness().watermark;
    throw ChangeNotCaughtUp(
        token, watermark,
        "the memory graph has not caught up with change token " + changes::FormatXid(token) +
            " within the call's deadline (it includes every transaction below " +
            changes::FormatXid(watermark) + "); retry, or ask a server running --graph-engine sql");
  }
  return memory_.load();  // published with a watermark above the token, or a later graph
}

std::string_view ServingGraphEngine::name() const { return Current()->name(); }

NeighborsResult ServingGraphEngine::Neighbors(const CallBudget& budget, const std::string& id,
                                              const EdgeFilter& filter, int limit, int hub_window) {
  return Answering(budget)->Neighbors(budget, id, filter, limit, hub_window);
}

KHopResult ServingGraphEngine::KHop(const CallBudget& budget, const std::string& id,
                                    const EdgeFilter& filter, const AppliedLimits& limits) {
  return Answering(budget)->KHop(budget, id, filter, limits);
}

PathResult ServingGraphEngine::Path(const CallBudget& budget, const std::string& from,
                                    const std::string& to, const EdgeFilter& filter, int max_hops,
                                    int hub_window, int node_budget) {
  return Answering(budget)->Path(budget, from, to, filter, max_hops, hub_window, node_budget);
}

CompareResult ServingGraphEngine::Compare(const CallBudget& budget, const std::string& a,
                                          const std::string& b) {
  return Current()->Compare(budget, a, b);
}

}  // namespace psvc::graph

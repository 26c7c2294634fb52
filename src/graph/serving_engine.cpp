#include "graph/serving_engine.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "changes/change_feed.h"
#include "db/connection.h"
#include "graph/labels.h"
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

bool ChangeTouchesGraph(std::string_view event_type) {
  return event_type != "AnimeViewed" && event_type != changes::kCatalogueLoaded;
}

namespace {

/// The UUID after `"key":` in a JSON payload written by the saga (flat, no escapes in ids).
std::optional<std::string> PayloadId(std::string_view payload, std::string_view key) {
  const std::string quoted = "\"" + std::string(key) + "\"";
  auto at = payload.find(quoted);
  if (at == std::string_view::npos) return std::nullopt;
  at = payload.find('"', payload.find(':', at + quoted.size()));
  if (at == std::string_view::npos) return std::nullopt;
  auto id = ParseUuid16(payload.substr(at + 1, 36));
  if (!id) return std::nullopt;
  return FormatUuid16(*id);
}

}  // namespace

std::vector<std::string> AnimeIdsToReread(const changes::Change& change) {
  std::vector<std::string> out{change.anime_id};
  if (change.event_type.starts_with("AnimeMerge")) {
    for (auto key : {"duplicate_id", "survivor_id"}) {
      if (auto id = PayloadId(change.payload, key)) out.push_back(*id);
    }
  }
  return out;
}

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
  // On the feed's thread: note what to re-read, never read here.
  std::vector<std::string> anime;
  bool bulk_load = false;
  for (const auto& c : batch.changes) {
    if (c.event_type == changes::kCatalogueLoaded) bulk_load = true;
    if (!ChangeTouchesGraph(c.event_type)) continue;
    for (auto& id : AnimeIdsToReread(c)) anime.push_back(std::move(id));
  }
  std::lock_guard lock(mu_);
  if (bulk_load) reload_needed_ = true;  // no per-anime change names what it wrote
  if (!first_batch_from_) {
    first_batch_from_ = batch.from_watermark;
    if (check_first_batch_against_ && batch.from_watermark > *check_first_batch_against_) {
      reload_needed_ = true;  // the feed began above the snapshot: what lies between was missed
    }
  }
  if (batch.changes_lost) reload_needed_ = true;
  pending_anime_.insert(anime.begin(), anime.end());
  pending_watermark_ = std::max(pending_watermark_, batch.watermark);
  pending_read_at_ = batch.read_at;
  freshness_.reload_pending = reload_needed_ || !pending_anime_.empty();
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
    std::vector<std::string> anime;
    bool reload = false;
    uint64_t covered = 0;
    std::chrono::system_clock::time_point read_at;
    {
      std::unique_lock lock(mu_);
      if (!wake_.wait(lock, stop, [this] {
            return reload_needed_ || !pending_anime_.empty() ||
                   pending_watermark_ > freshness_.watermark;
          })) {
        return;
      }
      // Batches from here on are noted again and applied next.
      anime.assign(pending_anime_.begin(), pending_anime_.end());
      pending_anime_.clear();
      reload = reload_needed_;
      reload_needed_ = false;
      covered = pending_watermark_;
      read_at = pending_read_at_;
      if (!reload && anime.empty()) {  // nothing the graph shows changed (view counts)
        PublishWatermark(covered, read_at);
        continue;
      }
    }
    // Every batch up to `covered` was delivered, so its transactions had committed: a read that
    // begins now sees them.
    const bool ok =
        reload ? LoadOnce(reload_url_, /*first=*/false, covered) : PatchOnce(stop, anime);
    std::unique_lock lock(mu_);
    if (ok) {
      if (!reload) PublishWatermark(covered, read_at);
      freshness_.reload_pending = reload_needed_ || !pending_anime_.empty();
      retry = retry_initial_;
      continue;
    }
    reload_needed_ = true;  // the fallback: the changes are still not in the served graph
    freshness_.reload_pending = true;
    wake_.wait_for(lock, stop, retry, [] { return false; });
    retry = std::min<std::chrono::milliseconds>(retry * 2, std::chrono::seconds(30));
  }
}

void ServingGraphEngine::PublishWatermark(uint64_t watermark,
                                          std::chrono::system_clock::time_point known_at) {
  if (watermark <= freshness_.watermark) return;
  freshness_.watermark = watermark;
  freshness_.taken_at = std::max(freshness_.taken_at, known_at);
  published_.notify_all();
}

bool ServingGraphEngine::PatchOnce(std::stop_token stop, const std::vector<std::string>& anime) {
  const auto start = std::chrono::steady_clock::now();
  auto memory = memory_.load();
  try {
    if (!patch_conn_) {
      patch_conn_ = std::make_unique<db::Connection>(db::Connection::Open(reload_url_));
    }
    memory->ApplyChanges(*patch_conn_, anime);
    const double took =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::lock_guard lock(mu_);
    ++freshness_.patches;
    freshness_.last_patch_seconds = took;
    return true;
  } catch (const std::exception& e) {
    patch_conn_.reset();  // a broken session is not reused
    std::lock_guard lock(mu_);
    ++freshness_.patch_failures;
    if (!stop.stop_requested()) {
      spdlog::warn("graph: memory graph patch of {} anime failed, reloading it whole: {}",
                   anime.size(), e.what());
    }
    return false;
  }
}

bool ServingGraphEngine::LoadOnce(const std::string& url, bool first, uint64_t covered) {
  const auto start = std::chrono::steady_clock::now();
  const auto taken_at = std::chrono::system_clock::now();
  bool batch_seen_before;
  {
    std::lock_guard lock(mu_);
    batch_seen_before = first_batch_from_.has_value();
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
        if (*first_batch_from_ > watermark) reload_needed_ = true;
      } else {
        check_first_batch_against_ = watermark;
      }
    }
    if (first) {
      load_seconds_ = took;
      spdlog::info(
          "graph: memory engine ready ({} anime, {} bytes of adjacency, {} bytes of labels, "
          "loaded in {:.2f} s)",
          fresh->nodes(), fresh->bytes(), fresh->labels()->bytes(), took);
    } else {
      ++freshness_.reloads;
      freshness_.last_reload_seconds = took;
      spdlog::info("graph: memory graph reloaded ({} anime, watermark {}, {:.2f} s)",
                   fresh->nodes(), watermark, took);
    }
    // A reload can only move the watermark forward: what an earlier graph held was committed
    // before this snapshot began.
    freshness_.watermark = std::max({freshness_.watermark, watermark, covered});
    freshness_.taken_at = taken_at;
    freshness_.reload_pending = reload_needed_ || !pending_anime_.empty();
    published_.notify_all();
    status_ = {"memory", "requested",
               "memory graph of " + std::to_string(fresh->nodes()) + " anime, " +
                   (feed_ ? "patched from committed changes that touch the graph"
                          : "a snapshot taken at start-up (later writes are not seen)")};
    memory_.store(std::move(fresh));  // calls in flight keep the graph they started with
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

bool ServingGraphEngine::WaitForWatermark(uint64_t xid,
                                          std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock lock(mu_);
  return published_.wait_until(lock, deadline, [&] { return freshness_.watermark > xid; });
}

void ServingGraphEngine::AddMetrics(observability::MetricsRegistry& registry) {
  registry.AddCollector([this](observability::SampleWriter& w) {
    auto memory = memory_.load();
    std::lock_guard lock(mu_);
    w.Add("psvc_graph_engine", "Which engine answers the graph service (1), and why", "gauge",
          {{"engine", status_.engine}, {"reason", status_.reason}}, 1);
    if (!memory) return;
    w.Add("psvc_graph_memory_nodes", "Anime in the memory graph", "gauge", {},
          static_cast<double>(memory->nodes()));
    w.Add("psvc_graph_memory_bytes", "Bytes held by the memory graph's adjacency", "gauge", {},
          static_cast<double>(memory->bytes()));
    w.Add("psvc_graph_memory_label_bytes",
          "Bytes held by the memory graph's labels (titles, hub names)", "gauge", {},
          static_cast<double>(memory->labels()->bytes()));
    w.Add("psvc_graph_memory_load_seconds", "How long the first memory graph took to load", "gauge",
          {}, load_seconds_);
    w.Add("psvc_graph_memory_snapshot_age_seconds",
          "Seconds since the served memory graph was last known to match the database (its "
          "snapshot, or the change-feed read it was brought up to)",
          "gauge", {},
          std::chrono::duration<double>(std::chrono::system_clock::now() - freshness_.taken_at)
              .count());
    if (!freshness_.following) return;
    for (const auto& [outcome, count] :
         {std::pair{"included", &token_included_}, std::pair{"waited", &token_waited_},
          std::pair{"timed_out", &token_timed_out_}}) {
      w.Add("psvc_graph_memory_token_calls_total",
            "Graph calls naming a min_change_token answered by the memory graph, by outcome: "
            "included (already in the served graph), waited (included after a wait), timed_out "
            "(not included in time: UNAVAILABLE)",
            "counter", {{"outcome", outcome}}, static_cast<double>(count->load()));
    }
    w.Add("psvc_graph_memory_token_wait_seconds_total",
          "Seconds graph calls spent waiting for the memory graph to include their "
          "min_change_token",
          "counter", {}, static_cast<double>(token_wait_micros_.load()) / 1e6);
    w.Add("psvc_graph_memory_watermark",
          "Change-feed watermark of the served memory graph: every transaction below it is in it",
          "gauge", {}, static_cast<double>(freshness_.watermark));
    w.Add("psvc_graph_memory_patches_total",
          "Memory graph patches: anime re-read after committed changes and applied", "counter", {},
          static_cast<double>(freshness_.patches));
    w.Add("psvc_graph_memory_patch_failures_total",
          "Memory graph patches that failed (a whole reload followed)", "counter", {},
          static_cast<double>(freshness_.patch_failures));
    w.Add("psvc_graph_memory_patch_seconds",
          "Duration of the last memory graph patch (database read and apply)", "gauge", {},
          freshness_.last_patch_seconds);
    w.Add("psvc_graph_memory_reloads_total",
          "Whole memory graph reloads after the first (changes lost, a feed gap, a bulk load, a "
          "failed patch)",
          "counter", {}, static_cast<double>(freshness_.reloads));
    w.Add("psvc_graph_memory_reload_failures_total",
          "Memory graph reloads that failed (the previous snapshot kept answering)", "counter", {},
          static_cast<double>(freshness_.reload_failures));
    w.Add("psvc_graph_memory_reload_seconds", "Duration of the last memory graph reload", "gauge",
          {}, freshness_.last_reload_seconds);
    w.Add("psvc_graph_memory_reload_pending",
          "1 while a committed change that touches the graph waits to be applied", "gauge", {},
          freshness_.reload_pending ? 1 : 0);
  });
}

std::shared_ptr<GraphEngine> ServingGraphEngine::Current() const {
  if (auto m = memory_.load()) return m;
  return sql_alias_;
}

std::shared_ptr<GraphEngine> ServingGraphEngine::Answering(const CallBudget& budget) const {
  auto memory = memory_.load();
  if (!memory) return sql_alias_;  // SQL honours min_change itself (it reads the primary)
  if (!budget.min_change) return memory;
  const uint64_t token = *budget.min_change;
  {
    std::lock_guard lock(mu_);
    if (freshness_.watermark > token) {
      ++token_included_;
      return memory_.load();
    }
  }
  const auto started = std::chrono::steady_clock::now();
  const bool included = WaitForWatermark(token, budget.change_wait_deadline);
  token_wait_micros_ += static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                                  std::chrono::steady_clock::now() - started)
                                                  .count());
  ++(included ? token_waited_ : token_timed_out_);
  if (!included) {
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

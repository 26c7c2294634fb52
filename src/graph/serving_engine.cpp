#include "graph/serving_engine.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "db/connection.h"
#include "graph/memory_engine.h"
#include "observability/metrics.h"

namespace psvc::graph {

ServingGraphEngine::ServingGraphEngine(GraphEngine& sql) : sql_(sql) {}

ServingGraphEngine::~ServingGraphEngine() = default;

void ServingGraphEngine::LoadMemoryInBackground(std::string read_url) {
  {
    std::lock_guard lock(mu_);
    status_ = {"sql", "memory_loading", "answering from SQL while the memory graph loads"};
  }
  loader_ = std::jthread([this, url = std::move(read_url)] {
    auto start = std::chrono::steady_clock::now();
    try {
      auto conn = db::Connection::Open(url);
      auto engine = MemoryGraphEngine::Load(conn, sql_);
      double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      spdlog::info(
          "graph: memory engine ready ({} anime, {} bytes of adjacency, {} bytes of labels, "
          "loaded in {:.2f} s)",
          engine->graph().nodes(), engine->graph().bytes(), engine->labels()->bytes(), took);
      std::lock_guard lock(mu_);
      memory_holder_ = std::move(engine);
      load_seconds_ = took;
      status_ = {"memory", "requested",
                 "memory graph of " + std::to_string(memory_holder_->graph().nodes()) +
                     " anime, a snapshot taken at start-up (later writes are not seen)"};
      memory_.store(memory_holder_.get(), std::memory_order_release);
    } catch (const std::exception& e) {
      spdlog::error("graph: memory graph failed to load, answering from SQL: {}", e.what());
      std::lock_guard lock(mu_);
      std::string detail = std::string("memory graph failed to load: ") + e.what();
      std::replace_if(
          detail.begin(), detail.end(), [](char c) { return c == '\n' || c == '\r'; },
          ' ');  // it goes into an HTTP header
      status_ = {"sql", "memory_failed", detail};
    }
  });
}

EngineStatus ServingGraphEngine::Status() const {
  std::lock_guard lock(mu_);
  return status_;
}

void ServingGraphEngine::AddMetrics(observability::MetricsRegistry& registry) {
  registry.AddCollector([this](observability::SampleWriter& w) {
    std::lock_guard lock(mu_);
    w.Add("psvc_graph_engine", "Which engine answers the graph service (1), and why", "gauge",
          {{"engine", status_.engine}, {"reason", status_.reason}}, 1);
    if (memory_holder_) {
      w.Add("psvc_graph_memory_nodes", "Anime in the memory graph", "gauge", {},
            static_cast<double>(memory_holder_->graph().nodes()));
      w.Add("psvc_graph_memory_bytes", "Bytes held by the memory graph's adjacency", "gauge", {},
            static_cast<double>(memory_holder_->graph().bytes()));
      w.Add("psvc_graph_memory_label_bytes",
            "Bytes held by the memory graph's labels (titles, hub names)", "gauge", {},
            static_cast<double>(memory_holder_->labels()->bytes()));
      w.Add("psvc_graph_memory_load_seconds", "How long the memory graph took to load", "gauge", {},
            load_seconds_);
    }
  });
}

GraphEngine& ServingGraphEngine::Current() const {
  if (auto* m = memory_.load(std::memory_order_acquire)) return *m;
  return sql_;
}

std::string_view ServingGraphEngine::name() const { return Current().name(); }

NeighborsResult ServingGraphEngine::Neighbors(const CallBudget& budget, const std::string& id,
                                              const EdgeFilter& filter, int limit, int hub_window) {
  return Current().Neighbors(budget, id, filter, limit, hub_window);
}

KHopResult ServingGraphEngine::KHop(const CallBudget& budget, const std::string& id,
                                    const EdgeFilter& filter, const AppliedLimits& limits) {
  return Current().KHop(budget, id, filter, limits);
}

PathResult ServingGraphEngine::Path(const CallBudget& budget, const std::string& from,
                                    const std::string& to, const EdgeFilter& filter, int max_hops,
                                    int hub_window, int node_budget) {
  return Current().Path(budget, from, to, filter, max_hops, hub_window, node_budget);
}

CompareResult ServingGraphEngine::Compare(const CallBudget& budget, const std::string& a,
                                          const std::string& b) {
  return Current().Compare(budget, a, b);
}

}  // namespace psvc::graph

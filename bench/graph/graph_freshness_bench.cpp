// Commit-to-visible latency of the memory graph: how long after a write commits its edge
// appears in the memory graph's answers on every replica.
//
// Each replica is what `serve --graph-engine memory` runs (a ChangeFeed on the database and a
// ServingGraphEngine following it), several in one process. One write at a time goes through
// libpq: a relation row between two random anime and its outbox row, in one transaction (what
// the write path commits for a relation change). From the moment COMMIT returns, every
// replica's `neighbors` is polled until the new edge is in its answer; the latency of a write
// is the slowest replica's.
//
//   graph_freshness_bench --database-url URL [--writes 200] [--replicas 2] [--pause-ms 100]
//                         [--seed 7]
//
// The database is written to: run it on a copy (CREATE DATABASE x TEMPLATE anime_sf1).
// `--writes 0` only loads and prints the graph's size and the process's RSS (read-only).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "changes/change_feed.h"
#include "db/connection.h"
#include "db/pool.h"
#include "graph/engine.h"
#include "graph/graph_queries.h"
#include "graph/memory_engine.h"
#include "graph/serving_engine.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
namespace graph = psvc::graph;

struct Replica {
  std::unique_ptr<psvc::changes::ChangeFeed> feed;
  std::unique_ptr<graph::ServingGraphEngine> engine;
};

bool HasEdge(graph::GraphEngine& engine, const std::string& from, const std::string& to) {
  graph::CallBudget budget{Clock::now() + 5s};
  graph::EdgeFilter other;
  other.relation_types = {"OTHER"};
  other.same_studio = other.co_appears = other.adapted_from = false;
  for (const auto& e : engine.Neighbors(budget, from, other, 50, 10).edges) {
    if (e.node_id == to) return true;
  }
  return false;
}

/// The process's resident set (VmRSS of /proc/self/status), in MB.
double RssMb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmRSS:")) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Commit-to-visible latency of the memory graph on several replicas"};
  std::string url;
  int writes = 200, replicas = 2, pause_ms = 100;
  uint64_t seed = 7;
  app.add_option("--database-url", url, "a writable catalogue (a copy)")->required();
  app.add_option("--writes", writes, "writes to time");
  app.add_option("--replicas", replicas, "memory graphs following the database");
  app.add_option("--pause-ms", pause_ms, "pause between writes");
  app.add_option("--seed", seed, "picks the anime pairs");
  CLI11_PARSE(app, argc, argv);

  psvc::db::Pool read_pool({.url = url,
                            .size = 2,
                            .read_only = true,
                            .session_setup = graph::GraphQueries::SessionSetup()});
  graph::SqlGraphEngine sql(read_pool, {});
  std::vector<Replica> rs(static_cast<size_t>(replicas));
  const auto load_start = Clock::now();
  for (size_t i = 0; i < rs.size(); ++i) {
    rs[i].feed = std::make_unique<psvc::changes::ChangeFeed>(
        psvc::changes::ChangeFeedOptions{.database_url = url, .name = "r" + std::to_string(i)});
    rs[i].engine = std::make_unique<graph::ServingGraphEngine>(sql);
    rs[i].engine->FollowChanges(*rs[i].feed, url);
    rs[i].feed->Start();
    rs[i].engine->LoadMemoryInBackground(url);
  }
  for (auto& r : rs) {
    while (r.engine->Status().engine != "memory") {
      if (r.engine->Status().reason == "memory_failed") {
        std::fprintf(stderr, "memory graph failed: %s\n", r.engine->Status().detail.c_str());
        return 1;
      }
      std::this_thread::sleep_for(20ms);
    }
  }
  // Settled: the feed's first batch taken in (it may cost one more reload), nothing pending.
  for (auto& r : rs) {
    for (;;) {
      const auto f = r.engine->Freshness();
      if (r.feed->watermark() > 0 && f.watermark >= r.feed->watermark() && !f.reload_pending) break;
      std::this_thread::sleep_for(20ms);
    }
  }
  std::printf(
      "%d replicas loaded in %.1f s (%zu anime, %zu bytes of adjacency, %zu bytes of labels "
      "each; process RSS %.0f MB)\n",
      replicas, std::chrono::duration<double>(Clock::now() - load_start).count(),
      rs[0].engine->Memory()->nodes(), rs[0].engine->Memory()->bytes(),
      rs[0].engine->Memory()->labels()->bytes(), RssMb());
  if (writes == 0) return 0;

  auto conn = psvc::db::Connection::Open(url);
  std::vector<std::string> anime;
  auto res =
      conn.Query("SELECT id::text FROM anime WHERE merged_into IS NULL AND hidden_at IS NULL");
  for (int r = 0; r < res.rows(); ++r) anime.emplace_back(res.Get(r, 0));
  std::mt19937_64 rng(seed);
  std::vector<double> latency_ms, delivery_ms;  // commit -> in the graph / delivered by the feed
  int timeouts = 0;
  for (int w = 0; w < writes; ++w) {
    const auto& a = anime[rng() % anime.size()];
    const auto& b = anime[rng() % anime.size()];
    if (a == b || HasEdge(*rs[0].engine, a, b)) continue;
    conn.Exec("BEGIN");
    const uint64_t xid = psvc::changes::ChangeFeed::CurrentTransactionId(conn);
    conn.Query(
        "INSERT INTO anime_relation (anime_id, related_anime_id, relation_type) "
        "VALUES ($1::uuid, $2::uuid, 'OTHER') ON CONFLICT DO NOTHING",
        {a, b});
    conn.Query(
        "INSERT INTO qdrant_outbox (aggregate_id, event_type, payload) VALUES ($1::uuid, "
        "'AnimeRelationsChanged', convert_to('{\"schema\":1}', 'UTF8'))",
        {a});
    conn.Exec("COMMIT");
    const auto committed = Clock::now();
    std::vector<bool> seen(rs.size(), false), delivered(rs.size(), false);
    size_t left = rs.size(), undelivered = rs.size();
    while (left > 0 && Clock::now() - committed < 10s) {
      for (size_t i = 0; i < rs.size(); ++i) {
        if (!delivered[i] && rs[i].feed->watermark() > xid) {
          delivered[i] = true;
          if (--undelivered == 0) {
            delivery_ms.push_back(
                std::chrono::duration<double, std::milli>(Clock::now() - committed).count());
          }
        }
        if (!seen[i] && HasEdge(*rs[i].engine, a, b)) {
          seen[i] = true;
          --left;
        }
      }
      if (left > 0) std::this_thread::sleep_for(200us);
    }
    if (left > 0) {
      ++timeouts;
    } else {
      latency_ms.push_back(
          std::chrono::duration<double, std::milli>(Clock::now() - committed).count());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
  }
  if (latency_ms.empty()) {
    std::printf("no write became visible (%d timeouts)\n", timeouts);
    return 1;
  }
  if (!delivery_ms.empty()) {
    std::printf(
        "commit -> delivered by the change feed of all %d replicas: p50=%.1f ms p90=%.1f ms "
        "p99=%.1f ms\n",
        replicas, Percentile(delivery_ms, 0.5), Percentile(delivery_ms, 0.9),
        Percentile(delivery_ms, 0.99));
  }
  const auto f = rs[0].engine->Freshness();
  std::printf(
      "commit -> visible on all %d replicas: n=%zu p50=%.1f ms p90=%.1f ms p99=%.1f ms max=%.1f "
      "ms timeouts=%d\n",
      replicas, latency_ms.size(), Percentile(latency_ms, 0.5), Percentile(latency_ms, 0.9),
      Percentile(latency_ms, 0.99), Percentile(latency_ms, 1.0), timeouts);
  std::printf("replica 0: %lu patches (last %.1f ms), %lu reloads, %lu patch failures\n",
              static_cast<unsigned long>(f.patches), f.last_patch_seconds * 1000,
              static_cast<unsigned long>(f.reloads), static_cast<unsigned long>(f.patch_failures));
  for (auto& r : rs) r.feed->Stop();
  return timeouts == 0 ? 0 : 1;
}

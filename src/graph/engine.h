#pragma once
/// One interface for the engines that answer the graph primitives: SqlGraphEngine (PostgreSQL,
/// the reference and the fallback) and MemoryGraphEngine (an in-memory snapshot). Ids are
/// canonical UUIDs and limits resolved (limits.h); validation belongs to the API boundary.

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "graph/edge_type.h"
#include "graph/limits.h"
#include "graph/results.h"

namespace psvc::db {
class Pool;
}

namespace psvc::graph {

/// By when one call must be answered, and what it must include.
struct CallBudget {
  std::chrono::steady_clock::time_point deadline;
  /// Read-your-writes: the answer must include every transaction up to this xid (a write's
  /// change token). The SQL engine then reads the primary; the memory graph waits for it.
  std::optional<uint64_t> min_change;
  /// How long an engine may wait for `min_change` (at or before `deadline`).
  std::chrono::steady_clock::time_point change_wait_deadline{};
};

/// Thrown when an engine cannot include CallBudget::min_change by its change_wait_deadline.
class ChangeNotCaughtUp : public std::runtime_error {
 public:
  ChangeNotCaughtUp(uint64_t token, uint64_t watermark, std::string what)
      : std::runtime_error(std::move(what)), token_(token), watermark_(watermark) {}
  uint64_t token() const { return token_; }
  /// Every transaction below it was in the graph when the wait ended.
  uint64_t watermark() const { return watermark_; }

 private:
  uint64_t token_;
  uint64_t watermark_;
};

/// The four primitives. Implementations are thread-safe: calls run concurrently. Failures
/// are thrown as db::DbError (kTimeout once the deadline has passed, kPoolExhausted, ...).
class GraphEngine {
 public:
  virtual ~GraphEngine() = default;
  /// "sql" or "memory": what /readyz and the metrics report.
  virtual std::string_view name() const = 0;

  virtual NeighborsResult Neighbors(const CallBudget& budget, const std::string& id,
                                    const EdgeFilter& filter, int limit, int hub_window) = 0;
  virtual KHopResult KHop(const CallBudget& budget, const std::string& id, const EdgeFilter& filter,
                          const AppliedLimits& limits) = 0;
  virtual PathResult Path(const CallBudget& budget, const std::string& from, const std::string& to,
                          const EdgeFilter& filter, int max_hops, int hub_window,
                          int node_budget) = 0;
  virtual CompareResult Compare(const CallBudget& budget, const std::string& a,
                                const std::string& b) = 0;
};

/// Settings of the SQL engine.
struct SqlEngineOptions {
  std::chrono::milliseconds statement_timeout{2000};
  /// Longest a call may wait for a pooled connection (bounded further by its deadline).
  std::chrono::milliseconds acquire_timeout{1000};
  /// Where calls with CallBudget::min_change read when the engine's pool may lag (a standby):
  /// a read-only pool on the primary, set up like the engine's. nullptr: the pool reads the
  /// primary already. Must outlive the engine.
  db::Pool* primary_pool = nullptr;
};

/// The primitives as PostgreSQL statements (GraphQueries) on connections of a read-only pool
/// whose sessions ran GraphQueries::SessionSetup(). The pool must outlive the engine.
class SqlGraphEngine final : public GraphEngine {
 public:
  SqlGraphEngine(db::Pool& pool, SqlEngineOptions options) : pool_(pool), options_(options) {}
  std::string_view name() const override { return "sql"; }

  NeighborsResult Neighbors(const CallBudget& budget, const std::string& id,
                            const EdgeFilter& filter, int limit, int hub_window) override;
  KHopResult KHop(const CallBudget& budget, const std::string& id, const EdgeFilter& filter,
                  const AppliedLimits& limits) override;
  PathResult Path(const CallBudget& budget, const std::string& from, const std::string& to,
                  const EdgeFilter& filter, int max_hops, int hub_window, int node_budget) override;
  CompareResult Compare(const CallBudget& budget, const std::string& a,
                        const std::string& b) override;

 private:
  template <typename Work>
  auto WithQueries(const CallBudget& budget, Work work);

  db::Pool& pool_;
  SqlEngineOptions options_;
};

}  // namespace psvc::graph

#include "db/replica_lag.h"

#include <condition_variable>
#include <limits>
#include <mutex>
#include <optional>
#include <stop_token>
#include <thread>

#include <spdlog/spdlog.h>

#include "db/connection.h"
#include "db/error.h"
#include "db/pool.h"

namespace psvc::db {

namespace sql {

/// No parameters. Output: in_recovery, lag_seconds (float8). Time since the last replayed
/// commit is the lag only while WAL is still arriving unreplayed; a standby that has replayed
/// all it received from a live WAL receiver is current (an idle primary sends no commits, so
/// the timestamp alone would grow forever). pg_stat_wal_receiver shows an unprivileged role
/// only the pid, which is enough to know that a receiver runs.
inline constexpr Statement kReplicaLag{"db.replica_lag", R"sql(
SELECT pg_is_in_recovery(),
       CASE
         WHEN NOT pg_is_in_recovery() THEN 0::float8
         WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()
              AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE pid IS NOT NULL) THEN 0::float8
         ELSE COALESCE(extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8,
                       'Infinity'::float8)
       END)sql"};

}  // namespace sql

struct ReplicaLagMonitor::Impl {
  ReplicaLagOptions opt;
  mutable std::mutex mu;
  ReplicaLagStats stats;
  int bad_in_row = 0;              // checks in a row over the bound or failed
  bool saw_primary = false;        // the last check reached a server not in recovery
  std::optional<Connection> conn;  // used by CheckOnce only (the thread, or a test)
  std::jthread thread;

  void SetFallback(bool on, double lag) {
    {
      std::lock_guard lock(mu);
      if (stats.fallback == on) return;
      stats.fallback = on;
      ++stats.switches;
    }
    if (on) {
      spdlog::warn(
          "replica lag {:.1f} s (bound {} ms) or replica unreachable: reads go to the "
          "primary",
          lag, opt.max_lag.count());
    } else {
      spdlog::info("replica lag {:.1f} s: reads go to the replica again", lag);
    }
    for (Pool* pool : opt.pools) pool->UseFallback(on);
  }

  /// A replica cut off from its primary (which is failing over) lags ever more on paper;
  /// moving reads to a primary nobody can reach would turn stale reads into failed ones.
  bool FallbackReachable() const {
    if (opt.fallback_url.empty()) return true;
    try {
      Connection::Open(opt.fallback_url, std::chrono::seconds(2));
      return true;
    } catch (const DbError&) {
      return false;
    }
  }
};

ReplicaLagMonitor::ReplicaLagMonitor(ReplicaLagOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->opt = std::move(options);
}

ReplicaLagMonitor::~ReplicaLagMonitor() { Stop(); }

void ReplicaLagMonitor::Start() {
  if (impl_->thread.joinable()) return;
  impl_->thread = std::jthread([this](std::stop_token stop) {
    std::mutex mu;
    std::condition_variable_any cv;
    std::unique_lock lock(mu);
    while (!stop.stop_requested()) {
      CheckOnce();
      // Returns early when stop is requested (the predicate never is true).
      cv.wait_for(lock, stop, impl_->opt.interval, [] { return false; });
    }
  });
}

void ReplicaLagMonitor::Stop() {
  if (!impl_->thread.joinable()) return;
  impl_->thread.request_stop();
  impl_->thread.join();
}

void ReplicaLagMonitor::CheckOnce() {
  Impl& m = *impl_;
  try {
    if (!m.conn || !m.conn->Healthy()) {
      m.conn.reset();
      m.conn.emplace(Connection::Open(m.opt.url, std::chrono::seconds(2)));
      m.conn->SetStatementTimeout(std::chrono::seconds(2));
    }
    Result r = m.conn->Execute(sql::kReplicaLag);
    const bool in_recovery = r.GetBool(0, 0);
    const double lag = r.GetDouble(0, 1);
    {
      std::lock_guard lock(m.mu);
      ++m.stats.checks;
      m.stats.lag_seconds = lag;
      m.stats.in_recovery = in_recovery;
    }
    // A primary answered (a multi-host URL moves on when the standby is down): ask the URL
    // again next time, and once a standby answers again, move the read pools' connections
    // back to it; they would otherwise stay on the primary until they break or idle out.
    if (!in_recovery) m.conn.reset();
    if (in_recovery && m.saw_primary) {
      spdlog::info("the replica answers again: read connections move back to it");
      for (Pool* pool : m.opt.pools) pool->Reconnect();
    }
    m.saw_primary = !in_recovery;
    const double bound = std::chrono::duration<double>(m.opt.max_lag).count();
    if (lag > bound) {
      if (++m.bad_in_row >= m.opt.bad_checks_before_fallback) {
        const bool reachable = m.FallbackReachable();
        if (!reachable && !stats().fallback) {
          spdlog::warn(
              "replica lag {:.1f} s but the primary is unreachable: reads stay on the "
              "replica",
              lag);
        }
        m.SetFallback(reachable, lag);
      }
    } else {
      m.bad_in_row = 0;
      if (lag <= bound / 2) m.SetFallback(false, lag);
    }
  } catch (const DbError& e) {
    m.conn.reset();
    {
      std::lock_guard lock(m.mu);
      ++m.stats.checks;
      ++m.stats.failures;
    }
    if (++m.bad_in_row >= m.opt.bad_checks_before_fallback) {
      spdlog::warn("replica lag check failed: {}", e.what());
      m.SetFallback(true, std::numeric_limits<double>::infinity());
    }
  }
}

ReplicaLagStats ReplicaLagMonitor::stats() const {
  std::lock_guard lock(impl_->mu);
  return impl_->stats;
}

StatementList ReplicaLagMonitor::Statements() {
  static constexpr const Statement* kAll[] = {&sql::kReplicaLag};
  return kAll;
}

}  // namespace psvc::db

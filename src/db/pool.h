#pragma once
/// A bounded pool of PostgreSQL connections with a deadline on acquisition.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "db/connection.h"

namespace psvc::db {

/// How a Pool connects and how many connections it may hold.
struct PoolOptions {
  std::string url;
  std::size_t size = 8;
  std::chrono::milliseconds connect_timeout{5000};
  /// Session statement_timeout for every connection (0 = none); a request may lower it.
  std::chrono::milliseconds statement_timeout{2000};
  /// Every transaction read-only (graph reads, hydration): a bug cannot write through it.
  bool read_only = false;
  /// Statements run once on every new connection, e.g. "SET plan_cache_mode = ...".
  std::vector<std::string> session_setup;
  /// When set, named statements are counted and timed (Connection::ObserveStatements).
  observability::MetricsRegistry* metrics = nullptr;
  /// A connection idle this long is closed instead of handed out. The most recently released
  /// connection is reused first, so after a burst the others can sit idle for hours, where a
  /// server or network idle timeout would break them unnoticed.
  std::chrono::milliseconds max_idle{std::chrono::minutes(5)};
  /// Where connections go while UseFallback(true), e.g. the primary for a read pool whose
  /// replica lags too far behind (ReplicaLagMonitor). Empty: the pool never switches.
  std::string fallback_url;
};

/// Counters for metrics and tests.
struct PoolStats {
  std::size_t in_use = 0;
  std::size_t idle = 0;
  std::size_t waiting = 0;
  uint64_t acquisitions = 0;
  uint64_t timeouts = 0;
  uint64_t replaced = 0;
  /// Idle connections closed unused because another one broke or the target changed.
  uint64_t flushed = 0;
  std::chrono::nanoseconds total_wait{0};
  bool using_fallback = false;
};

class Pool;

/// A connection borrowed from a Pool; returned (or discarded when broken) on destruction.
class PooledConnection {
 public:
  PooledConnection(PooledConnection&& other) noexcept;
  PooledConnection& operator=(PooledConnection&&) = delete;
  ~PooledConnection();
  Connection& operator*() { return *conn_; }
  Connection* operator->() { return &*conn_; }

 private:
  friend class Pool;
  PooledConnection(Pool* pool, Connection conn, uint64_t generation)
      : pool_(pool), conn_(std::move(conn)), generation_(generation) {}
  Pool* pool_;
  std::optional<Connection> conn_;
  uint64_t generation_;
};

/// Thread-safe. Connections are opened lazily up to `size`; a caller waits for one until
/// its deadline, then gets DbError(kPoolExhausted) rather than hanging.
///
/// A connection that comes back broken closes every idle one too: a server restart or a
/// failover breaks them all at once, and each would otherwise fail one more request before
/// the pool noticed. Connections are then opened anew, which a multi-host URL with
/// target_session_attrs sends to the new primary.
class Pool {
 public:
  explicit Pool(PoolOptions options);
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;
  ~Pool();

  PooledConnection Acquire(std::chrono::steady_clock::time_point deadline);
  PooledConnection Acquire(std::chrono::milliseconds wait = std::chrono::milliseconds(2000)) {
    return Acquire(std::chrono::steady_clock::now() + wait);
  }
  PoolStats stats() const;
  const PoolOptions& options() const { return options_; }

  /// Opens new connections to options().fallback_url (true) or back to url (false); idle
  /// connections to the other server are closed, busy ones when they come back. No-op when
  /// unchanged or when there is no fallback_url.
  void UseFallback(bool on);
  /// Closes the idle connections (busy ones when they come back), so new ones go through the
  /// URL again: e.g. to a standby that is back after a multi-host URL moved on to the primary.
  void Reconnect();

 private:
  friend class PooledConnection;
  void Release(Connection conn, uint64_t generation);
  Connection OpenConnection(const std::string& url);
  /// Moves every idle connection to `out` (closed by the caller, outside the lock) and starts
  /// a new generation, so busy connections are closed on release. Called with mu_ held.
  void FlushLocked(std::vector<Connection>& out);

  PoolOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  struct Idle {
    Connection conn;
    std::chrono::steady_clock::time_point since;
  };
  std::deque<Idle> idle_;    // oldest release at the front
  std::size_t open_ = 0;     // idle + in use + being opened
  uint64_t generation_ = 0;  // bumped by FlushLocked; idle_ holds only the current one
  bool use_fallback_ = false;
  PoolStats stats_;
};

}  // namespace psvc::db

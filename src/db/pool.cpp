#include "db/pool.h"

#include "db/error.h"

namespace psvc::db {

PooledConnection::PooledConnection(PooledConnection&& other) noexcept
    : pool_(other.pool_), conn_(std::move(other.conn_)), generation_(other.generation_) {
  other.conn_.reset();
}

PooledConnection::~PooledConnection() {
  if (conn_) pool_->Release(std::move(*conn_), generation_);
}

Pool::Pool(PoolOptions options) : options_(std::move(options)) {
  if (options_.size == 0) throw std::invalid_argument("pool size must be at least 1");
}

Pool::~Pool() = default;

Connection Pool::OpenConnection(const std::string& url) {
  Connection conn = Connection::Open(url, options_.connect_timeout);
  conn.SetStatementTimeout(options_.statement_timeout);
  if (options_.read_only) conn.Exec("SET default_transaction_read_only = on");
  for (const auto& sql : options_.session_setup) conn.Exec(sql);
  conn.ObserveStatements(options_.metrics);
  return conn;
}

PooledConnection Pool::Acquire(std::chrono::steady_clock::time_point deadline) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<Connection> expired;  // closed after the lock is released
  std::unique_lock lock(mu_);
  ++stats_.waiting;
  while (!idle_.empty() && start - idle_.front().since > options_.max_idle) {
    expired.push_back(std::move(idle_.front().conn));
    idle_.pop_front();
    --open_;
  }
  for (;;) {
    if (!idle_.empty()) {
      // Most recently released first: its backend's caches (and ours) are still warm. Taking
      // them in turn, after a burst opened the whole pool, cost a call at 1 client ~0.06 ms
      // (graph_bench --clients 8,1, docs/benchmarks.md).
      Connection conn = std::move(idle_.back().conn);
      idle_.pop_back();
      --stats_.waiting;
      ++stats_.acquisitions;
      stats_.total_wait += std::chrono::steady_clock::now() - start;
      return PooledConnection(this, std::move(conn), generation_);
    }
    if (open_ < options_.size) {
      ++open_;
      --stats_.waiting;
      ++stats_.acquisitions;
      const uint64_t generation = generation_;
      const std::string& url = use_fallback_ ? options_.fallback_url : options_.url;
      lock.unlock();
      try {
        Connection conn = OpenConnection(url);
        std::lock_guard relock(mu_);
        stats_.total_wait += std::chrono::steady_clock::now() - start;
        return PooledConnection(this, std::move(conn), generation);
      } catch (...) {
        std::lock_guard relock(mu_);
        --open_;
        cv_.notify_one();
        throw;
      }
    }
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
        open_ >= options_.size) {
      --stats_.waiting;
      ++stats_.timeouts;
      throw DbError(ErrorKind::kPoolExhausted,
                    "no database connection available within the deadline (pool size " +
                        std::to_string(options_.size) + ")");
    }
  }
}

void Pool::Release(Connection conn, uint64_t generation) {
  const bool broken = !conn.Healthy();
  const bool reusable = !broken && conn.IdleOutsideTransaction();
  std::vector<Connection> flushed;  // closed after the lock is released
  {
    std::lock_guard lock(mu_);
    if (reusable && generation == generation_) {
      idle_.push_back({std::move(conn), std::chrono::steady_clock::now()});
    } else {
      // Broken, left inside a transaction by an exception path, or opened before a flush:
      // never hand it out again.
      --open_;
      ++(reusable ? stats_.flushed : stats_.replaced);
      // Only the first broken connection of a generation flushes: the others it closed
      // come back broken with the old generation.
      if (broken && generation == generation_) FlushLocked(flushed);
    }
    cv_.notify_all();
  }
}

void Pool::FlushLocked(std::vector<Connection>& out) {
  stats_.flushed += idle_.size();
  open_ -= idle_.size();
  for (auto& idle : idle_) out.push_back(std::move(idle.conn));
  idle_.clear();
  ++generation_;
}

void Pool::UseFallback(bool on) {
  std::vector<Connection> flushed;
  std::lock_guard lock(mu_);
  if (options_.fallback_url.empty() || on == use_fallback_) return;
  use_fallback_ = on;
  FlushLocked(flushed);
  cv_.notify_all();
}

void Pool::Reconnect() {
  std::vector<Connection> flushed;
  std::lock_guard lock(mu_);
  FlushLocked(flushed);
  cv_.notify_all();
}

PoolStats Pool::stats() const {
  std::lock_guard lock(mu_);
  PoolStats s = stats_;
  s.idle = idle_.size();
  s.in_use = open_ - idle_.size();
  s.using_fallback = use_fallback_;
  return s;
}

}  // namespace psvc::db

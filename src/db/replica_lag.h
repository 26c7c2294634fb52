#pragma once
/// Measures how far a streaming replica is behind its primary and moves read pools off it
/// while it is too far behind.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "db/statement.h"

namespace psvc::db {

class Pool;

/// What to watch and which pools to switch.
struct ReplicaLagOptions {
  /// The replica, as the read pools reach it (e.g. libpq multi-host with
  /// target_session_attrs=prefer-standby: when it lands on the primary, the lag is 0).
  std::string url;
  /// Beyond this the pools read from their fallback_url; they come back once the lag is
  /// under half of it (no flapping around the bound).
  std::chrono::milliseconds max_lag{5000};
  std::chrono::milliseconds interval{1000};
  /// Checks in a row over the bound, or unable to reach the replica, before the pools fall
  /// back. One is not enough: the first commit after an idle spell makes the lag look as old
  /// as the spell until it is replayed, a few milliseconds later.
  int bad_checks_before_fallback = 2;
  /// Each needs a fallback_url (Pool::UseFallback); not owned, must outlive the monitor.
  std::vector<Pool*> pools;
  /// The pools' fallback, tried before switching to it for lag: when it cannot be reached
  /// either (the primary is failing over), reads stay on the lagging replica. Empty: not tried.
  std::string fallback_url;
};

/// The last measurement, for metrics and tests.
struct ReplicaLagStats {
  /// Seconds the replica's replay is behind (0 on a primary or when caught up; +inf when it
  /// has replayed nothing and receives nothing). Negative before the first measurement.
  double lag_seconds = -1;
  bool in_recovery = false;  ///< the read URL reached a standby
  bool fallback = false;     ///< the pools read from their fallback now
  uint64_t checks = 0;
  uint64_t failures = 0;  ///< checks that could not reach the replica
  uint64_t switches = 0;  ///< fallback turned on or off
};

/// A thread that checks every `interval` (SQL: kReplicaLag below). Thread-safe.
class ReplicaLagMonitor {
 public:
  explicit ReplicaLagMonitor(ReplicaLagOptions options);
  ReplicaLagMonitor(const ReplicaLagMonitor&) = delete;
  ReplicaLagMonitor& operator=(const ReplicaLagMonitor&) = delete;
  ~ReplicaLagMonitor();

  void Start();
  void Stop();
  /// One measurement and decision now; the thread calls it every interval.
  void CheckOnce();
  ReplicaLagStats stats() const;

  static StatementList Statements();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace psvc::db

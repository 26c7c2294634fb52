#pragma once
/// What GET /readyz checks before a load balancer sends traffic: the database answers as the
/// serving role, its schema is at the binary's migration, and NATS is connected when events
/// are on (ingestion, outbox relay and sagas all need it).

#include <chrono>
#include <memory>
#include <string>

namespace psvc::db {
class Pool;
}

namespace psvc::cli {

/// Thread-safe; Check() may run on several HTTP workers at once.
class Readiness {
 public:
  /// `nats_url` empty: events are off and NATS is not checked.
  Readiness(db::Pool& pool, int latest_migration, const std::string& nats_url);
  ~Readiness();
  Readiness(const Readiness&) = delete;
  Readiness& operator=(const Readiness&) = delete;

  /// Empty when ready; otherwise why not, for the 503 body (never a URL: it may hold
  /// credentials). Bounded: about a second at worst.
  std::string Check();

 private:
  db::Pool& pool_;
  int latest_migration_;
  class NatsProbe;
  std::unique_ptr<NatsProbe> nats_;
};

}  // namespace psvc::cli

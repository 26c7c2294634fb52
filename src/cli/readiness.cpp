#include "cli/readiness.h"

#include <nats/nats.h>

#include <mutex>

#include "db/error.h"
#include "db/pool.h"
#include "events/detail/nats_util.h"

namespace psvc::cli {

/// One NATS connection of its own that reconnects in the background: "connected" means this
/// process can reach the server now. The relay and consumer connect to the same URL, so their
/// outages and this one coincide (they also reconnect with backoff).
class Readiness::NatsProbe {
 public:
  explicit NatsProbe(std::string url) : url_(std::move(url)) {}
  ~NatsProbe() { Reset(); }

  bool Connected() {
    std::lock_guard lock(mu_);
    if (conn_ && natsConnection_Status(conn_) == NATS_CONN_STATUS_CLOSED) Reset();
    if (!conn_) Connect();
    if (!conn_ || natsConnection_Status(conn_) != NATS_CONN_STATUS_CONNECTED) return false;
    // A round trip, so a half-open connection does not pass for a live one.
    return natsConnection_FlushTimeout(conn_, 500) == NATS_OK;
  }

 private:
  void Connect() {
    natsOptions* opts = nullptr;
    if (natsOptions_Create(&opts) != NATS_OK) return;
    events::detail::SetServers(opts, url_);
    natsOptions_SetName(opts, "postgres-service readiness");
    natsOptions_SetTimeout(opts, 1000);
    natsOptions_SetAllowReconnect(opts, true);
    natsOptions_SetMaxReconnect(opts, 1000000000);  // for ever, at the wait below
    natsOptions_SetReconnectWait(opts, 250);
    // NATS down at start-up: keep a handle that connects in the background (the call answers
    // NATS_NOT_YET_CONNECTED) instead of failing each probe with a fresh connect.
    natsOptions_SetRetryOnFailedConnect(opts, true, nullptr, nullptr);
    natsStatus s = natsConnection_Connect(&conn_, opts);
    natsOptions_Destroy(opts);
    if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) Reset();
  }

  void Reset() {
    if (conn_) natsConnection_Destroy(conn_);
    conn_ = nullptr;
  }

  std::string url_;
  std::mutex mu_;
  natsConnection* conn_ = nullptr;
};

Readiness::Readiness(db::Pool& pool, int latest_migration, const std::string& nats_url)
    : pool_(pool), latest_migration_(latest_migration) {
  if (!nats_url.empty()) nats_ = std::make_unique<NatsProbe>(nats_url);
}

Readiness::~Readiness() = default;

std::string Readiness::Check() {
  try {
    auto conn = pool_.Acquire(std::chrono::milliseconds(500));
    auto r = conn->Exec("SELECT coalesce(max(version), 0) FROM schema_migrations");
    if (r.GetInt64(0, 0) < latest_migration_) {
      return "database schema is behind; run `postgres-service migrate`";
    }
  } catch (const db::DbError& e) {
    return "database " + std::string(db::ToString(e.kind()));
  }
  if (nats_ && !nats_->Connected()) return "NATS not connected (events are on: --nats-url)";
  return {};
}

}  // namespace psvc::cli

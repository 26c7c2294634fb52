// Serves the GraphQL routes for the JS checks (graphql-http audit, buildClientSchema) and the
// benchmark. Without --database-url it serves a fresh migrated test database with the demo
// data, dropped on exit. Prints "listening on <port>" once ready; stops on SIGINT/SIGTERM.
// GET /metrics: the GraphQL request counters (the benchmark reads documents prepared).
//
//   graphql_test_server [--database-url URL] [--port N] [--threads N] [--pool-size N]
//   graphql_test_server --print-statement gql.search   (that loader statement's SQL)
//
// Subscriptions are served too (WebSocket on /graphql), fed by hand instead of the change feed:
// POST /test/change with {"anime_id":..,"event_type":..,"payload":"<outbox payload JSON>"}
// hands one change to the subscription hub (the benchmark of the fan-out measures from there).
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <libpq-fe.h>

#include "graphql_api/graphql_api.h"
#include "graphql_api/graphql_http.h"
#include "graphql_api/graphql_loaders.h"
#include "graphql_api/graphql_ws.h"
#include "graphql_api/subscription_hub.h"
#include "changes/change_source.h"
#include "dataset/demo_data.h"
#include "db/connection.h"
#include "db/pool.h"
#include "graphql/json.h"
#include "http/server.h"
#include "observability/metrics.h"
#include "testing/test_database.h"
#include "write/event_applier.h"

namespace {

// The change source of this server: changes posted to /test/change.
class PostedChanges final : public psvc::changes::ChangeSource {
 public:
  ListenerId Subscribe(Listener listener) override {
    std::lock_guard lock(mu_);
    listeners_.emplace_back(next_, std::move(listener));
    return next_++;
  }
  void Unsubscribe(ListenerId id) override {
    std::lock_guard lock(mu_);
    std::erase_if(listeners_, [id](const auto& l) { return l.first == id; });
  }
  uint64_t watermark() const override { return 0; }
  void Push(psvc::changes::Change change) {
    psvc::changes::ChangeBatch batch;
    std::lock_guard lock(mu_);
    change.outbox_id = ++outbox_id_;
    batch.changes.push_back(std::move(change));
    batch.read_at = std::chrono::system_clock::now();
    for (auto& [_, l] : listeners_) l(batch);
  }

 private:
  std::mutex mu_;
  std::vector<std::pair<ListenerId, Listener>> listeners_;
  ListenerId next_ = 1;
  int64_t outbox_id_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  using namespace psvc;
  std::string url;
  int port = 0, threads = 4, pool_size = 8;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--database-url")
      url = argv[i + 1];
    else if (flag == "--port")
      port = std::atoi(argv[i + 1]);
    else if (flag == "--threads")
      threads = std::atoi(argv[i + 1]);
    else if (flag == "--pool-size")
      pool_size = std::atoi(argv[i + 1]);
    else if (flag == "--print-statement") {
      // The SQL of one loader statement (the benchmark also sends it through pgbench).
      for (const db::Statement* st : api::RequestLoaders::Statements()) {
        if (st->name == argv[i + 1]) {
          std::printf("%.*s\n", static_cast<int>(st->sql.size()), st->sql.data());
          return 0;
        }
      }
      std::fprintf(stderr, "no statement named %s\n", argv[i + 1]);
      return 2;
    } else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  // Block the stop signals before any thread starts, so every thread inherits the mask and
  // sigwait below receives them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  try {
    std::optional<testing::TestDatabase> tdb;
    if (url.empty()) {
      tdb.emplace();
      url = tdb->url();
      auto conn = tdb->Connect();
      dataset::LoadDemoData(conn.native());
    }
    db::PoolOptions read{.url = url, .size = static_cast<std::size_t>(pool_size)};
    read.read_only = true;
    read.session_setup = api::GraphqlSessionSetup();
    db::Pool read_pool(read);
    db::Pool write_pool(db::PoolOptions{.url = url, .size = 4});
    write::EventApplier applier(write_pool);
    http::ServerOptions so;
    so.port = static_cast<uint16_t>(port);
    so.threads = threads;
    so.ws_max_connections = 5000;  // the subscription benchmark opens 1,000 and more
    http::Server server(so);
    auto graphql_api = std::make_shared<const api::GraphqlApi>(
        api::GraphqlApiOptions{.read_pool = read_pool, .applier = applier});
    observability::MetricsRegistry metrics;
    server.Route("GET", "/metrics", [&metrics](const http::Request&) {
      return http::Response{200, "text/plain; version=0.0.4; charset=utf-8", metrics.Render(), {}};
    });
    api::RegisterGraphqlRoutes(server, graphql_api, api::GraphqlHttpOptions{.metrics = &metrics});
    PostedChanges changes;
    api::SubscriptionHub hub(*graphql_api, changes);
    api::RegisterGraphqlWebSocket(server, hub);
    server.Route("POST", "/test/change", [&changes](const http::Request& req) {
      std::string why;
      auto body = graphql::ParseJson(req.body, &why);
      auto text = [&](const char* key) {
        const graphql::Value* v = body ? body->Find(key) : nullptr;
        return v && v->IsString() ? std::string(v->AsString()) : std::string();
      };
      changes::Change c;
      c.anime_id = text("anime_id");
      c.event_type = text("event_type");
      c.payload = text("payload");
      if (c.anime_id.empty() || c.event_type.empty()) {
        return http::Response{400, "text/plain", "anime_id and event_type\n", {}};
      }
      changes.Push(std::move(c));
      return http::Response{204, "text/plain", "", {}};
    });
    server.Start();
    std::printf("listening on %u\n", server.port());
    std::fflush(stdout);
    int sig = 0;
    sigwait(&stop, &sig);
    server.Stop();
    hub.Stop();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "graphql_test_server: %s\n", e.what());
    return 1;
  }
  return 0;
}

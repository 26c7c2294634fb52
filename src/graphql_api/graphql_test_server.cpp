// Serves the GraphQL routes for the JS checks (graphql-http audit, buildClientSchema) and the
// benchmark. Without --database-url it serves a fresh migrated test database with the demo
// data, dropped on exit. Prints "listening on <port>" once ready; stops on SIGINT/SIGTERM.
//
//   graphql_test_server [--database-url URL] [--port N] [--threads N] [--pool-size N]
//   graphql_test_server --print-statement gql.search   (that loader statement's SQL)
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include <libpq-fe.h>

#include "graphql_api/graphql_api.h"
#include "graphql_api/graphql_http.h"
#include "graphql_api/graphql_loaders.h"
#include "dataset/demo_data.h"
#include "db/connection.h"
#include "db/pool.h"
#include "http/server.h"
#include "testing/test_database.h"
#include "write/event_applier.h"

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
    http::Server server(so);
    api::RegisterGraphqlRoutes(server,
                               api::GraphqlApiOptions{.read_pool = read_pool, .applier = applier});
    server.Start();
    std::printf("listening on %u\n", server.port());
    std::fflush(stdout);
    int sig = 0;
    sigwait(&stop, &sig);
    server.Stop();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "graphql_test_server: %s\n", e.what());
    return 1;
  }
  return 0;
}

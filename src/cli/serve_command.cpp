#include <signal.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <thread>

#include <spdlog/spdlog.h>
#include <memory>

#include "auth/auth.h"
#include "changes/change_feed.h"
#include "cli/commands.h"
#include "cli/database_option.h"
#include "cli/readiness.h"
#include "cli/settings.h"
#include "db/error.h"
#include "db/migrator.h"
#include "db/pool.h"
#include "db/replica_lag.h"
#include "events/jetstream_consumer.h"
#include "events/outbox_relay.h"
#include "graph/engine.h"
#include "graph/graph_queries.h"
#include "graph/serving_engine.h"
#include "graphql_api/graphql_api.h"
#include "graphql_api/graphql_http.h"
#include "graphql_api/graphql_ws.h"
#include "graphql_api/http_observability.h"
#include "graphql_api/subscription_hub.h"
#include "grpc_api/graph_service.h"
#include "grpc_api/grpc_server.h"
#include "grpc_api/write_service.h"
#include "http/server.h"
#include "observability/logging.h"
#include "observability/metrics.h"
#include "saga/saga_metrics.h"
#include "saga/saga_runner.h"
#include "saga/saga_store.h"
#include "write/event_applier.h"
#include "write/view_counter.h"

namespace psvc::cli {

namespace {

struct ServeOptions {
  std::string config_file;
  std::string database_url;
  std::string read_database_url;
  std::string grpc_address = "127.0.0.1:50051";
  int grpc_threads = 32;
  std::size_t read_pool_size = 8;
  std::string graph_engine = "memory";
  int read_max_lag_ms = 5000;
  std::string nats_url;
  std::string ingest_stream = "ANIME_INGEST";
  std::string ingest_subjects = "anime.ingest.>";
  std::string ingest_durable = "postgres-service";
  std::string dead_letter_subject = "anime.ingest.dlq";
  std::string changes_stream = "ANIME_CHANGES";
  std::string changes_prefix = "anime.changes";
  int outbox_retention_hours = 24;
  int view_flush_ms = 1000;
  int view_dedup_seconds = 120;
  int view_max_pending_anime = 100'000;
  int ingest_dependency_wait_ms = 180000;
  std::string saga_reply_prefix = "anime.saga.replies";
  int saga_lease_ms = 30000;
  int saga_reply_timeout_ms = 30000;
  uint32_t graphql_max_depth = 10;
  uint32_t graphql_max_aliases = 30;
  uint64_t graphql_max_cost = 10000;
  bool graphql_introspection = true;
  std::string graphiql_dir;
  std::string graphql_persisted_dir;
  bool graphql_persisted_only = false;
  size_t graphql_persisted_entries = 1000;
  std::string auth_tokens;
  bool read_auth = false;
  std::string log_format = "auto";
  std::string log_level = "info";
  std::string http_address = "127.0.0.1";
  uint16_t http_port = 8080;
  int http_threads = 4;
  int http_io_threads = 2;
  int http_max_in_flight = 256;
  int http_queue_timeout_ms = 1000;
  int ws_max_connections = 1000;
  int ws_max_operations = 100;
  int ws_init_timeout_ms = 3000;
  std::size_t ws_max_queued_bytes = 1 << 20;
  std::string cors_origins;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  std::size_t pool_size = 8;
  int statement_timeout_ms = 2000;
};

void AddPoolCollector(observability::MetricsRegistry& metrics, const db::Pool& pool,
                      const char* name) {
  metrics.AddCollector([&pool, name](observability::SampleWriter& w) {
    auto s = pool.stats();
    w.Add("psvc_db_pool_connections", "Pooled connections by state", "gauge",
          {{"pool", name}, {"state", "in_use"}}, static_cast<double>(s.in_use));
    w.Add("psvc_db_pool_connections", "Pooled connections by state", "gauge",
          {{"pool", name}, {"state", "idle"}}, static_cast<double>(s.idle));
    w.Add("psvc_db_pool_waiting", "Callers waiting for a connection", "gauge", {{"pool", name}},
          static_cast<double>(s.waiting));
    w.Add("psvc_db_pool_acquisitions_total", "Connections handed out", "counter", {{"pool", name}},
          static_cast<double>(s.acquisitions));
    w.Add("psvc_db_pool_timeouts_total", "Acquisitions that gave up at their deadline", "counter",
          {{"pool", name}}, static_cast<double>(s.timeouts));
    w.Add("psvc_db_pool_replaced_total", "Broken connections discarded", "counter",
          {{"pool", name}}, static_cast<double>(s.replaced));
    w.Add("psvc_db_pool_flushed_total",
          "Idle connections closed because another one broke or the target changed", "counter",
          {{"pool", name}}, static_cast<double>(s.flushed));
    w.Add("psvc_db_pool_wait_seconds_total", "Time spent waiting for connections", "counter",
          {{"pool", name}}, std::chrono::duration<double>(s.total_wait).count());
  });
}

int RunServe(const ServeOptions& o) {
  observability::ConfigureLogging(o.log_format, o.log_level);
  observability::MetricsRegistry metrics;
  observability::AddProcessCollector(metrics);
  // Block termination signals before any thread starts so only sigwait below sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  db::Pool pool({.url = o.database_url,
                 .size = o.pool_size,
                 .statement_timeout = std::chrono::milliseconds(o.statement_timeout_ms),
                 .metrics = &metrics});
  const bool replica = !o.read_database_url.empty();
  const std::string& read_url = replica ? o.read_database_url : o.database_url;
  // While a replica lags beyond --read-max-lag-ms the read pools use the primary instead.
  const std::string fallback_url = replica ? o.database_url : "";
  // Graph reads use their own read-only pool, on a replica when one is configured.
  db::Pool read_pool({.url = read_url,
                      .size = o.read_pool_size,
                      .statement_timeout = std::chrono::milliseconds(o.statement_timeout_ms),
                      .read_only = true,
                      .session_setup = graph::GraphQueries::SessionSetup(),
                      .metrics = &metrics,
                      .fallback_url = fallback_url});
  // GraphQL: its own read-only pool, so slow graph traversals never starve page loads.
  db::Pool graphql_pool({.url = read_url,
                         .size = o.read_pool_size,
                         .statement_timeout = std::chrono::milliseconds(o.statement_timeout_ms),
                         .read_only = true,
                         .session_setup = api::GraphqlSessionSetup(),
                         .metrics = &metrics,
                         .fallback_url = fallback_url});
  // Read-your-writes with a replica: graph calls naming a change token read the primary, which
  // holds every committed write (docs/graph.md "Reading your own writes").
  std::unique_ptr<db::Pool> primary_graph_pool;
  if (replica) {
    primary_graph_pool = std::make_unique<db::Pool>(
        db::PoolOptions{.url = o.database_url,
                        .size = std::max<std::size_t>(2, o.read_pool_size / 4),
                        .statement_timeout = std::chrono::milliseconds(o.statement_timeout_ms),
                        .read_only = true,
                        .session_setup = graph::GraphQueries::SessionSetup(),
                        .metrics = &metrics});
  }
  std::unique_ptr<db::ReplicaLagMonitor> lag_monitor;
  if (replica) {
    lag_monitor = std::make_unique<db::ReplicaLagMonitor>(
        db::ReplicaLagOptions{.url = read_url,
                              .max_lag = std::chrono::milliseconds(o.read_max_lag_ms),
                              .pools = {&read_pool, &graphql_pool},
                              .fallback_url = fallback_url});
    lag_monitor->Start();
    metrics.AddCollector([m = lag_monitor.get()](observability::SampleWriter& w) {
      auto s = m->stats();
      w.Add("psvc_db_replica_lag_seconds",
            "Replay lag of the --read-database-url replica at the last check (0 on a primary)",
            "gauge", {}, s.lag_seconds);
      w.Add("psvc_db_replica_fallback", "1 while reads go to the primary (replica lags or is down)",
            "gauge", {}, s.fallback ? 1.0 : 0.0);
      w.Add("psvc_db_replica_check_failures_total", "Lag checks that could not reach the replica",
            "counter", {}, static_cast<double>(s.failures));
    });
  }
  AddPoolCollector(metrics, pool, "primary");
  AddPoolCollector(metrics, read_pool, "read");
  api::GrpcServer grpc_server({.address = o.grpc_address,
                               .max_threads = o.grpc_threads,
                               .metrics = &metrics,
                               .tls_cert_file = o.tls_cert,
                               .tls_key_file = o.tls_key,
                               .tls_client_ca_file = o.tls_client_ca});
  api::GraphServiceOptions graph_options;
  graph_options.statement_timeout = std::chrono::milliseconds(o.statement_timeout_ms);
  // Tokens are checked here, at start-up, so a weak one fails before anything listens.
  api::BearerTokens tokens(api::SplitTokens(o.auth_tokens));
  api::BearerTokens no_tokens;
  graph_options.tokens = o.read_auth ? &tokens : &no_tokens;
  graph_options.redirect_pool = &read_pool;  // merged ids are answered for their survivor
  graph_options.primary_redirect_pool = primary_graph_pool.get();
  graph::SqlGraphEngine sql_graph(read_pool, {.statement_timeout = graph_options.statement_timeout,
                                              .acquire_timeout = graph_options.acquire_timeout,
                                              .primary_pool = primary_graph_pool.get()});
  // The committed change feed (docs/architecture.md): one per replica, read from the primary,
  // starting at the current watermark; consumers inside the replica subscribe to it.
  changes::ChangeFeed change_feed({.database_url = o.database_url});
  change_feed.AddMetrics(metrics);
  graph::ServingGraphEngine graph_engine(sql_graph);
  if (o.graph_engine == "memory") {
    // The memory graph loads in the background; SQL answers until it is ready. It then follows
    // the feed: the anime a write names are re-read from the primary (where the feed reads)
    // and patched in; a whole reload when the feed says changes were lost or after a bulk load.
    graph_engine.FollowChanges(change_feed, o.database_url);
    graph_engine.LoadMemoryInBackground(read_url);
  }
  graph_engine.AddMetrics(metrics);
  api::RegisterGraphService(grpc_server, graph_engine, graph_options);
  write::EventApplier applier(pool);
  // GraphQL recordView: views are counted in memory and added in bulk every --view-flush-ms.
  write::ViewCounterOptions view_options;
  view_options.flush_interval = std::chrono::milliseconds(o.view_flush_ms);
  view_options.status_ttl = std::chrono::milliseconds(o.view_flush_ms);
  view_options.dedup_window = std::chrono::seconds(o.view_dedup_seconds);
  view_options.max_pending_anime = static_cast<size_t>(o.view_max_pending_anime);
  write::ViewCounter views(pool, view_options);
  views.Start();
  metrics.AddCollector([&views](observability::SampleWriter& w) {
    auto s = views.stats();
    w.Add("psvc_views_counted_total", "Page views accepted by recordView", "counter", {},
          static_cast<double>(s.counted));
    w.Add("psvc_views_duplicates_total", "Page views not counted again (repeated viewId)",
          "counter", {}, static_cast<double>(s.duplicates));
    w.Add("psvc_views_flushed_total", "Page views written to the database", "counter", {},
          static_cast<double>(s.flushed));
    w.Add("psvc_views_flush_failures_total", "View flushes that failed (views kept)", "counter", {},
          static_cast<double>(s.flush_failures));
    w.Add("psvc_views_flush_retries_applied_total",
          "Retried view flushes found already committed (not written again)", "counter", {},
          static_cast<double>(s.flush_retries_found_applied));
    w.Add("psvc_views_pending", "Page views not yet written to the database", "gauge", {},
          static_cast<double>(s.pending));
    w.Add("psvc_views_pending_anime", "Distinct anime holding page views not yet written", "gauge",
          {}, static_cast<double>(s.pending_anime));
    w.Add("psvc_views_refused_total",
          "Page views refused because --view-max-pending-anime anime already wait for a flush",
          "counter", {}, static_cast<double>(s.refused));
    w.Add("psvc_views_unverified_total",
          "Page views counted on a remembered anime status because the database did not answer",
          "counter", {}, static_cast<double>(s.counted_unverified));
  });
  // Sagas need NATS for the Qdrant Sync Service's confirmations: without it every saga would
  // time out and undo itself, so the saga methods answer UNIMPLEMENTED instead.
  std::unique_ptr<saga::SagaRunner> saga_runner;
  std::unique_ptr<saga::SagaStore> sagas;
  if (!o.nats_url.empty()) {
    saga::SagaRunnerOptions so;
    so.nats_url = o.nats_url;
    so.reply_subject_prefix = o.saga_reply_prefix;
    so.lease_ttl = std::chrono::milliseconds(o.saga_lease_ms);
    so.reply_timeout = std::chrono::milliseconds(o.saga_reply_timeout_ms);
    saga_runner = std::make_unique<saga::SagaRunner>(pool, so);
    sagas = std::make_unique<saga::SagaStore>(pool, [r = saga_runner.get()] { r->Wake(); });
    saga::AddSagaMetrics(metrics, *saga_runner, *sagas);
  }
  if (!tokens.enabled()) {
    spdlog::warn("write surfaces are not authenticated (set --auth-tokens / PSVC_AUTH_TOKENS)");
  }
  api::RegisterWriteService(grpc_server, applier, sagas.get(), &tokens);
  // Repairs relations left pending by a race with their target's creation (see
  // EventApplier::MaterializeStrandedRelations); cheap when there is nothing to do.
  // The same thread refreshes the search lane's company popularity (api::RefreshSearchPopularity):
  // 5 s after start-up, then every minute.
  // Without NATS nothing relays the outbox, so the same thread deletes rows older than
  // --outbox-retention-hours, published or not, every minute.
  const auto unrelayed_retention =
      o.nats_url.empty() ? std::chrono::milliseconds(std::chrono::hours(o.outbox_retention_hours))
                         : std::chrono::milliseconds(0);
  std::jthread pending_sweeper([&applier, &pool, unrelayed_retention](std::stop_token stop) {
    std::mutex mu;
    std::condition_variable_any cv;
    std::unique_lock lock(mu);
    for (int tick = 0; !stop.stop_requested(); ++tick) {
      // Returns early when stop is requested (the predicate never is true).
      cv.wait_for(lock, stop, std::chrono::seconds(5), [] { return false; });
      if (stop.stop_requested()) break;
      try {
        if (int n = applier.MaterializeStrandedRelations()) {
          spdlog::info("pending relations: materialized relations of {} anime", n);
        }
      } catch (const std::exception& e) {
        spdlog::warn("pending relations sweep failed: {}", e.what());
      }
      if (tick % 12 != 0) continue;
      try {
        api::RefreshSearchPopularity(pool);
      } catch (const std::exception& e) {
        spdlog::warn("search popularity refresh failed: {}", e.what());
      }
      if (unrelayed_retention.count() == 0) continue;
      try {
        auto conn = pool.Acquire();
        if (int64_t n = events::PruneUnrelayedOutbox(*conn, unrelayed_retention)) {
          spdlog::info("outbox: deleted {} rows older than the retention (events off: no relay)",
                       n);
        }
      } catch (const std::exception& e) {
        spdlog::warn("outbox prune failed: {}", e.what());
      }
    }
  });
  change_feed.Start();
  grpc_server.Start();
  if (saga_runner) saga_runner->Start();

  // Events: the outbox relay and the ingestion consumer run when NATS is configured.
  std::unique_ptr<events::OutboxRelay> relay;
  std::unique_ptr<events::JetStreamConsumer> consumer;
  if (!o.nats_url.empty()) {
    events::OutboxRelayOptions ro;
    ro.database_url = o.database_url;
    ro.nats_url = o.nats_url;
    ro.stream = o.changes_stream;
    ro.subject_prefix = o.changes_prefix;
    ro.retention = std::chrono::hours(o.outbox_retention_hours);
    relay = std::make_unique<events::OutboxRelay>(ro);
    relay->Start();
    metrics.AddCollector([r = relay.get()](observability::SampleWriter& w) {
      auto s = r->stats();
      w.Add("psvc_outbox_backlog", "Unpublished outbox rows at the last check", "gauge", {},
            static_cast<double>(s.backlog));
      w.Add("psvc_outbox_oldest_unpublished_seconds", "Age of the oldest unpublished row", "gauge",
            {}, s.oldest_unpublished_s);
      w.Add("psvc_outbox_published_total", "Outbox rows published and acknowledged", "counter", {},
            static_cast<double>(s.published));
      w.Add("psvc_outbox_publish_failures_total", "Failed publishes", "counter", {},
            static_cast<double>(s.publish_failures));
      std::vector<double> bounds;
      for (double ms : s.kLatencyBucketsMs) bounds.push_back(ms / 1000);
      w.AddHistogram("psvc_outbox_publish_latency_seconds",
                     "Outbox row insert to JetStream acknowledgement", bounds,
                     {s.latency_buckets.begin(), s.latency_buckets.end()}, s.latency_sum_ms / 1000);
    });
    events::JetStreamConsumerOptions co;
    co.nats_url = o.nats_url;
    co.stream = o.ingest_stream;
    co.subjects = {o.ingest_subjects};
    co.durable = o.ingest_durable;
    co.dead_letter_subject = o.dead_letter_subject;
    co.fetch_batch = 128;  // one transaction per fetch (ApplyBatch)
    co.dependency_wait = std::chrono::milliseconds(o.ingest_dependency_wait_ms);
    consumer = std::make_unique<events::JetStreamConsumer>(
        co, events::BatchHandler([&applier](const std::vector<events::Delivery>& batch) {
          return api::HandleIngestMessages(applier, batch);
        }));
    consumer->Start();
    metrics.AddCollector([c = consumer.get()](observability::SampleWriter& w) {
      auto s = c->stats();
      w.Add("psvc_ingest_pending", "Ingestion messages not yet acknowledged", "gauge", {},
            static_cast<double>(s.pending));
      w.Add("psvc_ingest_acked_total", "Ingestion messages acknowledged", "counter", {},
            static_cast<double>(s.acked));
      w.Add("psvc_ingest_redeliveries_total", "Ingestion messages seen more than once", "counter",
            {}, static_cast<double>(s.redeliveries));
      w.Add("psvc_ingest_retried_total", "Ingestion messages put back after a transient failure",
            "counter", {}, static_cast<double>(s.retried));
      w.Add("psvc_ingest_waiting_total",
            "Ingestion messages put back to wait for an anime not applied yet", "counter", {},
            static_cast<double>(s.waiting));
      w.Add("psvc_ingest_dead_lettered_total", "Ingestion messages sent to the dead-letter subject",
            "counter", {}, static_cast<double>(s.dead_lettered));
    });
  }

  const int latest = db::EmbeddedMigrations().empty() ? 0 : db::EmbeddedMigrations().back().version;

  Readiness readiness(pool, latest, o.nats_url);  // before the server: its route uses it
  http::Server server({.address = o.http_address,
                       .port = o.http_port,
                       .threads = o.http_threads,
                       .io_threads = o.http_io_threads,
                       .max_in_flight = o.http_max_in_flight,
                       .queue_timeout = std::chrono::milliseconds(o.http_queue_timeout_ms),
                       .cors_origins = api::SplitTokens(o.cors_origins),
                       .observer = api::MakeHttpObserver(metrics),
                       .tls_cert_file = o.tls_cert,
                       .tls_key_file = o.tls_key,
                       .tls_client_ca_file = o.tls_client_ca,
                       .ws_max_connections = o.ws_max_connections,
                       .ws_max_queued_bytes = o.ws_max_queued_bytes});
  server.Route("GET", "/metrics", [&metrics](const http::Request&) {
    return http::Response{200, "text/plain; version=0.0.4; charset=utf-8", metrics.Render(), {}};
  });
  server.Route("GET", "/healthz", [](const http::Request&) {
    return http::Response{200, "text/plain; charset=utf-8", "ok\n", {}};
  });
  server.Route("GET", "/readyz", [&readiness, &graph_engine](const http::Request&) {
    std::string why = readiness.Check();
    auto engine = graph_engine.Status();
    std::vector<std::pair<std::string, std::string>> headers = {
        {"X-Graph-Engine", engine.engine + "; " + engine.detail}};
    if (why.empty()) return http::Response{200, "text/plain; charset=utf-8", "ready\n", headers};
    return http::Response{503, "text/plain; charset=utf-8", "not ready: " + why + "\n", headers};
  });
  AddPoolCollector(metrics, graphql_pool, "graphql");
  auto graphql_api = std::make_shared<const api::GraphqlApi>(
      api::GraphqlApiOptions{.read_pool = graphql_pool,
                             .applier = applier,
                             .max_depth = o.graphql_max_depth,
                             .max_aliases = o.graphql_max_aliases,
                             .max_cost = o.graphql_max_cost,
                             .introspection = o.graphql_introspection,
                             .statement_timeout = std::chrono::milliseconds(o.statement_timeout_ms),
                             // A change is read back from the primary: a replica may lag it.
                             .event_pool = &pool,
                             .views = &views});
  // GraphQL subscriptions follow the committed change feed (started above).
  api::SubscriptionHub subscriptions(*graphql_api, change_feed, &metrics);
  api::RegisterGraphqlWebSocket(
      server, subscriptions,
      api::GraphqlWsOptions{.init_timeout = std::chrono::milliseconds(o.ws_init_timeout_ms),
                            .max_operations = o.ws_max_operations,
                            .read_tokens = o.read_auth ? &tokens : &no_tokens,
                            .write_tokens = &tokens,
                            .metrics = &metrics});
  metrics.AddCollector([&server, &subscriptions, &o](observability::SampleWriter& w) {
    auto ws = server.websocket_stats();
    auto h = subscriptions.stats();
    w.Add("psvc_graphql_ws_connections", "Open GraphQL WebSocket connections", "gauge", {},
          static_cast<double>(ws.open));
    w.Add("psvc_graphql_ws_max_connections", "Limit of open connections (--ws-max-connections)",
          "gauge", {}, o.ws_max_connections);
    w.Add("psvc_graphql_ws_max_operations",
          "Limit of operations per connection (--ws-max-operations)", "gauge", {},
          o.ws_max_operations);
    w.Add("psvc_graphql_ws_max_queued_bytes",
          "Bytes queued for a connection before it is dropped (--ws-max-queued-bytes)", "gauge", {},
          static_cast<double>(o.ws_max_queued_bytes));
    w.Add("psvc_graphql_ws_accepted_total", "GraphQL WebSocket upgrades accepted", "counter", {},
          static_cast<double>(ws.accepted));
    w.Add("psvc_graphql_ws_refused_total",
          "GraphQL WebSocket upgrades refused at --ws-max-connections", "counter", {},
          static_cast<double>(ws.refused_full));
    w.Add("psvc_graphql_ws_slow_consumer_closes_total",
          "Connections closed (1013) because their queue passed --ws-max-queued-bytes", "counter",
          {}, static_cast<double>(ws.slow_consumers));
    w.Add("psvc_graphql_ws_messages_sent_total", "WebSocket messages written", "counter", {},
          static_cast<double>(ws.messages_sent));
    w.Add("psvc_graphql_subscriptions", "Active GraphQL subscriptions", "gauge", {},
          static_cast<double>(h.subscriptions));
    w.Add("psvc_graphql_subscription_changes_total", "Committed changes read from the feed",
          "counter", {}, static_cast<double>(h.changes));
    w.Add("psvc_graphql_subscription_executions_total",
          "Subscription documents run (subscriptions sharing a document and variables share one)",
          "counter", {}, static_cast<double>(h.executions));
    w.Add("psvc_graphql_subscription_deliveries_total", "Results handed to subscriptions",
          "counter", {}, static_cast<double>(h.deliveries));
    w.Add("psvc_graphql_subscription_queued_batches", "Change batches read and not yet delivered",
          "gauge", {}, static_cast<double>(h.queued_batches));
  });
  api::RegisterGraphqlRoutes(
      server, graphql_api,
      api::GraphqlHttpOptions{.graphiql_dir = o.graphiql_dir,
                              .write_tokens = &tokens,
                              .read_tokens = o.read_auth ? &tokens : &no_tokens,
                              .metrics = &metrics,
                              .persisted_query_entries = o.graphql_persisted_entries,
                              .persisted_dir = o.graphql_persisted_dir,
                              .persisted_only = o.graphql_persisted_only});
  server.Start();
  std::cout << "postgres-service: HTTP on " << (server.tls() ? "https://" : "http://")
            << o.http_address << ":" << server.port()
            << " (/graphql, /healthz, /readyz, /metrics); gRPC on "
            << o.grpc_address.substr(0, o.grpc_address.rfind(':')) << ":" << grpc_server.port()
            << (o.tls_cert.empty() ? "" : " (TLS)")
            << (o.nats_url.empty() ? "; events off (no --nats-url)" : "; events via " + o.nats_url)
            << "; Ctrl-C or SIGTERM to stop" << std::endl;

  int sig = 0;
  sigwait(&signals, &sig);
  std::cout << "postgres-service: signal " << sig << ", shutting down" << std::endl;
  // Stop taking work first, then finish what is in flight, then the relay's last batch.
  if (consumer) consumer->Stop();
  grpc_server.Shutdown(std::chrono::seconds(5));
  if (saga_runner) saga_runner->Stop();
  server.Stop();  // WebSocket subscribers get 1001 (Going Away)
  subscriptions.Stop();
  change_feed.Stop();
  views.Stop();  // the drain: views counted so far are written before the relay stops
  if (relay) relay->Stop();
  return 0;
}

}  // namespace

void AddServeCommand(CLI::App& app) {
  auto o = std::make_shared<ServeOptions>();
  auto* cmd = app.add_subcommand("serve", "Serve the APIs");
  cmd->footer(
      "Every setting is a flag, an environment variable (shown after the flag) or a line of the "
      "--config file; a flag wins over the environment, which wins over the file.");
  AddConfigFileOption(*cmd, o->config_file);
  // Required, but possibly from the config file: checked after it is read (see callback).
  AddDatabaseUrlOption(*cmd, o->database_url)->required(false);
  cmd->add_option("--read-database-url", o->read_database_url,
                  "libpq URI for graph reads (a streaming replica); default: --database-url")
      ->envname("PSVC_READ_DATABASE_URL");
  cmd->add_option("--read-max-lag-ms", o->read_max_lag_ms,
                  "Replay lag of --read-database-url beyond which reads go to --database-url "
                  "until it is back under half (checked every second; two checks in a row)")
      ->envname("PSVC_READ_MAX_LAG_MS")
      ->check(CLI::Range(1, 3600000))
      ->capture_default_str();
  cmd->add_option("--grpc-address", o->grpc_address, "gRPC listen address host:port (port 0 = any)")
      ->envname("PSVC_GRPC_ADDRESS")
      ->capture_default_str();
  cmd->add_option("--grpc-threads", o->grpc_threads, "Most threads serving gRPC calls")
      ->envname("PSVC_GRPC_THREADS")
      ->check(CLI::Range(2, 1024))
      ->capture_default_str();
  cmd->add_option("--read-pool-size", o->read_pool_size, "Database connections for graph reads")
      ->envname("PSVC_READ_POOL_SIZE")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cmd->add_option("--graph-engine", o->graph_engine,
                  "What answers PostgresGraphService: sql (every call runs SQL) or memory (a graph "
                  "snapshot loaded at start-up, SQL until it is ready, then patched per anime from "
                  "committed writes to graph data: a write is visible within tens of "
                  "milliseconds of its commit; reloaded whole after a bulk load; see "
                  "docs/graph.md)")
      ->envname("PSVC_GRAPH_ENGINE")
      ->check(CLI::IsMember({"sql", "memory"}))
      ->capture_default_str();
  cmd->add_option(
         "--nats-url", o->nats_url,
         "NATS server with JetStream; enables ingestion and the outbox relay (empty = off)")
      ->envname("NATS_URL");
  cmd->add_option("--ingest-stream", o->ingest_stream, "JetStream stream of ingestion events")
      ->envname("PSVC_INGEST_STREAM")
      ->capture_default_str();
  cmd->add_option("--ingest-subjects", o->ingest_subjects, "Subjects the ingestion stream captures")
      ->envname("PSVC_INGEST_SUBJECTS")
      ->capture_default_str();
  cmd->add_option("--ingest-durable", o->ingest_durable,
                  "Durable consumer name (shared by replicas)")
      ->envname("PSVC_INGEST_DURABLE")
      ->capture_default_str();
  cmd->add_option("--dead-letter-subject", o->dead_letter_subject,
                  "Where events that can never apply go, with the reason in headers")
      ->envname("PSVC_DEAD_LETTER_SUBJECT")
      ->capture_default_str();
  cmd->add_option("--ingest-dependency-wait-ms", o->ingest_dependency_wait_ms,
                  "An event for an anime that has not arrived yet is retried with backoff this "
                  "long in all (its enrichment may be redelivered after it), then dead-lettered")
      ->envname("PSVC_INGEST_DEPENDENCY_WAIT_MS")
      ->check(CLI::Range(0, 7 * 24 * 3600 * 1000))
      ->capture_default_str();
  cmd->add_option("--changes-stream", o->changes_stream,
                  "JetStream stream the outbox relay publishes to")
      ->envname("PSVC_CHANGES_STREAM")
      ->capture_default_str();
  cmd->add_option("--changes-prefix", o->changes_prefix,
                  "Subject prefix of outbox messages (<prefix>.<event type>)")
      ->envname("PSVC_CHANGES_PREFIX")
      ->capture_default_str();
  cmd->add_option("--outbox-retention-hours", o->outbox_retention_hours,
                  "Published outbox rows are pruned after this (without --nats-url: every row, "
                  "published or not)")
      ->envname("PSVC_OUTBOX_RETENTION_HOURS")
      ->check(CLI::Range(1, 24 * 365))
      ->capture_default_str();
  cmd->add_option("--view-flush-ms", o->view_flush_ms,
                  "recordView counts views in memory and adds them to the database this often "
                  "(one statement per flush); a crash loses at most this long of views")
      ->envname("PSVC_VIEW_FLUSH_MS")
      ->check(CLI::Range(10, 60000))
      ->capture_default_str();
  cmd->add_option("--view-max-pending-anime", o->view_max_pending_anime,
                  "At most this many distinct anime hold views not yet written (they pile up "
                  "while the database is unreachable); a recordView of another anime beyond it "
                  "is refused with an error")
      ->envname("PSVC_VIEW_MAX_PENDING_ANIME")
      ->check(CLI::Range(1, 100'000'000))
      ->capture_default_str();
  cmd->add_option("--view-dedup-seconds", o->view_dedup_seconds,
                  "A recordView viewId seen by this replica within this window is not counted "
                  "again")
      ->envname("PSVC_VIEW_DEDUP_SECONDS")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  cmd->add_option("--saga-reply-prefix", o->saga_reply_prefix,
                  "Saga confirmations arrive on <prefix>.<saga id> (same for every replica)")
      ->envname("PSVC_SAGA_REPLY_PREFIX")
      ->capture_default_str();
  cmd->add_option(
         "--saga-lease-ms", o->saga_lease_ms,
         "How long a replica holds a saga it drives; a dead replica's sagas resume after it")
      ->envname("PSVC_SAGA_LEASE_MS")
      ->check(CLI::Range(500, 3600000))
      ->capture_default_str();
  cmd->add_option("--saga-reply-timeout-ms", o->saga_reply_timeout_ms,
                  "Wait for the Qdrant Sync Service's answer before asking again (3 tries)")
      ->envname("PSVC_SAGA_REPLY_TIMEOUT_MS")
      ->check(CLI::Range(100, 3600000))
      ->capture_default_str();
  cmd->add_option("--graphql-max-depth", o->graphql_max_depth,
                  "Deepest field nesting a GraphQL document may have")
      ->envname("PSVC_GRAPHQL_MAX_DEPTH")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  cmd->add_option("--graphql-max-aliases", o->graphql_max_aliases,
                  "Most aliased fields per GraphQL operation")
      ->envname("PSVC_GRAPHQL_MAX_ALIASES")
      ->check(CLI::Range(0, 1000))
      ->capture_default_str();
  cmd->add_option("--graphql-max-cost", o->graphql_max_cost, "GraphQL cost budget per operation")
      ->envname("PSVC_GRAPHQL_MAX_COST")
      ->check(CLI::Range(1, 10000000))
      ->capture_default_str();
  cmd->add_option("--graphql-introspection", o->graphql_introspection,
                  "Answer __schema/__type queries")
      ->envname("PSVC_GRAPHQL_INTROSPECTION")
      ->capture_default_str();
  cmd->add_option("--graphiql-dir", o->graphiql_dir,
                  "Folder of the GraphiQL page and its npm packages (default: web/graphiql of the "
                  "source tree)")
      ->envname("PSVC_GRAPHIQL_DIR");
  cmd->add_option("--graphql-persisted-dir", o->graphql_persisted_dir,
                  "Folder of allowed GraphQL documents, one per file, named by clients with the "
                  "SHA-256 of the file (extensions.persistedQuery); loaded at start")
      ->envname("PSVC_GRAPHQL_PERSISTED_DIR");
  cmd->add_flag("--graphql-persisted-only", o->graphql_persisted_only,
                "Run only the documents of --graphql-persisted-dir; refuse any other")
      ->envname("PSVC_GRAPHQL_PERSISTED_ONLY");
  cmd->add_option("--graphql-persisted-entries", o->graphql_persisted_entries,
                  "Documents clients may register by hash (automatic persisted queries), least "
                  "recently used dropped beyond; 0 = no registration")
      ->envname("PSVC_GRAPHQL_PERSISTED_ENTRIES")
      ->check(CLI::Range(0, 1000000))
      ->capture_default_str();
  // No default is captured: secrets never appear in --help or logs.
  cmd->add_option("--auth-tokens", o->auth_tokens,
                  "Comma-separated bearer tokens (>= 16 chars) required by write surfaces "
                  "(PostgresWriteService, GraphQL mutations); empty = writes unauthenticated")
      ->envname("PSVC_AUTH_TOKENS");
  cmd->add_flag("--read-auth", o->read_auth,
                "Require the same tokens for reads too (PostgresGraphService, GraphQL queries)")
      ->envname("PSVC_READ_AUTH");
  cmd->add_option("--log-format", o->log_format,
                  "auto (JSON unless stderr is a terminal), json or text")
      ->envname("PSVC_LOG_FORMAT")
      ->check(CLI::IsMember({"auto", "json", "text"}))
      ->capture_default_str();
  cmd->add_option("--log-level", o->log_level, "trace, debug, info, warn, error or off")
      ->envname("PSVC_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  cmd->add_option("--http-address", o->http_address, "HTTP listen address")
      ->envname("PSVC_HTTP_ADDRESS")
      ->capture_default_str();
  cmd->add_option("--http-port", o->http_port, "HTTP port (0 = any free port)")
      ->envname("PSVC_HTTP_PORT")
      ->capture_default_str();
  cmd->add_option("--http-threads", o->http_threads,
                  "HTTP handler threads (GraphQL requests that run at once; I/O has its own)")
      ->envname("PSVC_HTTP_THREADS")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_option("--http-io-threads", o->http_io_threads,
                  "HTTP I/O threads: read and write sockets (WebSocket fan-out to many "
                  "subscribers spreads over them), never run handlers")
      ->envname("PSVC_HTTP_IO_THREADS")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cmd->add_option("--http-max-in-flight", o->http_max_in_flight,
                  "HTTP requests handled at once; beyond it 503 + Retry-After at once")
      ->envname("PSVC_HTTP_MAX_IN_FLIGHT")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd->add_option("--http-queue-timeout-ms", o->http_queue_timeout_ms,
                  "An HTTP request that waited this long for a handler thread gets 503 instead")
      ->envname("PSVC_HTTP_QUEUE_TIMEOUT_MS")
      ->check(CLI::Range(1, 600000))
      ->capture_default_str();
  cmd->add_option("--ws-max-connections", o->ws_max_connections,
                  "GraphQL WebSocket connections (subscriptions) at once; beyond it the upgrade "
                  "answers 503 + Retry-After")
      ->envname("PSVC_WS_MAX_CONNECTIONS")
      ->check(CLI::Range(0, 1000000))
      ->capture_default_str();
  cmd->add_option("--ws-max-operations", o->ws_max_operations,
                  "Operations (subscriptions) at once on one GraphQL WebSocket connection; "
                  "beyond it a subscribe gets an error message")
      ->envname("PSVC_WS_MAX_OPERATIONS")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd->add_option("--ws-init-timeout-ms", o->ws_init_timeout_ms,
                  "A GraphQL WebSocket client that has not sent connection_init by then is "
                  "closed with 4408")
      ->envname("PSVC_WS_INIT_TIMEOUT_MS")
      ->check(CLI::Range(1, 600000))
      ->capture_default_str();
  cmd->add_option("--ws-max-queued-bytes", o->ws_max_queued_bytes,
                  "Bytes queued for a GraphQL WebSocket client that does not read fast enough; "
                  "beyond it the connection is closed with 1013 (slow consumer)")
      ->envname("PSVC_WS_MAX_QUEUED_BYTES")
      ->check(CLI::Range(std::size_t{1024}, std::size_t{1} << 30))
      ->capture_default_str();
  cmd->add_option("--cors-origins", o->cors_origins,
                  "Comma-separated browser origins allowed to call the HTTP API cross-origin "
                  "(CORS), e.g. https://app.example.com, or * for any; empty = CORS off")
      ->envname("PSVC_CORS_ORIGINS")
      ->check([](const std::string& list) -> std::string {
        for (const auto& origin : api::SplitTokens(list)) {
          if (origin != "*" && !origin.starts_with("http://") && !origin.starts_with("https://")) {
            return "an origin is * or scheme://host[:port], not " + origin;
          }
          if (origin != "*" && origin.back() == '/') {
            return "an origin has no path or trailing slash: " + origin;
          }
        }
        return {};
      });
  cmd->add_option("--tls-cert", o->tls_cert,
                  "PEM certificate chain: serve gRPC and HTTP over TLS (with --tls-key)")
      ->envname("PSVC_TLS_CERT")
      ->check(CLI::ExistingFile);
  cmd->add_option("--tls-key", o->tls_key, "PEM private key of --tls-cert")
      ->envname("PSVC_TLS_KEY")
      ->check(CLI::ExistingFile);
  cmd->add_option("--tls-client-ca", o->tls_client_ca,
                  "PEM CA bundle: verify client certificates (mTLS, optional for clients); a "
                  "verified certificate may write without a bearer token")
      ->envname("PSVC_TLS_CLIENT_CA")
      ->check(CLI::ExistingFile);
  cmd->add_option("--pool-size", o->pool_size, "Database connections in the pool")
      ->envname("PSVC_POOL_SIZE")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cmd->add_option("--statement-timeout-ms", o->statement_timeout_ms,
                  "statement_timeout for every query, in milliseconds")
      ->envname("PSVC_STATEMENT_TIMEOUT_MS")
      ->check(CLI::Range(1, 600000))
      ->capture_default_str();
  cmd->callback([o, cmd] {
    ApplyConfigFile(*cmd, o->config_file);
    if (o->database_url.empty()) {
      throw CLI::RequiredError(
          "--database-url (or DATABASE_URL, or database-url in the --config file)");
    }
    RunServe(*o);
  });
}

}  // namespace psvc::cli

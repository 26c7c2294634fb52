// Read-your-writes over gRPC with a real database: a write through PostgresWriteService returns a
// change token, and a graph call naming it sees the write. The memory engine is held behind (its
// change feed is not running) to prove that the call waits for it; malformed and never-issued
// tokens get their documented statuses; the SQL engine reads the primary for such a call.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <future>

#include "anime/graph/v1/graph_service.grpc.pb.h"
#include "anime/write/v1/write_service.grpc.pb.h"
#include "changes/change_feed.h"
#include "db/connection.h"
#include "db/pool.h"
#include "graph/engine.h"
#include "graph/graph_queries.h"
#include "graph/serving_engine.h"
#include "grpc_api/graph_service.h"
#include "grpc_api/grpc_server.h"
#include "grpc_api/write_service.h"
#include "observability/metrics.h"
#include "testing/test_database.h"
#include "testing/wait_until.h"
#include "write/event_applier.h"

namespace psvc::api {
namespace {

namespace gpb = anime::graph::v1;
namespace wpb = anime::write::v1;
namespace ev = anime::events::v1;
using namespace std::chrono_literals;

constexpr auto kWait = 60s;  // generous: the machine is shared

std::string U(int n) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012x", n);
  return buf;
}

// Anime 1..5; 1 -SEQUEL-> 2 -SEQUEL-> 3.
void SeedCatalogue(db::Connection& c) {
  c.Exec(R"sql(
    INSERT INTO anime (id, title, year) SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(n), 12, '0'))::uuid,
           'anime ' || n, 2000 + n FROM generate_series(1, 5) n;
    INSERT INTO anime_relation VALUES
      ('00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000002', 'SEQUEL'),
      ('00000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-000000000003', 'SEQUEL');
  )sql");
}

// A new anime `anime` whose stored relation makes `sequel_of` its SEQUEL: seen from
// `sequel_of`, the new anime is a PREQUEL.
ev::EventEnvelope NewAnimeBefore(int event, int anime, int sequel_of) {
  ev::EventEnvelope env;
  env.set_event_id(U(0x900000 + event));
  env.mutable_occurred_at()->set_seconds(1700000000 + event);
  env.set_producer("test");
  env.set_schema_version(1);
  auto* a = env.mutable_anime_enriched();
  a->set_anime_id(U(anime));
  a->mutable_fields()->set_title("Anime " + std::to_string(anime));
  a->mutable_fields()->set_type(ev::ANIME_TYPE_TV);
  a->mutable_fields()->set_year(1990);
  auto* r = a->add_relations();
  r->set_related_anime_id(U(sequel_of));
  r->set_relation_type(ev::RELATION_TYPE_SEQUEL);
  return env;
}

/// The edge type `neighbor` has among `of`'s neighbours in the answer, or "" when it is absent.
std::string EdgeTo(const gpb::NeighborsResponse& r, const std::string& neighbor) {
  for (const auto& e : r.neighbors()) {
    if (e.node_id() == neighbor) return gpb::EdgeType_Name(e.edge_type());
  }
  return "";
}

class ReadYourWritesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = tdb_.Connect();
    SeedCatalogue(c);
    write_pool_ = std::make_unique<db::Pool>(db::PoolOptions{.url = tdb_.url(), .size = 2});
    read_pool_ = std::make_unique<db::Pool>(
        db::PoolOptions{.url = tdb_.url(),
                        .size = 2,
                        .read_only = true,
                        .session_setup = graph::GraphQueries::SessionSetup()});
    applier_ = std::make_unique<write::EventApplier>(*write_pool_);
  }
  void TearDown() override {
    if (server_) server_->Shutdown(0ms);
  }

  /// Serves the write service and a graph service answering with `engine`.
  void Serve(graph::GraphEngine& engine, GraphServiceOptions options = {}) {
    server_ = std::make_unique<GrpcServer>(GrpcServerOptions{.address = "127.0.0.1:0"});
    if (!options.redirect_pool) options.redirect_pool = read_pool_.get();
    RegisterGraphService(*server_, engine, options);
    RegisterWriteService(*server_, *applier_);
    server_->Start();
    auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->port()),
                                       grpc::InsecureChannelCredentials());
    graph_ = gpb::PostgresGraphService::NewStub(channel);
    write_ = wpb::PostgresWriteService::NewStub(channel);
  }

  /// The memory engine, loaded, following `feed_` (created but not started: the memory graph
  /// stays at its snapshot until StartFeed()).
  void ServeMemory() {
    auto c = tdb_.Connect();
    // The feed starts at or below the snapshot's watermark, so it delivers every later change.
    const uint64_t start = changes::ChangeFeed::SnapshotWatermark(c);
    feed_ = std::make_unique<changes::ChangeFeed>(
        changes::ChangeFeedOptions{.database_url = tdb_.url(),
                                   .start_watermark = start,
                                   .fast_poll = 10ms,
                                   .idle_poll = 200ms,
                                   .name = "read_your_writes"});
    sql_ = std::make_unique<graph::SqlGraphEngine>(*read_pool_, graph::SqlEngineOptions{});
    served_ = std::make_unique<graph::ServingGraphEngine>(*sql_);
    served_->FollowChanges(*feed_, tdb_.url(), 100ms);
    served_->LoadMemoryInBackground(tdb_.url());
    ASSERT_TRUE(testing::WaitUntil([&] { return served_->Status().engine == "memory"; }, kWait))
        << served_->Status().detail;
    Serve(*served_);
  }

  std::string Write(const ev::EventEnvelope& env, wpb::Outcome want = wpb::OUTCOME_APPLIED) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    wpb::ApplyEventRequest req;
    *req.mutable_event() = env;
    wpb::ApplyEventResponse resp;
    auto status = write_->ApplyEvent(&ctx, req, &resp);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(resp.outcome(), want) << resp.message();
    EXPECT_FALSE(resp.change_token().empty());
    return resp.change_token();
  }

  grpc::Status Neighbors(const std::string& id, const std::string& token,
                         gpb::NeighborsResponse& resp, std::chrono::milliseconds deadline = kWait) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + deadline);
    gpb::NeighborsRequest req;
    req.set_node_id(id);
    req.set_min_change_token(token);
    return graph_->Neighbors(&ctx, req, &resp);
  }

  /// psvc_graph_memory_token_calls_total{outcome} as exported on /metrics.
  double TokenCalls(const std::string& outcome) {
    observability::MetricsRegistry registry;
    served_->AddMetrics(registry);
    const std::string text = registry.Render();
    const std::string key = "psvc_graph_memory_token_calls_total{outcome=\"" + outcome + "\"} ";
    const auto at = text.find(key);
    if (at == std::string::npos) {
      ADD_FAILURE() << key << "not exported:\n" << text;
      return -1;
    }
    return std::stod(text.substr(at + key.size()));
  }

  testing::TestDatabase tdb_;
  std::unique_ptr<db::Pool> write_pool_;
  std::unique_ptr<db::Pool> read_pool_;
  std::unique_ptr<write::EventApplier> applier_;
  std::unique_ptr<changes::ChangeFeed> feed_;
  std::unique_ptr<graph::SqlGraphEngine> sql_;
  std::unique_ptr<graph::ServingGraphEngine> served_;
  std::unique_ptr<GrpcServer> server_;
  std::unique_ptr<gpb::PostgresGraphService::Stub> graph_;
  std::unique_ptr<wpb::PostgresWriteService::Stub> write_;
};

TEST_F(ReadYourWritesTest, AGraphCallWithTheWritesTokenWaitsForTheMemoryGraphAndSeesTheWrite) {
  ServeMemory();
  const std::string token = Write(NewAnimeBefore(1, 6, 1));

  // The memory graph is behind (its feed is not running): without the token the write is not
  // in the answer.
  gpb::NeighborsResponse before;
  ASSERT_TRUE(Neighbors(U(1), "", before).ok());
  EXPECT_EQ(EdgeTo(before, U(6)), "");
  EXPECT_EQ(EdgeTo(before, U(2)), "EDGE_TYPE_SEQUEL");

  // With the token the call waits: it cannot be answered while the feed is stopped.
  auto call = std::async(std::launch::async, [&] {
    gpb::NeighborsResponse resp;
    auto status = Neighbors(U(1), token, resp);
    return std::make_pair(status, resp);
  });
  EXPECT_EQ(call.wait_for(300ms), std::future_status::timeout);
  uint64_t xid = 0;
  ASSERT_TRUE(changes::ParseXid(token, &xid));
  EXPECT_LE(served_->Freshness().watermark, xid);

  feed_->Start();  // the change reaches the memory graph by a reload
  auto [status, resp] = call.get();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(EdgeTo(resp, U(6)), "EDGE_TYPE_PREQUEL");
  EXPECT_EQ(EdgeTo(resp, U(2)), "EDGE_TYPE_SEQUEL");
  EXPECT_GT(served_->Freshness().watermark, xid);
  EXPECT_EQ(served_->Status().engine, "memory");

  // Each primitive honours the token (the graph has it now: no wait).
  grpc::ClientContext kctx;
  kctx.set_deadline(std::chrono::system_clock::now() + 10s);
  gpb::KHopRequest k;
  k.set_node_id(U(6));
  k.set_min_change_token(token);
  gpb::KHopResponse kr;
  ASSERT_TRUE(graph_->KHop(&kctx, k, &kr).ok());
  EXPECT_TRUE(kr.start_found());
  ASSERT_GE(kr.results_size(), 1);
  EXPECT_EQ(kr.results(0).node_id(), U(1));
  grpc::ClientContext pctx;
  pctx.set_deadline(std::chrono::system_clock::now() + 10s);
  gpb::PathRequest p;
  p.set_from_id(U(6));
  p.set_to_id(U(3));
  p.set_min_change_token(token);
  gpb::PathResponse pr;
  ASSERT_TRUE(graph_->Path(&pctx, p, &pr).ok());
  EXPECT_TRUE(pr.found());
  EXPECT_EQ(pr.steps_size(), 4);  // 6 -> 1 -> 2 -> 3

  // The wait and the two calls answered at once are counted apart; calls without a token are
  // not counted.
  EXPECT_EQ(TokenCalls("waited"), 1);
  EXPECT_EQ(TokenCalls("included"), 2);
  EXPECT_EQ(TokenCalls("timed_out"), 0);
}

TEST_F(ReadYourWritesTest, AWriteThatChangesNoGraphDataIsIncludedWithoutAReload) {
  ServeMemory();
  feed_->Start();
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        auto f = served_->Freshness();
        return !f.reload_pending && f.watermark > 0;
      },
      kWait, 10ms));
  const uint64_t reloads = served_->Freshness().reloads;
  // A view count changes no graph answer, so it causes no reload; its token is still honoured
  // once the feed has delivered it.
  write::Event view{U(0x800001), 1700000000000, "test", write::AnimeViewed{U(2)}};
  auto result = applier_->Apply(view);
  ASSERT_EQ(result.outcome, write::Outcome::kApplied);
  ASSERT_GT(result.change_token, 0u);
  gpb::NeighborsResponse resp;
  auto status = Neighbors(U(2), changes::FormatXid(result.change_token), resp);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(resp.neighbors_size(), 2);
  EXPECT_GT(served_->Freshness().watermark, result.change_token);
  EXPECT_EQ(served_->Freshness().reloads, reloads);
}

TEST_F(ReadYourWritesTest, AMalformedTokenIsInvalidArgumentNamingTheField) {
  ServeMemory();
  for (const std::string bad : {"abc", "-1", "12x", " 12", "18446744073709551616"}) {
    gpb::NeighborsResponse resp;
    auto status = Neighbors(U(1), bad, resp);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad;
    EXPECT_EQ(status.error_message().rfind("min_change_token: not a change token: ", 0), 0u)
        << status.error_message();
  }
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 10s);
  gpb::CompareRequest c;
  c.set_a_id(U(1));
  c.set_b_id(U(2));
  c.set_min_change_token("token");
  gpb::CompareResponse cr;
  auto status = graph_->Compare(&ctx, c, &cr);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message().rfind("min_change_token: ", 0), 0u) << status.error_message();
}

TEST_F(ReadYourWritesTest, ATokenNeverReachedIsUnavailableBeforeTheDeadline) {
  ServeMemory();
  feed_->Start();
  auto c = tdb_.Connect();
  const uint64_t future = changes::ChangeFeed::CurrentTransactionId(c) + 1000000000;
  const std::string token = changes::FormatXid(future);

  // The caller's deadline bounds the wait; the status arrives before it, with a message
  // naming the field and the token.
  gpb::NeighborsResponse resp;
  const auto start = std::chrono::steady_clock::now();
  auto status = Neighbors(U(1), token, resp, 2s);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_EQ(
      status.error_message().rfind(
          "min_change_token: the memory graph has not caught up with change token " + token, 0),
      0u)
      << status.error_message();
  EXPECT_NE(status.error_message().find("--graph-engine sql"), std::string::npos);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 1s);  // it did wait

  // A long deadline is bounded by the server's own limit (10 s).
  const auto long_start = std::chrono::steady_clock::now();
  status = Neighbors(U(1), token, resp, 120s);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_LT(std::chrono::steady_clock::now() - long_start, 100s);
  EXPECT_EQ(TokenCalls("timed_out"), 2);
  EXPECT_EQ(TokenCalls("waited") + TokenCalls("included"), 0);
}

TEST_F(ReadYourWritesTest, TheSqlEngineReadsThePrimaryForACallWithAToken) {
  // A "standby" that never replays: a second database with the catalogue as it was.
  testing::TestDatabase standby;
  {
    auto c = standby.Connect();
    SeedCatalogue(c);
  }
  db::Pool standby_pool({.url = standby.url(),
                         .size = 2,
                         .read_only = true,
                         .session_setup = graph::GraphQueries::SessionSetup()});
  graph::SqlGraphEngine sql(standby_pool, {.primary_pool = read_pool_.get()});
  GraphServiceOptions options;
  options.redirect_pool = &standby_pool;
  options.primary_redirect_pool = read_pool_.get();
  Serve(sql, options);

  const std::string token = Write(NewAnimeBefore(2, 7, 1));
  gpb::NeighborsResponse without, with;
  ASSERT_TRUE(Neighbors(U(1), "", without).ok());
  EXPECT_EQ(EdgeTo(without, U(7)), "");  // the standby has not got it
  auto status = Neighbors(U(1), token, with);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(EdgeTo(with, U(7)), "EDGE_TYPE_PREQUEL");

  // A merged-away id is looked up on the primary too: a redirect the standby lacks.
  tdb_.Connect().Exec(
      "INSERT INTO anime_redirect (from_id, to_id, saga_id) VALUES "
      "('00000000-0000-4000-8000-0000000000aa', '00000000-0000-4000-8000-000000000001', "
      "'00000000-0000-4000-8000-0000000000bb')");
  gpb::NeighborsResponse merged_without, merged_with;
  ASSERT_TRUE(Neighbors(U(0xaa), "", merged_without).ok());
  EXPECT_FALSE(merged_without.start_found());
  ASSERT_TRUE(Neighbors(U(0xaa), token, merged_with).ok());
  EXPECT_TRUE(merged_with.start_found());
  EXPECT_EQ(merged_with.merged_into(), U(1));
  EXPECT_EQ(EdgeTo(merged_with, U(7)), "EDGE_TYPE_PREQUEL");

  // The SQL engine never waits: a token from the future is answered at once from the primary.
  auto c = tdb_.Connect();
  const auto future = changes::FormatXid(changes::ChangeFeed::CurrentTransactionId(c) + 1000000);
  gpb::NeighborsResponse later;
  status = Neighbors(U(1), future, later, 10s);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(EdgeTo(later, U(7)), "EDGE_TYPE_PREQUEL");
}

TEST_F(ReadYourWritesTest, WriteTokensNameTheWritingTransactionAndCoverReplays) {
  auto c = tdb_.Connect();
  graph::SqlGraphEngine sql(*read_pool_, {});
  Serve(sql);
  const std::string token = Write(NewAnimeBefore(3, 8, 2));
  // The outbox row of the write records its transaction's id: the token names it.
  auto outbox = c.Exec("SELECT xid::text FROM qdrant_outbox WHERE event_type = 'AnimeEnriched'");
  ASSERT_EQ(outbox.rows(), 1);
  EXPECT_EQ(token, std::string(outbox.Get(0, 0)));

  // A replay answers ALREADY_APPLIED with a token that still covers the original write.
  const std::string replay = Write(NewAnimeBefore(3, 8, 2), wpb::OUTCOME_ALREADY_APPLIED);
  uint64_t original = 0, again = 0;
  ASSERT_TRUE(changes::ParseXid(token, &original));
  ASSERT_TRUE(changes::ParseXid(replay, &again));
  EXPECT_GE(again, original);

  // A batch is one transaction: its applied events share its token; a replay in it covers the
  // earlier transaction.
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 10s);
  wpb::ApplyEventsRequest req;
  *req.add_events() = NewAnimeBefore(4, 9, 3);
  *req.add_events() = NewAnimeBefore(3, 8, 2);  // applied before
  *req.add_events() = NewAnimeBefore(5, 10, 4);
  wpb::ApplyEventsResponse resp;
  ASSERT_TRUE(write_->ApplyEvents(&ctx, req, &resp).ok());
  ASSERT_EQ(resp.results_size(), 3);
  EXPECT_EQ(resp.results(0).outcome(), wpb::OUTCOME_APPLIED);
  EXPECT_EQ(resp.results(1).outcome(), wpb::OUTCOME_ALREADY_APPLIED);
  EXPECT_EQ(resp.results(2).outcome(), wpb::OUTCOME_APPLIED);
  EXPECT_EQ(resp.results(0).change_token(), resp.results(2).change_token());
  auto batch = c.Exec(
      "SELECT DISTINCT xid::text FROM qdrant_outbox WHERE aggregate_id = "
      "'00000000-0000-4000-8000-000000000009'");
  ASSERT_EQ(batch.rows(), 1);
  EXPECT_EQ(resp.results(0).change_token(), std::string(batch.Get(0, 0)));
  uint64_t in_batch = 0;
  ASSERT_TRUE(changes::ParseXid(resp.results(1).change_token(), &in_batch));
  EXPECT_GE(in_batch, original);
}

}  // namespace
}  // namespace psvc::api

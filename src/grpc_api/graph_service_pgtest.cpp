// PostgresGraphService over a real gRPC channel and a real database.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>

#include "anime/graph/v1/graph_service.grpc.pb.h"
#include "auth/auth.h"
#include "grpc_api/graph_service.h"
#include "grpc_api/grpc_server.h"
#include "db/pool.h"
#include "graph/graph_queries.h"
#include "testing/test_database.h"

namespace psvc::api {
namespace {

namespace pb = anime::graph::v1;
using namespace std::chrono_literals;

std::string U(int n) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012x", n);
  return buf;
}

class GraphServiceTest : public ::testing::Test {
 public:
  void Start(std::chrono::milliseconds statement_timeout = 2000ms) {
    pool_ = std::make_unique<db::Pool>(
        db::PoolOptions{.url = tdb_.url(),
                        .size = 2,
                        .read_only = true,
                        .session_setup = graph::GraphQueries::SessionSetup()});
    GraphServiceOptions o;
    o.statement_timeout = statement_timeout;
    server_ = std::make_unique<GrpcServer>(GrpcServerOptions{.address = "127.0.0.1:0"});
    RegisterGraphService(*server_, *pool_, o);
    server_->Start();
    auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->port()),
                                       grpc::InsecureChannelCredentials());
    stub_ = pb::PostgresGraphService::NewStub(channel);
  }
  void SetUp() override {
    auto c = tdb_.Connect();
    c.Exec(R"sql(
      INSERT INTO anime (id, title, year) SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(n), 12, '0'))::uuid,
             'anime ' || n, 2000 + n FROM generate_series(1, 5) n;
      INSERT INTO anime_relation VALUES
        ('00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000002', 'SEQUEL'),
        ('00000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-000000000003', 'SEQUEL');
    )sql");
  }
  void TearDown() override {
    if (server_) server_->Shutdown(0ms);
  }

  template <typename Req, typename Resp, typename Call>
  grpc::Status Invoke(Call call, const Req& req, Resp& resp,
                      std::chrono::milliseconds deadline = 5s) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + deadline);
    return ((*stub_).*call)(&ctx, req, &resp);
  }

  testing::TestDatabase tdb_;
  std::unique_ptr<db::Pool> pool_;
  std::unique_ptr<GrpcServer> server_;
  std::unique_ptr<pb::PostgresGraphService::Stub> stub_;
};

TEST_F(GraphServiceTest, NeighborsKHopPathCompareAnswerOverGrpc) {
  Start();
  pb::NeighborsRequest n;
  n.set_node_id(U(2));
  pb::NeighborsResponse nr;
  ASSERT_TRUE(Invoke(&pb::PostgresGraphService::Stub::Neighbors, n, nr).ok());
  ASSERT_EQ(nr.neighbors_size(), 2);
  EXPECT_EQ(nr.neighbors(0).node_id(), U(3));
  EXPECT_EQ(nr.neighbors(0).edge_type(), pb::EDGE_TYPE_SEQUEL);
  EXPECT_EQ(nr.neighbors(1).edge_type(), pb::EDGE_TYPE_PREQUEL);
  EXPECT_TRUE(nr.start_found());
  EXPECT_EQ(nr.applied_limits().max_results(), 50);

  pb::KHopRequest k;
  k.set_node_id(U(1));
  k.set_max_hops(99);
  k.set_max_results(1000);
  pb::KHopResponse kr;
  ASSERT_TRUE(Invoke(&pb::PostgresGraphService::Stub::KHop, k, kr).ok());
  ASSERT_EQ(kr.results_size(), 2);
  EXPECT_EQ(kr.results(1).depth(), 2);
  EXPECT_EQ(kr.results(1).parent_id(), U(2));
  EXPECT_EQ(kr.applied_limits().max_hops(), 5);
  EXPECT_EQ(kr.applied_limits().max_results(), 50);
  ASSERT_EQ(kr.applied_limits().clamped_size(), 2);
  EXPECT_EQ(kr.applied_limits().clamped(0), "max_hops");

  pb::PathRequest p;
  p.set_from_id(U(3));
  p.set_to_id(U(1));
  pb::PathResponse pr;
  ASSERT_TRUE(Invoke(&pb::PostgresGraphService::Stub::Path, p, pr).ok());
  ASSERT_TRUE(pr.found());
  ASSERT_EQ(pr.steps_size(), 3);
  EXPECT_EQ(pr.steps(1).edge_type(), pb::EDGE_TYPE_PREQUEL);

  pb::CompareRequest c;
  c.set_a_id(U(1));
  c.set_b_id(U(2));
  pb::CompareResponse cr;
  ASSERT_TRUE(Invoke(&pb::PostgresGraphService::Stub::Compare, c, cr).ok());
  EXPECT_EQ(cr.a().year(), 2001);
  ASSERT_EQ(cr.direct_relations_size(), 1);
  EXPECT_EQ(cr.direct_relations(0), pb::EDGE_TYPE_SEQUEL);
  bool year_differs = false;
  for (auto& f : cr.fields()) year_differs |= f.field() == "year" && !f.equal();
  EXPECT_TRUE(year_differs);
}

TEST_F(GraphServiceTest, UnknownNodeIsOkWithFoundFalse) {
  Start();
  pb::KHopRequest k;
  k.set_node_id(U(77));
  pb::KHopResponse kr;
  auto s = Invoke(&pb::PostgresGraphService::Stub::KHop, k, kr);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(kr.start_found());
  EXPECT_EQ(kr.results_size(), 0);
}

// The rule for merged ids (proto header): an id a completed merge retired is answered for its
// survivor, and every response says so; an unknown id stays not found without a redirect.
TEST_F(GraphServiceTest, MergedIdsAreAnsweredForTheirSurvivor) {
  // What MergeAnime(77 -> 2) leaves behind: no row for 77, a redirect to 2.
  tdb_.Connect().Exec("INSERT INTO anime_redirect (from_id, to_id, saga_id) VALUES ('" + U(0x77) +
                      "', '" + U(2) + "', gen_random_uuid())");
  Start();
  pb::NeighborsRequest n;
  n.set_node_id(U(0x77));
  pb::NeighborsResponse nr;
  ASSERT_TRUE(Invoke(&pb::PostgresGraphService::Stub::Neighbors, n, nr).ok());
  EXPECT_TRUE(nr.start_found());
  EXPECT_EQ(nr.merged_into(), U(2));
  ASSERT_EQ(nr.neighbors_size(), 2);
  EXPECT_EQ(nr.neighbors(0).node_id(), U(3));

  pb::KHopRequest k;
  k.set_node_id(U(0x77));
  pb::KHopResponse kr;
  ASSERT_TRUE(Invoke(&pb::PostgresGraphService::Stub::KHop, k, kr).ok());
  EXPECT_TRUE(kr.start_found());
  EXPECT_EQ(kr.merged_into(), U(2));
  EXPECT_EQ(kr.results_size(), 2);

  pb::PathRequest p;
  p.set_from_id(U(1));
  p.set_to_id(U(0x77));
  pb::PathResponse pr;
  ASSERT_TRUE(Invoke(&pb::PostgresGraphService::Stub::Path, p, pr).ok());
  EXPECT_TRUE(pr.found());
  EXPECT_TRUE(pr.to_found());
  EXPECT_EQ(pr.to_merged_into(), U(2));
  EXPECT_EQ(pr.from_merged_into(), "");
  ASSERT_EQ(pr.steps_size(), 2);
  EXPECT_EQ(pr.steps(1).node_id(), U(2));

  pb::CompareRequest c;
  c.set_a_id(U(0x77));
  c.set_b_id(U(3));
  pb::CompareResponse cr;
  ASSERT_TRUE(Invoke(&pb::PostgresGraphService::Stub::Compare, c, cr).ok());
  EXPECT_TRUE(cr.a_found());
  EXPECT_EQ(cr.a().id(), U(2));
  EXPECT_EQ(cr.a_merged_into(), U(2));
  EXPECT_EQ(cr.b_merged_into(), "");

  // Unknown stays unknown.
  n.set_node_id(U(0x78));
  pb::NeighborsResponse unknown;
  ASSERT_TRUE(Invoke(&pb::PostgresGraphService::Stub::Neighbors, n, unknown).ok());
  EXPECT_FALSE(unknown.start_found());
  EXPECT_EQ(unknown.merged_into(), "");
}

struct BadCase {
  const char* name;
  std::function<grpc::Status(GraphServiceTest&)> call;
  const char* must_mention;
};

TEST_F(GraphServiceTest, EveryInvalidArgumentNamesItsField) {
  Start();
  auto neighbors = [](std::function<void(pb::NeighborsRequest&)> f) {
    return [f](GraphServiceTest& t) {
      pb::NeighborsRequest r;
      r.set_node_id(U(1));
      f(r);
      pb::NeighborsResponse resp;
      return t.Invoke(&pb::PostgresGraphService::Stub::Neighbors, r, resp);
    };
  };
  auto khop = [](std::function<void(pb::KHopRequest&)> f) {
    return [f](GraphServiceTest& t) {
      pb::KHopRequest r;
      r.set_node_id(U(1));
      f(r);
      pb::KHopResponse resp;
      return t.Invoke(&pb::PostgresGraphService::Stub::KHop, r, resp);
    };
  };
  std::vector<BadCase> cases = {
      {"missing node", neighbors([](auto& r) { r.clear_node_id(); }), "node_id: required"},
      {"malformed uuid", neighbors([](auto& r) { r.set_node_id("abc"); }), "node_id: not a UUID"},
      {"sql in uuid", neighbors([](auto& r) { r.set_node_id("1' OR '1'='1"); }), "node_id"},
      {"unknown enum", neighbors([](auto& r) { r.add_edge_types(static_cast<pb::EdgeType>(42)); }),
       "edge_types[0]: unknown edge type 42"},
      {"unspecified enum", neighbors([](auto& r) {
         r.add_edge_types(pb::EDGE_TYPE_SEQUEL);
         r.add_edge_types(pb::EDGE_TYPE_UNSPECIFIED);
       }),
       "edge_types[1]"},
      {"negative limit", neighbors([](auto& r) { r.set_limit(-1); }), "limit"},
      {"negative hops", khop([](auto& r) { r.set_max_hops(-3); }), "max_hops"},
      {"negative fanout", khop([](auto& r) { r.set_max_fanout_per_hop(-1); }),
       "max_fanout_per_hop"},
      {"negative results", khop([](auto& r) { r.set_max_results(-50); }), "max_results"},
      {"path to malformed",
       [](GraphServiceTest& t) {
         pb::PathRequest r;
         r.set_from_id(U(1));
         r.set_to_id("00000000-0000-4000-8000-00000000000Z");
         pb::PathResponse resp;
         return t.Invoke(&pb::PostgresGraphService::Stub::Path, r, resp);
       },
       "to_id"},
      {"compare missing b",
       [](GraphServiceTest& t) {
         pb::CompareRequest r;
         r.set_a_id(U(1));
         pb::CompareResponse resp;
         return t.Invoke(&pb::PostgresGraphService::Stub::Compare, r, resp);
       },
       "b_id: required"},
  };
  for (auto& c : cases) {
    auto s = c.call(*this);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.name;
    EXPECT_NE(s.error_message().find(c.must_mention), std::string::npos)
        << c.name << ": " << s.error_message();
  }
  EXPECT_EQ(pool_->stats().acquisitions, 0u) << "validation must not take a connection";
}

TEST_F(GraphServiceTest, TheStatementTimeoutFiresAndTheServiceKeepsServing) {
  // A graph built to be slow: 1,500 anime, each appearing with 60 of 100 characters chosen at
  // random, so every hub window differs and a node has ~1,000 distinct co-appearance
  // neighbours; k_hop at the caps then expands 50 such nodes in one level. The timeout is
  // lowered (it is configurable) so the test does not wait 2 s.
  auto c = tdb_.Connect();
  c.Exec(R"sql(
    SELECT setseed(0.42);
    INSERT INTO anime (id, title, year)
      SELECT ('10000000-0000-4000-8000-' || lpad(to_hex(n), 12, '0'))::uuid, 'dense ' || n, 1950 + n % 70
        FROM generate_series(1, 1500) n;
    INSERT INTO character (id, name)
      SELECT ('20000000-0000-4000-8000-' || lpad(to_hex(n), 12, '0'))::uuid, 'c' || n FROM generate_series(1, 100) n;
    INSERT INTO anime_character (anime_id, character_id, role)
      SELECT ('10000000-0000-4000-8000-' || lpad(to_hex(a), 12, '0'))::uuid,
             ('20000000-0000-4000-8000-' || lpad(to_hex(ch), 12, '0'))::uuid, 'MAIN'
        FROM generate_series(1, 1500) a, generate_series(1, 100) ch
       WHERE random() < 0.6;
    ANALYZE;
  )sql");
  Start(/*statement_timeout=*/5ms);
  pb::KHopRequest k;
  k.set_node_id("10000000-0000-4000-8000-000000000001");
  k.set_max_hops(5);
  k.set_max_fanout_per_hop(10);
  k.set_max_results(50);
  pb::KHopResponse kr;
  auto s = Invoke(&pb::PostgresGraphService::Stub::KHop, k, kr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << s.error_message();
  // The same connections (pool of 2) serve the next requests cleanly. They go through a
  // second service on the same pool with the ordinary 2 s timeout: a cold backend on a busy
  // machine may take longer than 5 ms for them, which is not what this test is about.
  GrpcServer second(GrpcServerOptions{.address = "127.0.0.1:0"});
  RegisterGraphService(second, *pool_, GraphServiceOptions{});
  second.Start();
  stub_ = pb::PostgresGraphService::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(second.port()), grpc::InsecureChannelCredentials()));
  for (int i = 0; i < 4; ++i) {
    pb::NeighborsRequest n;
    n.set_node_id(U(2));
    n.add_edge_types(pb::EDGE_TYPE_SEQUEL);
    n.add_edge_types(pb::EDGE_TYPE_PREQUEL);
    pb::NeighborsResponse nr;
    auto ok = Invoke(&pb::PostgresGraphService::Stub::Neighbors, n, nr);
    ASSERT_TRUE(ok.ok()) << ok.error_message();
    EXPECT_EQ(nr.neighbors_size(), 2);
  }
  EXPECT_EQ(pool_->stats().replaced, 0u);  // the cancelled connection was reused, not dropped
  second.Shutdown(0ms);
}

// Bytes that are not the method's protobuf message: INVALID_ARGUMENT naming the problem
// (gRPC's own answer would be INTERNAL with no message).
TEST_F(GraphServiceTest, UndecodableRequestBytesAreInvalidArgument) {
  Start();
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->port()),
                                     grpc::InsecureChannelCredentials());
  grpc::GenericStub generic(channel);
  for (std::string bytes : {std::string("\x0a\xff\xff\xff\xff\x0f", 6),  // length past the end
                            std::string("\x0a\x05"
                                        "ab",
                                        4),             // truncated
                            std::string("\xff", 1)}) {  // bad tag
    grpc::Slice slice(bytes);
    grpc::ByteBuffer request(&slice, 1), response;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    grpc::Status status;
    generic.UnaryCall(&ctx, "/anime.graph.v1.PostgresGraphService/Neighbors", grpc::StubOptions(),
                      &request, &response, [&](grpc::Status s) {
                        std::lock_guard lock(mu);
                        status = std::move(s);
                        done = true;
                        cv.notify_all();
                      });
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return done; }));
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
    EXPECT_NE(status.error_message().find("not a valid protobuf message"), std::string::npos)
        << status.error_message();
  }
  // And the service goes on serving well-formed calls.
  pb::NeighborsRequest n;
  n.set_node_id(U(1));
  pb::NeighborsResponse nr;
  EXPECT_TRUE(Invoke(&pb::PostgresGraphService::Stub::Neighbors, n, nr).ok());
}

TEST_F(GraphServiceTest, WithTokensConfiguredReadsNeedOne) {
  BearerTokens tokens({"reader-token-0123456789"});
  db::Pool pool({.url = tdb_.url(), .size = 1, .read_only = true});
  GraphServiceOptions o;
  o.tokens = &tokens;
  GrpcServer server(GrpcServerOptions{.address = "127.0.0.1:0"});
  RegisterGraphService(server, pool, o);
  server.Start();
  auto stub = pb::PostgresGraphService::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(server.port()), grpc::InsecureChannelCredentials()));
  auto call = [&](const char* authorization) {
    grpc::ClientContext ctx;
    if (*authorization) ctx.AddMetadata("authorization", authorization);
    pb::NeighborsRequest r;
    r.set_node_id(U(2));
    pb::NeighborsResponse resp;
    return stub->Neighbors(&ctx, r, &resp);
  };
  EXPECT_EQ(call("").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(call("Bearer not-the-token-0000").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(call("Bearer reader-token-0123456789").ok());
  server.Shutdown(0ms);
}

TEST_F(GraphServiceTest, TheCallersShorterDeadlineBoundsTheQuery) {
  Start();
  pb::NeighborsRequest n;
  n.set_node_id(U(2));
  pb::NeighborsResponse nr;
  auto s = Invoke(&pb::PostgresGraphService::Stub::Neighbors, n, nr, 0ms);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
}

}  // namespace
}  // namespace psvc::api

// PostgresWriteService over gRPC and the JetStream handler, against a real database.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "anime/write/v1/write_service.grpc.pb.h"
#include "auth/auth.h"
#include "grpc_api/grpc_server.h"
#include "grpc_api/write_service.h"
#include "db/pool.h"
#include "testing/test_database.h"
#include "write/event_applier.h"

namespace psvc::api {
namespace {

namespace pb = anime::write::v1;
namespace ev = anime::events::v1;
using namespace std::chrono_literals;

std::string U(int n) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012x", n);
  return buf;
}

ev::EventEnvelope Enriched(int event, int anime) {
  ev::EventEnvelope env;
  env.set_event_id(U(0x900000 + event));
  env.mutable_occurred_at()->set_seconds(1700000000 + event);
  env.set_producer("test");
  env.set_schema_version(1);
  auto* a = env.mutable_anime_enriched();
  a->set_anime_id(U(anime));
  a->mutable_fields()->set_title("Anime " + std::to_string(anime));
  a->mutable_fields()->set_type(ev::ANIME_TYPE_TV);
  a->mutable_fields()->set_year(2010);
  a->mutable_fields()->set_season(ev::SEASON_FALL);
  auto* c = a->add_characters();
  c->set_character_id(U(0x100));
  c->set_name("Hero");
  c->set_role(ev::CHARACTER_ROLE_MAIN);
  auto* s = a->add_companies();
  s->set_company_id(U(0x200));
  s->set_name("Studio");
  s->set_role(ev::COMPANY_ROLE_STUDIO);
  return env;
}

class WriteServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pool_ = std::make_unique<db::Pool>(db::PoolOptions{.url = tdb_.url(), .size = 2});
    applier_ = std::make_unique<write::EventApplier>(*pool_);
    server_ = std::make_unique<GrpcServer>(GrpcServerOptions{.address = "127.0.0.1:0"});
    RegisterWriteService(*server_, *applier_);
    server_->Start();
    stub_ = pb::PostgresWriteService::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(server_->port()), grpc::InsecureChannelCredentials()));
    conn_.emplace(tdb_.Connect());
  }
  int64_t Count(const char* table) {
    return conn_->Exec(std::string("SELECT count(*) FROM ") + table).GetInt64(0, 0);
  }
  grpc::Status Apply(const ev::EventEnvelope& env, pb::ApplyEventResponse& resp) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    pb::ApplyEventRequest req;
    *req.mutable_event() = env;
    return stub_->ApplyEvent(&ctx, req, &resp);
  }

  testing::TestDatabase tdb_;
  std::unique_ptr<db::Pool> pool_;
  std::unique_ptr<write::EventApplier> applier_;
  std::unique_ptr<GrpcServer> server_;
  std::unique_ptr<pb::PostgresWriteService::Stub> stub_;
  std::optional<db::Connection> conn_;
};

TEST_F(WriteServiceTest, ApplyEventAppliesOnceAndAnswersAlreadyApplied) {
  pb::ApplyEventResponse resp;
  ASSERT_TRUE(Apply(Enriched(1, 1), resp).ok());
  EXPECT_EQ(resp.outcome(), pb::OUTCOME_APPLIED);
  EXPECT_EQ(resp.version(), 1);
  EXPECT_EQ(conn_->Exec("SELECT season FROM anime").Get(0, 0), "FALL");
  ASSERT_TRUE(Apply(Enriched(1, 1), resp).ok());
  EXPECT_EQ(resp.outcome(), pb::OUTCOME_ALREADY_APPLIED);
  EXPECT_EQ(Count("qdrant_outbox"), 1);
}

TEST_F(WriteServiceTest, InvalidEventsAreInvalidArgumentNamingTheFieldAndWriteNothing) {
  struct Case {
    const char* name;
    std::function<void(ev::EventEnvelope&)> mutate;
    grpc::StatusCode code;
    const char* mention;
  };
  std::vector<Case> cases = {
      {"no payload", [](auto& e) { e.clear_anime_enriched(); }, grpc::StatusCode::INVALID_ARGUMENT,
       "payload"},
      {"schema version", [](auto& e) { e.set_schema_version(2); },
       grpc::StatusCode::INVALID_ARGUMENT, "schema_version"},
      {"bad event id", [](auto& e) { e.set_event_id("x"); }, grpc::StatusCode::INVALID_ARGUMENT,
       "event_id"},
      {"no time", [](auto& e) { e.clear_occurred_at(); }, grpc::StatusCode::INVALID_ARGUMENT,
       "occurred_at"},
      {"unknown enum",
       [](auto& e) {
         e.mutable_anime_enriched()->mutable_fields()->set_type(static_cast<ev::AnimeType>(77));
       },
       grpc::StatusCode::INVALID_ARGUMENT, "anime_enriched.fields.type: unknown enum value 77"},
      {"unspecified company role",
       [](auto& e) {
         e.mutable_anime_enriched()->mutable_companies(0)->set_role(ev::COMPANY_ROLE_UNSPECIFIED);
       },
       grpc::StatusCode::INVALID_ARGUMENT, "anime_enriched.companies[0].role"},
      {"negative episodes",
       [](auto& e) { e.mutable_anime_enriched()->mutable_fields()->set_episode_count(-2); },
       grpc::StatusCode::INVALID_ARGUMENT, "anime_enriched.fields.episode_count"},
      {"self relation",
       [](auto& e) {
         auto* r = e.mutable_anime_enriched()->add_relations();
         r->set_related_anime_id(e.anime_enriched().anime_id());
         r->set_relation_type(ev::RELATION_TYPE_SEQUEL);
       },
       grpc::StatusCode::INVALID_ARGUMENT, "related to itself"},
      {"oversized synopsis",
       [](auto& e) {
         e.mutable_anime_enriched()->mutable_fields()->set_synopsis(std::string(30000, 'x'));
       },
       grpc::StatusCode::INVALID_ARGUMENT, "anime_enriched.fields.synopsis: too long"},
      {"episode of a missing anime",
       [](auto& e) {
         auto* ep = e.mutable_episode_aired();
         ep->set_anime_id(U(999));
         ep->set_episode_id(U(998));
         ep->set_number(1);
       },
       grpc::StatusCode::NOT_FOUND, "episode_aired.anime_id"},
  };
  for (auto& c : cases) {
    auto env = Enriched(2, 2);
    c.mutate(env);
    pb::ApplyEventResponse resp;
    auto s = Apply(env, resp);
    EXPECT_EQ(s.error_code(), c.code) << c.name << ": " << s.error_message();
    EXPECT_NE(s.error_message().find(c.mention), std::string::npos)
        << c.name << ": " << s.error_message();
  }
  EXPECT_EQ(Count("anime"), 0);
  EXPECT_EQ(Count("processed_event"), 0);
  EXPECT_EQ(Count("qdrant_outbox"), 0);
}

TEST_F(WriteServiceTest, ApplyEventsGivesEachEventItsOwnOutcome) {
  pb::ApplyEventsRequest req;
  *req.add_events() = Enriched(1, 1);
  auto bad = Enriched(2, 2);
  bad.set_event_id("nope");
  *req.add_events() = bad;
  *req.add_events() = Enriched(1, 1);  // duplicate within the batch
  *req.add_events() = Enriched(3, 3);
  grpc::ClientContext ctx;
  pb::ApplyEventsResponse resp;
  ASSERT_TRUE(stub_->ApplyEvents(&ctx, req, &resp).ok());
  ASSERT_EQ(resp.results_size(), 4);
  EXPECT_EQ(resp.results(0).outcome(), pb::OUTCOME_APPLIED);
  EXPECT_EQ(resp.results(1).outcome(), pb::OUTCOME_REJECTED);
  EXPECT_EQ(resp.results(1).code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(resp.results(2).outcome(), pb::OUTCOME_ALREADY_APPLIED);
  EXPECT_EQ(resp.results(3).outcome(), pb::OUTCOME_APPLIED);
  EXPECT_EQ(Count("anime"), 2);
}

TEST(WriteServiceAuth, WithTokensConfiguredEveryMethodNeedsOneAndNothingIsWrittenWithout) {
  testing::TestDatabase tdb;
  db::Pool pool({.url = tdb.url(), .size = 2});
  write::EventApplier applier(pool);
  BearerTokens tokens({"ingest-token-0123456789"});
  GrpcServer server(GrpcServerOptions{.address = "127.0.0.1:0"});
  RegisterWriteService(server, applier, nullptr, &tokens);
  server.Start();
  auto stub = pb::PostgresWriteService::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(server.port()), grpc::InsecureChannelCredentials()));
  auto call = [&](const char* authorization) {
    grpc::ClientContext ctx;
    if (*authorization) ctx.AddMetadata("authorization", authorization);
    pb::ApplyEventRequest req;
    *req.mutable_event() = Enriched(1, 1);
    pb::ApplyEventResponse resp;
    return stub->ApplyEvent(&ctx, req, &resp);
  };
  for (const char* bad : {"", "Bearer nope-nope-nope-nope", "ingest-token-0123456789"}) {
    auto s = call(bad);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << bad;
  }
  grpc::ClientContext batch_ctx;
  pb::ApplyEventsResponse batch_resp;
  EXPECT_EQ(stub->ApplyEvents(&batch_ctx, pb::ApplyEventsRequest(), &batch_resp).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  auto conn = tdb.Connect();
  EXPECT_EQ(conn.Exec("SELECT count(*) FROM anime").GetInt64(0, 0), 0);
  EXPECT_TRUE(call("Bearer ingest-token-0123456789").ok());
  EXPECT_EQ(conn.Exec("SELECT count(*) FROM anime").GetInt64(0, 0), 1);
  server.Shutdown(0ms);
}

// The rule for merged ids (proto comments of IGNORED_STALE, docs/events.md): an event about a
// merged duplicate is not applied to anyone and answers IGNORED_STALE naming the survivor, on
// every write surface; a relation target naming it follows the redirect.
TEST_F(WriteServiceTest, EventsNamingAMergedAnimeAreRefusedWithTheSurvivorsId) {
  pb::ApplyEventResponse resp;
  ASSERT_TRUE(Apply(Enriched(1, 2), resp).ok());  // the survivor, anime 2
  // What a completed MergeAnime(1 -> 2) leaves: no row for 1, a redirect to 2.
  conn_->Exec("INSERT INTO anime_redirect (from_id, to_id, saga_id) VALUES ('" + U(1) + "', '" +
              U(2) + "', gen_random_uuid())");
  auto state = [&] {
    auto r = conn_->Exec("SELECT version::text || ' ' || title FROM anime");
    return std::string(r.Get(0, 0));
  };
  const std::string before = state();

  ASSERT_TRUE(Apply(Enriched(2, 1), resp).ok());
  EXPECT_EQ(resp.outcome(), pb::OUTCOME_IGNORED_STALE);
  EXPECT_EQ(resp.merged_into(), U(2));
  EXPECT_NE(resp.message().find("merged into " + U(2)), std::string::npos) << resp.message();
  ASSERT_TRUE(Apply(Enriched(2, 1), resp).ok());  // redelivery: the same event, recorded
  EXPECT_EQ(resp.outcome(), pb::OUTCOME_ALREADY_APPLIED);

  ev::EventEnvelope episode;
  episode.set_event_id(U(0x900010));
  episode.mutable_occurred_at()->set_seconds(1700000100);
  episode.set_producer("test");
  episode.set_schema_version(1);
  episode.mutable_episode_aired()->set_anime_id(U(1));
  episode.mutable_episode_aired()->set_episode_id(U(0x400));
  episode.mutable_episode_aired()->set_number(1);
  pb::ApplyEventsRequest batch;
  *batch.add_events() = episode;
  *batch.add_events() = Enriched(3, 1);
  pb::ApplyEventsResponse results;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 5s);
  ASSERT_TRUE(stub_->ApplyEvents(&ctx, batch, &results).ok());
  ASSERT_EQ(results.results_size(), 2);
  for (const auto& r : results.results()) {
    EXPECT_EQ(r.outcome(), pb::OUTCOME_IGNORED_STALE) << r.message();
    EXPECT_EQ(r.merged_into(), U(2));
  }

  // JetStream: acknowledged (recorded, nothing to retry), the reason names the survivor.
  std::string bytes;
  Enriched(4, 1).SerializeToString(&bytes);
  auto handled = HandleIngestMessage(*applier_, bytes);
  EXPECT_EQ(handled.kind, events::HandleResult::kAck);
  EXPECT_NE(handled.reason.find("merged into " + U(2)), std::string::npos) << handled.reason;
  EXPECT_EQ(conn_
                ->Exec("SELECT count(*) FROM processed_event WHERE outcome = 'IGNORED_STALE' "
                       "AND detail LIKE '%send them for " +
                       U(2) + "'")
                .Get(0, 0),
            "4");

  // Nothing reached the survivor; no row for the duplicate came back.
  EXPECT_EQ(state(), before);
  EXPECT_EQ(Count("anime"), 1);
  EXPECT_EQ(Count("episode"), 0);

  // A relation naming the merged id lands on the survivor.
  auto third = Enriched(5, 3);
  auto* rel = third.mutable_anime_enriched()->add_relations();
  rel->set_related_anime_id(U(1));
  rel->set_relation_type(ev::RELATION_TYPE_SEQUEL);
  ASSERT_TRUE(Apply(third, resp).ok());
  EXPECT_EQ(resp.outcome(), pb::OUTCOME_APPLIED);
  EXPECT_EQ(conn_->Exec("SELECT related_anime_id::text FROM anime_relation").Get(0, 0), U(2));
}

TEST_F(WriteServiceTest, TheIngestHandlerAcksRetriesAndDeadLetters) {
  using Kind = events::HandleResult::Kind;
  std::string bytes;
  Enriched(1, 1).SerializeToString(&bytes);
  EXPECT_EQ(HandleIngestMessage(*applier_, bytes).kind, Kind::kAck);
  EXPECT_EQ(HandleIngestMessage(*applier_, bytes).kind, Kind::kAck);  // redelivery
  EXPECT_EQ(Count("qdrant_outbox"), 1);
  auto garbage = HandleIngestMessage(*applier_, "\x0a\xff\x01truncated");
  EXPECT_EQ(garbage.kind, Kind::kDeadLetter);
  EXPECT_NE(garbage.reason.find("not a serialized"), std::string::npos) << garbage.reason;
  auto invalid = Enriched(5, 5);
  invalid.mutable_anime_enriched()->set_anime_id("zzz");
  invalid.SerializeToString(&bytes);
  auto r = HandleIngestMessage(*applier_, bytes);
  EXPECT_EQ(r.kind, Kind::kDeadLetter);
  EXPECT_NE(r.reason.find("anime_enriched.anime_id"), std::string::npos) << r.reason;
  // Database unreachable: transient, retried.
  db::Pool dead({.url = "postgresql://nobody@127.0.0.1:1/none", .size = 1});
  write::EventApplier dead_applier(dead);
  Enriched(6, 6).SerializeToString(&bytes);
  EXPECT_EQ(HandleIngestMessage(dead_applier, bytes).kind, Kind::kRetry);
}

}  // namespace
}  // namespace psvc::api

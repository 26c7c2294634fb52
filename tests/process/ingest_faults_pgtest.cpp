// Ingestion through the real binary while its dependencies fail: a private PostgreSQL cluster
// is stopped (immediate mode, like a crash) while events keep arriving on JetStream, and the
// service is killed with SIGKILL in the middle of a stream of batches. Afterwards every event
// is applied exactly once and every committed change reaches the changes stream exactly once.
// Private PostgreSQL and nats-server processes keep the shared stack out of it. The binary
// comes from PSVC_BINARY (set by CTest).
#include <gtest/gtest.h>
#include <nats/nats.h>

#include <cstdlib>
#include <regex>
#include <set>
#include <thread>

#include "anime/events/v1/events.pb.h"
#include "db/connection.h"
#include "events/detail/nats_util.h"
#include "events/testing/nats_server_process.h"
#include "testing/child_process.h"
#include "testing/postgres_cluster.h"
#include "testing/wait_until.h"

namespace psvc {
namespace {

namespace ev = anime::events::v1;
using namespace std::chrono_literals;

using psvc::testing::WaitUntil;

std::string Id(uint32_t kind, int n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%08x-0000-4000-8000-%012x", kind, n);
  return buf;
}

// Anime n: four characters of its own, a studio shared by many, a prequel n-1 (ingested before).
std::string Enriched(int n) {
  ev::EventEnvelope env;
  env.set_event_id(Id(0xe0, n));
  env.mutable_occurred_at()->set_seconds(1700000000 + n);
  env.set_producer("fault-test");
  env.set_schema_version(1);
  auto* a = env.mutable_anime_enriched();
  a->set_anime_id(Id(0xa0, n));
  a->mutable_fields()->set_title("Fault Anime " + std::to_string(n));
  a->mutable_fields()->set_year(1990 + n % 30);
  for (int c = 0; c < 4; ++c) {
    auto* ch = a->add_characters();
    ch->set_character_id(Id(0xc0, n * 4 + c));
    ch->set_name("Character " + std::to_string(n * 4 + c));
    ch->set_role(ev::CHARACTER_ROLE_MAIN);
  }
  auto* co = a->add_companies();
  co->set_company_id(Id(0xd0, n % 7));
  co->set_name("Studio " + std::to_string(n % 7));
  co->set_role(ev::COMPANY_ROLE_STUDIO);
  if (n > 0) {
    auto* r = a->add_relations();
    r->set_related_anime_id(Id(0xa0, n - 1));
    r->set_relation_type(ev::RELATION_TYPE_PREQUEL);
  }
  std::string bytes;
  env.SerializeToString(&bytes);
  return bytes;
}

class IngestFaultsTest : public ::testing::Test {
 protected:
  IngestFaultsTest() : url_(pg_.CreateDatabase("anime")) {
    dir_ = std::filesystem::temp_directory_path() / ("psvc_faults_" + std::to_string(pg_.port()));
    std::filesystem::create_directories(dir_);
    std::string bin = Binary();
    EXPECT_EQ(testing::RunProgram({bin, "migrate", "--database-url", url_}, dir_ / "migrate.log"),
              0)
        << "migrate failed";
    nc_ = events::detail::Connect(nats_.url(), "fault-test", 5000ms);
    js_ = events::detail::JetStream(nc_.get(), 10000ms);
  }
  ~IngestFaultsTest() override {
    services_.clear();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  static std::string Binary() {
    const char* bin = std::getenv("PSVC_BINARY");
    if (!bin || !*bin) {
      ADD_FAILURE() << "PSVC_BINARY is not set (CTest sets it to the postgres-service binary)";
      return "postgres-service";
    }
    return bin;
  }

  /// `serve` on free ports; returns once it listens and its ingestion consumer is bound (it
  /// creates the ingestion stream on its own thread: a publish before that finds no stream).
  testing::ChildProcess& Serve() {
    auto log = dir_ / ("serve" + std::to_string(services_.size()) + ".log");
    services_.push_back(std::make_unique<testing::ChildProcess>(
        std::vector<std::string>{Binary(), "serve", "--database-url", url_, "--nats-url",
                                 nats_.url(), "--grpc-address", "127.0.0.1:0", "--http-port", "0",
                                 "--log-format", "text", "--pool-size", "4", "--read-pool-size",
                                 "1"},
        log));
    auto& p = *services_.back();
    bool up = WaitUntil(
        [&] {
          const std::string log = p.Log();
          return (log.find("gRPC on") != std::string::npos &&
                  log.find("ingest consumer: bound to") != std::string::npos) ||
                 !p.Alive();
        },
        20s, 50ms);
    EXPECT_TRUE(up && p.Alive()) << "serve did not start:\n" << p.Log();
    return p;
  }

  /// Publishes to the ingestion stream (created by the service at start-up).
  void Publish(int from, int to) {
    for (int n = from; n < to; ++n) {
      std::string bytes = Enriched(n);
      jsErrCode jerr = static_cast<jsErrCode>(0);
      jsPubAck* ack = nullptr;
      events::detail::Check(js_Publish(&ack, js_.get(), "anime.ingest.enriched", bytes.data(),
                                       static_cast<int>(bytes.size()), nullptr, &jerr),
                            "publish", jerr);
      jsPubAck_Destroy(ack);
    }
  }

  /// A count from the service's database; -1 while it is down.
  int64_t Count(const std::string& sql) {
    try {
      return db::Connection::Open(url_).Exec(sql).GetInt64(0, 0);
    } catch (const std::exception&) {
      return -1;
    }
  }

  /// Every event applied once, every outbox row published once; `n` events in all.
  void ExpectExactlyOnce(int n) {
    bool done = WaitUntil(
        [&] {
          return Count("SELECT count(*) FROM processed_event") == n &&
                 Count("SELECT count(*) FROM qdrant_outbox WHERE published_at IS NULL") == 0;
        },
        90s, 50ms);
    ASSERT_TRUE(done) << "processed " << Count("SELECT count(*) FROM processed_event") << " of "
                      << n << ", unpublished "
                      << Count("SELECT count(*) FROM qdrant_outbox WHERE published_at IS NULL")
                      << "\n"
                      << Logs();
    EXPECT_EQ(Count("SELECT count(*) FROM processed_event WHERE outcome = 'APPLIED'"), n);
    EXPECT_EQ(Count("SELECT count(*) FROM anime"), n);
    // A second application of an AnimeEnriched event would have bumped the version.
    EXPECT_EQ(Count("SELECT count(*) FROM anime WHERE version <> 1"), 0);
    EXPECT_EQ(Count("SELECT count(*) FROM anime_character"), 4 * n);
    EXPECT_EQ(Count("SELECT count(*) FROM anime_relation"), n - 1);
    EXPECT_EQ(Count("SELECT count(*) FROM qdrant_outbox WHERE event_type = 'AnimeEnriched'"), n);

    // Downstream: the changes stream holds each outbox row once, under its id.
    std::set<std::string> outbox_ids;
    auto rows = db::Connection::Open(url_).Exec("SELECT id::text FROM qdrant_outbox");
    for (int r = 0; r < rows.rows(); ++r) outbox_ids.emplace(rows.Get(r, 0));
    jsStreamInfo* raw = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    events::detail::Check(js_GetStreamInfo(&raw, js_.get(), "ANIME_CHANGES", nullptr, &jerr),
                          "stream info", jerr);
    events::detail::NatsPtr<jsStreamInfo> info(raw);
    std::multiset<std::string> published;
    for (uint64_t seq = info->State.FirstSeq; seq <= info->State.LastSeq; ++seq) {
      natsMsg* m = nullptr;
      ASSERT_EQ(js_GetMsg(&m, js_.get(), "ANIME_CHANGES", seq, nullptr, &jerr), NATS_OK);
      events::detail::NatsPtr<natsMsg> msg(m);
      published.insert(events::detail::Header(m, "Nats-Msg-Id"));
    }
    EXPECT_EQ(published.size(), outbox_ids.size()) << "messages on the changes stream";
    EXPECT_EQ(std::set<std::string>(published.begin(), published.end()), outbox_ids);
  }

  std::string Logs() {
    std::string out;
    for (auto& s : services_)
      out += "---- serve log (tail)\n" +
             s->Log().substr(s->Log().size() > 6000 ? s->Log().size() - 6000 : 0);
    return out;
  }

  testing::PostgresCluster pg_;
  events::testing::NatsServerProcess nats_;
  std::string url_;
  std::filesystem::path dir_;
  events::detail::NatsPtr<natsConnection> nc_;
  events::detail::NatsPtr<jsCtx> js_;
  std::vector<std::unique_ptr<testing::ChildProcess>> services_;
};

TEST_F(IngestFaultsTest, EventsArrivingWhilePostgresIsDownAreAppliedOnceItReturns) {
  Serve();
  Publish(0, 100);
  ASSERT_TRUE(
      WaitUntil([&] { return Count("SELECT count(*) FROM processed_event") == 100; }, 30s, 50ms))
      << Logs();
  pg_.Stop();
  std::thread producer([&] { Publish(100, 400); });  // arrive during the outage
  std::this_thread::sleep_for(2s);
  producer.join();
  pg_.Start();
  ExpectExactlyOnce(400);
  // The outage was felt: deliveries failed and were handed back for later.
  EXPECT_NE(services_.back()->Log().find("will be retried"), std::string::npos) << Logs();
  EXPECT_TRUE(services_.back()->Alive()) << "the service must ride out the outage\n" << Logs();
}

TEST_F(IngestFaultsTest, AServiceKilledMidBatchLosesNothingAndAppliesNothingTwice) {
  auto& first = Serve();
  Publish(0, 1500);
  // Kill it while it is working through the backlog (a fetch is 128 messages, one transaction).
  ASSERT_TRUE(
      WaitUntil([&] { return Count("SELECT count(*) FROM processed_event") >= 200; }, 30s, 50ms))
      << Logs();
  EXPECT_EQ(first.Kill(), SIGKILL);
  int64_t at_kill = Count("SELECT count(*) FROM processed_event");
  EXPECT_LT(at_kill, 1500) << "the kill came too late to hit a batch in flight";
  Serve();
  ExpectExactlyOnce(1500);
}

}  // namespace
}  // namespace psvc

// End to end through real PostgreSQL and a real nats-server -js: events published to the
// ingestion stream are applied, and the outbox relay publishes exactly one change message per
// committed change to the changes stream. Duplicates change nothing; a poison message is
// dead-lettered and does not block the others.
#include <gtest/gtest.h>
#include <nats/nats.h>
#include <unistd.h>

#include <set>
#include <thread>

#include "anime/events/v1/events.pb.h"
#include "api/write_service.h"
#include "db/pool.h"
#include "events/jetstream_consumer.h"
#include "events/outbox_relay.h"
#include "testing/test_database.h"
#include "write/event_applier.h"

namespace psvc::api {
namespace {

using namespace std::chrono_literals;
namespace ev = anime::events::v1;

std::string U(int n) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012x", n);
  return buf;
}

std::string NatsUrl() {
  const char* url = std::getenv("NATS_URL");
  if (!url || !*url) throw std::runtime_error("NATS_URL is not set: start the stack (scripts/stack up)");
  return url;
}

std::string EnrichedBytes(int event, int anime) {
  ev::EventEnvelope env;
  env.set_event_id(U(0x900000 + event));
  env.mutable_occurred_at()->set_seconds(1700000000);
  env.set_schema_version(1);
  auto* a = env.mutable_anime_enriched();
  a->set_anime_id(U(anime));
  a->mutable_fields()->set_title("Anime " + std::to_string(anime));
  std::string out;
  env.SerializeToString(&out);
  return out;
}

TEST(IngestEndToEnd, EventsInChangesOutExactlyOncePoisonDeadLettered) {
  testing::TestDatabase tdb;
  const std::string tag = "e2e" + std::to_string(getpid());
  db::Pool pool({.url = tdb.url(), .size = 4});
  write::EventApplier applier(pool);

  events::OutboxRelayOptions ro;
  ro.database_url = tdb.url();
  ro.nats_url = NatsUrl();
  ro.stream = "OUT_" + tag;
  ro.subject_prefix = tag + ".changes";
  events::OutboxRelay relay(ro);
  relay.Start();

  events::JetStreamConsumerOptions co;
  co.nats_url = NatsUrl();
  co.stream = "IN_" + tag;
  co.subjects = {tag + ".ingest.>"};
  co.durable = "durable_" + tag;
  co.dead_letter_subject = tag + ".ingest.dlq";
  co.fetch_wait = 100ms;
  events::JetStreamConsumer consumer(co, [&](std::string_view payload, int) {
    return HandleIngestMessage(applier, payload);
  });
  consumer.Start();

  natsConnection* nc = nullptr;
  ASSERT_EQ(natsConnection_ConnectTo(&nc, NatsUrl().c_str()), NATS_OK);
  jsCtx* js = nullptr;
  ASSERT_EQ(natsConnection_JetStream(&js, nc, nullptr), NATS_OK);
  // The consumer creates its stream at start-up; wait for it before publishing.
  for (int i = 0; i < 100; ++i) {
    jsStreamInfo* si = nullptr;
    if (js_GetStreamInfo(&si, js, co.stream.c_str(), nullptr, nullptr) == NATS_OK) {
      jsStreamInfo_Destroy(si);
      break;
    }
    std::this_thread::sleep_for(50ms);
  }

  constexpr int kEvents = 40;
  auto publish = [&](const std::string& bytes) {
    jsPubAck* ack = nullptr;
    std::string subject = tag + ".ingest.anime";
    ASSERT_EQ(js_Publish(&ack, js, subject.c_str(), bytes.data(), static_cast<int>(bytes.size()),
                         nullptr, nullptr),
              NATS_OK);
    jsPubAck_Destroy(ack);
  };
  for (int i = 1; i <= kEvents; ++i) {
    publish(EnrichedBytes(i, i));
    if (i == kEvents / 2) publish("\x0a\xff\x01 not an event");  // poison in the middle
    if (i % 10 == 0) publish(EnrichedBytes(i, i));               // a redelivered event id
  }

  auto conn = tdb.Connect();
  auto count = [&](const char* sql) { return conn.Exec(sql).GetInt64(0, 0); };
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline &&
         (count("SELECT count(*) FROM anime") < kEvents ||
          count("SELECT count(*) FROM qdrant_outbox WHERE published_at IS NULL") > 0 ||
          count("SELECT count(*) FROM qdrant_outbox") < kEvents)) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(count("SELECT count(*) FROM anime"), kEvents);
  EXPECT_EQ(count("SELECT count(*) FROM processed_event"), kEvents);
  EXPECT_EQ(count("SELECT count(*) FROM qdrant_outbox"), kEvents);
  EXPECT_EQ(count("SELECT count(*) FROM qdrant_outbox WHERE published_at IS NULL"), 0);

  // The changes stream holds exactly one message per committed change, one per anime.
  jsStreamInfo* si = nullptr;
  ASSERT_EQ(js_GetStreamInfo(&si, js, ro.stream.c_str(), nullptr, nullptr), NATS_OK);
  EXPECT_EQ(si->State.Msgs, static_cast<uint64_t>(kEvents));
  jsStreamInfo_Destroy(si);
  natsSubscription* sub = nullptr;
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = ro.stream.c_str();
  std::string filter = ro.subject_prefix + ".>";
  ASSERT_EQ(js_PullSubscribe(&sub, js, filter.c_str(), nullptr, nullptr, &so, nullptr), NATS_OK);
  std::set<std::string> aggregates;
  for (int round = 0; round < 10 && static_cast<int>(aggregates.size()) < kEvents; ++round) {
    natsMsgList list{};
    if (natsSubscription_Fetch(&list, sub, kEvents, 1000, nullptr) != NATS_OK) continue;
    for (int i = 0; i < list.Count; ++i) {
      const char* value = nullptr;
      if (natsMsgHeader_Get(list.Msgs[i], "Psvc-Aggregate-Id", &value) == NATS_OK) {
        aggregates.insert(value);
      }
      EXPECT_STREQ(natsMsg_GetSubject(list.Msgs[i]), (ro.subject_prefix + ".AnimeEnriched").c_str());
      natsMsg_Ack(list.Msgs[i], nullptr);
    }
    natsMsgList_Destroy(&list);
  }
  EXPECT_EQ(static_cast<int>(aggregates.size()), kEvents);
  natsSubscription_Destroy(sub);

  auto stats = consumer.stats();
  EXPECT_EQ(stats.dead_lettered, 1u);
  consumer.Stop();
  relay.Stop();
  js_DeleteStream(js, co.stream.c_str(), nullptr, nullptr);
  js_DeleteStream(js, ro.stream.c_str(), nullptr, nullptr);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
}

}  // namespace
}  // namespace psvc::api

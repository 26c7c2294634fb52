// End to end through real PostgreSQL and a real nats-server -js: events published to the
// ingestion stream are applied, and the outbox relay publishes exactly one change message per
// committed change to the changes stream. Duplicates change nothing; a poison message is
// dead-lettered and does not block the others.
#include <gtest/gtest.h>
#include <nats/nats.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "anime/events/v1/events.pb.h"
#include "grpc_api/write_service.h"
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
  if (!url || !*url)
    throw std::runtime_error("NATS_URL is not set: start the stack (scripts/stack up)");
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

std::string Serialize(const ev::EventEnvelope& env) {
  std::string out;
  env.SerializeToString(&out);
  return out;
}

ev::EventEnvelope Envelope(int event) {
  ev::EventEnvelope env;
  env.set_event_id(U(0x900000 + event));
  env.mutable_occurred_at()->set_seconds(1700000000 + event);
  env.set_schema_version(1);
  return env;
}

std::string EpisodeBytes(int event, int anime, int number) {
  ev::EventEnvelope env = Envelope(event);
  auto* e = env.mutable_episode_aired();
  e->set_anime_id(U(anime));
  e->set_episode_id(U(0x700000 + event));
  e->set_number(number);
  e->set_title("Episode " + std::to_string(number));
  return Serialize(env);
}

std::string UpdatedBytes(int event, int anime, const std::string& title, int64_t expected) {
  ev::EventEnvelope env = Envelope(event);
  auto* u = env.mutable_anime_updated();
  u->set_anime_id(U(anime));
  u->add_field_mask("title");
  u->mutable_fields()->set_title(title);
  u->set_expected_version(expected);
  return Serialize(env);
}

// Options of a consumer on a stream and durable of its own (named after `tag`).
events::JetStreamConsumerOptions ConsumerOptions(const std::string& tag) {
  events::JetStreamConsumerOptions co;
  co.nats_url = NatsUrl();
  co.stream = "IN_" + tag;
  co.subjects = {tag + ".ingest.>"};
  co.durable = "durable_" + tag;
  co.dead_letter_subject = tag + ".ingest.dlq";
  co.fetch_wait = 100ms;
  return co;
}

// A stream just created may answer "no responders" for a moment (more so on a busy machine):
// retry that for a bounded time, as a producer would.
void PublishRetrying(jsCtx* js, const std::string& subject, const std::string& bytes) {
  natsStatus s = NATS_ERR;
  for (auto until = std::chrono::steady_clock::now() + 20s;;) {
    jsPubAck* ack = nullptr;
    s = js_Publish(&ack, js, subject.c_str(), bytes.data(), static_cast<int>(bytes.size()), nullptr,
                   nullptr);
    jsPubAck_Destroy(ack);
    if ((s != NATS_NO_RESPONDERS && s != NATS_TIMEOUT) ||
        std::chrono::steady_clock::now() > until) {
      break;
    }
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_EQ(s, NATS_OK) << natsStatus_GetText(s);
}

// A NATS connection + JetStream context for publishing in a test.
struct Publisher {
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  Publisher() {
    if (natsConnection_ConnectTo(&nc, NatsUrl().c_str()) != NATS_OK ||
        natsConnection_JetStream(&js, nc, nullptr) != NATS_OK) {
      throw std::runtime_error("cannot connect to NATS at " + NatsUrl());
    }
  }
  ~Publisher() {
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
  }
  // Waits for a stream a consumer creates at start-up.
  bool WaitForStream(const std::string& stream) {
    for (int i = 0; i < 200; ++i) {
      jsStreamInfo* si = nullptr;
      if (js_GetStreamInfo(&si, js, stream.c_str(), nullptr, nullptr) == NATS_OK) {
        jsStreamInfo_Destroy(si);
        return true;
      }
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }
  void Publish(const std::string& subject, const std::string& bytes) {
    PublishRetrying(js, subject, bytes);
  }
  void DeleteStream(const std::string& stream) {
    js_DeleteStream(js, stream.c_str(), nullptr, nullptr);
  }
};

// Two replicas share the durable consumer. Replica A fetches the enrichments and freezes with
// them unacked; replica B gets the events that depend on them first (an update of anime X,
// episodes of anime Y), before the server redelivers the enrichments to it after ack_wait.
// Every event must be applied exactly once and none dead-lettered.
TEST(IngestEndToEnd, EventsThatOvertakeTheirAnimeWaitForItInsteadOfDeadLettering) {
  testing::TestDatabase tdb;
  const std::string tag = "reorder" + std::to_string(getpid());
  db::Pool pool({.url = tdb.url(), .size = 4});
  write::EventApplier applier(pool);
  constexpr int kX = 1, kY = 2;

  events::JetStreamConsumerOptions co = ConsumerOptions(tag);
  co.ack_wait = 4s;
  co.retry_initial = 200ms;
  co.retry_max = 1s;
  co.dependency_wait = 30s;  // several ack_waits

  // Replica A: takes the enrichments, then freezes until released, then carries on (its
  // late answer must change nothing).
  std::mutex mu;
  std::condition_variable cv;
  bool frozen = false, released = false, a_done = false;
  std::vector<events::HandleResult> a_results;
  events::JetStreamConsumerOptions ao = co;
  ao.fetch_batch = 2;
  events::JetStreamConsumer a(ao,
                              events::BatchHandler([&](const std::vector<events::Delivery>& batch) {
                                std::unique_lock lock(mu);
                                if (a_done) return HandleIngestMessages(applier, batch);
                                frozen = true;
                                cv.notify_all();
                                cv.wait(lock, [&] { return released; });
                                a_results = HandleIngestMessages(applier, batch);
                                a_done = true;
                                cv.notify_all();
                                return a_results;
                              }));
  a.Start();
  Publisher nats;
  ASSERT_TRUE(nats.WaitForStream(co.stream));
  const std::string subject = tag + ".ingest.anime";
  nats.Publish(subject, EnrichedBytes(1, kX));
  nats.Publish(subject, EnrichedBytes(2, kY));
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 30s, [&] { return frozen; })) << "replica A fetched nothing";
  }

  // Replica B: the ordinary ingestion path.
  events::JetStreamConsumer b(co,
                              events::BatchHandler([&](const std::vector<events::Delivery>& batch) {
                                return HandleIngestMessages(applier, batch);
                              }));
  b.Start();
  nats.Publish(subject, UpdatedBytes(3, kX, "X renamed", 1));
  nats.Publish(subject, EpisodeBytes(4, kY, 1));
  nats.Publish(subject, EpisodeBytes(5, kY, 2));

  auto conn = tdb.Connect();
  auto count = [&](const std::string& sql) { return conn.Exec(sql).GetInt64(0, 0); };
  const std::string x_renamed =
      "SELECT count(*) FROM anime WHERE id = '" + U(kX) + "' AND title = 'X renamed'";
  const std::string y_episodes = "SELECT count(*) FROM episode WHERE anime_id = '" + U(kY) + "'";
  auto deadline = std::chrono::steady_clock::now() + 90s;
  while (std::chrono::steady_clock::now() < deadline &&
         (count(x_renamed) < 1 || count(y_episodes) < 2)) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(count(x_renamed), 1);
  EXPECT_EQ(count(y_episodes), 2);
  // The scenario really happened: the update reached B before X existed and had to wait.
  EXPECT_GE(b.stats().waiting, 1u);

  {
    std::unique_lock lock(mu);
    released = true;
    cv.notify_all();
    ASSERT_TRUE(cv.wait_for(lock, 30s, [&] { return a_done; }));
  }
  for (const auto& r : a_results) {
    EXPECT_EQ(r.kind, events::HandleResult::kAck) << r.reason;  // already applied
  }
  b.Stop();
  a.Stop();
  // Exactly once in effect: five events recorded, five changes, versions bumped once each.
  EXPECT_EQ(count("SELECT count(*) FROM processed_event"), 5);
  EXPECT_EQ(count("SELECT count(*) FROM qdrant_outbox"), 5);
  EXPECT_EQ(count("SELECT version FROM anime WHERE id = '" + U(kX) + "'"), 2);
  EXPECT_EQ(count("SELECT version FROM anime WHERE id = '" + U(kY) + "'"), 3);
  EXPECT_EQ(a.stats().dead_lettered + b.stats().dead_lettered, 0u);
  nats.DeleteStream(co.stream);
}

// An event whose anime never arrives waits dependency_wait, then is dead-lettered with why.
TEST(IngestEndToEnd, AnEventWhoseAnimeNeverArrivesIsDeadLetteredAfterTheWait) {
  testing::TestDatabase tdb;
  const std::string tag = "orphan" + std::to_string(getpid());
  db::Pool pool({.url = tdb.url(), .size = 2});
  write::EventApplier applier(pool);
  events::JetStreamConsumerOptions co = ConsumerOptions(tag);
  co.retry_initial = 100ms;
  co.retry_max = 400ms;
  co.dependency_wait = 1500ms;  // 100+200+400+400+400: dead-lettered at the 6th delivery
  events::JetStreamConsumer consumer(
      co, events::BatchHandler([&](const std::vector<events::Delivery>& batch) {
        return HandleIngestMessages(applier, batch);
      }));
  consumer.Start();
  Publisher nats;
  ASSERT_TRUE(nats.WaitForStream(co.stream));
  nats.Publish(tag + ".ingest.anime", EpisodeBytes(1, 77, 1));
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline && consumer.stats().dead_lettered < 1) {
    std::this_thread::sleep_for(50ms);
  }
  auto stats = consumer.stats();
  EXPECT_EQ(stats.dead_lettered, 1u);
  EXPECT_EQ(stats.waiting, 5u);  // deliveries 1-5 waited, the 6th was dead-lettered
  consumer.Stop();

  // The dead letter says why.
  natsSubscription* sub = nullptr;
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = co.stream.c_str();
  ASSERT_EQ(js_PullSubscribe(&sub, nats.js, co.dead_letter_subject.c_str(), nullptr, nullptr, &so,
                             nullptr),
            NATS_OK);
  natsMsgList list{};
  ASSERT_EQ(natsSubscription_Fetch(&list, sub, 1, 5000, nullptr), NATS_OK);
  ASSERT_EQ(list.Count, 1);
  const char* reason = nullptr;
  ASSERT_EQ(natsMsgHeader_Get(list.Msgs[0], "Psvc-Dlq-Reason", &reason), NATS_OK);
  EXPECT_NE(std::string(reason).find("no anime with id " + U(77)), std::string::npos) << reason;
  EXPECT_NE(std::string(reason).find("after waiting"), std::string::npos) << reason;
  natsMsgList_Destroy(&list);
  natsSubscription_Destroy(sub);
  auto conn = tdb.Connect();
  EXPECT_EQ(conn.Exec("SELECT count(*) FROM episode").GetInt64(0, 0), 0);
  nats.DeleteStream(co.stream);
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

  events::JetStreamConsumerOptions co = ConsumerOptions(tag);
  events::JetStreamConsumer consumer(
      co, [&](std::string_view payload, int) { return HandleIngestMessage(applier, payload); });
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
    PublishRetrying(js, tag + ".ingest.anime", bytes);
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
      EXPECT_STREQ(natsMsg_GetSubject(list.Msgs[i]),
                   (ro.subject_prefix + ".AnimeEnriched").c_str());
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

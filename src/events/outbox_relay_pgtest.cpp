// The outbox relay against a real PostgreSQL and real nats-servers (the shared one, or a
// private one for outages).
#include "events/outbox_relay.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <nats/nats.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "db/connection.h"
#include "events/detail/nats_util.h"
#include "events/testing/nats_server_process.h"
#include "testing/test_database.h"
#include "testing/wait_until.h"

namespace psvc::events {
namespace {

using namespace std::chrono_literals;
using detail::NatsPtr;

using psvc::testing::WaitUntil;

/// One message as stored in the stream.
struct Stored {
  uint64_t seq;
  std::string subject;
  std::string data;
  std::string msg_id;
  std::string aggregate_id;
};

/// Reads a stream directly (by sequence), as a downstream consumer would see it.
class StreamReader {
 public:
  explicit StreamReader(const std::string& url)
      : nc_(detail::Connect(url, "test-reader", 2000ms)),
        js_(detail::JetStream(nc_.get(), 5000ms)) {}

  uint64_t Count(const std::string& stream) {
    jsStreamInfo* raw = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    detail::Check(js_GetStreamInfo(&raw, js_.get(), stream.c_str(), nullptr, &jerr), "info", jerr);
    NatsPtr<jsStreamInfo> si(raw);
    return si->State.Msgs;
  }
  int64_t DuplicateWindowNs(const std::string& stream) {
    jsStreamInfo* raw = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    detail::Check(js_GetStreamInfo(&raw, js_.get(), stream.c_str(), nullptr, &jerr), "info", jerr);
    NatsPtr<jsStreamInfo> si(raw);
    return si->Config->Duplicates;
  }
  std::vector<Stored> All(const std::string& stream) {
    jsStreamInfo* raw = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    detail::Check(js_GetStreamInfo(&raw, js_.get(), stream.c_str(), nullptr, &jerr), "info", jerr);
    NatsPtr<jsStreamInfo> si(raw);
    std::vector<Stored> out;
    for (uint64_t seq = si->State.FirstSeq; seq <= si->State.LastSeq && si->State.Msgs > 0; ++seq) {
      natsMsg* m = nullptr;
      detail::Check(js_GetMsg(&m, js_.get(), stream.c_str(), seq, nullptr, &jerr), "get", jerr);
      NatsPtr<natsMsg> msg(m);
      out.push_back({seq, natsMsg_GetSubject(m),
                     std::string(natsMsg_GetData(m), static_cast<size_t>(natsMsg_GetDataLength(m))),
                     detail::Header(m, "Nats-Msg-Id"), detail::Header(m, "Psvc-Aggregate-Id")});
    }
    return out;
  }
  void DeleteStream(const std::string& stream) {
    jsErrCode jerr = static_cast<jsErrCode>(0);
    js_DeleteStream(js_.get(), stream.c_str(), nullptr, &jerr);
  }

 private:
  NatsPtr<natsConnection> nc_;
  NatsPtr<jsCtx> js_;
};

/// A migrated database plus stream/subject names unique to it.
class OutboxRelayTest : public ::testing::Test {
 protected:
  OutboxRelayTest() : conn_(tdb_.Connect()) {
    std::string n = tdb_.name();
    for (char& c : n) c = static_cast<char>(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
    stream_ = "T_CHANGES_" + n;
    prefix_ = "t." + n + ".changes";
  }

  OutboxRelayOptions Options(const std::string& nats_url) {
    OutboxRelayOptions o;
    o.database_url = tdb_.url();
    o.nats_url = nats_url;
    o.stream = stream_;
    o.subject_prefix = prefix_;
    o.retry_initial = 20ms;
    o.retry_max = 300ms;
    o.publish_timeout = 1000ms;
    return o;
  }

  // Each insert commits on its own (autocommit), like the apply path's transactions.
  int64_t Insert(const std::string& type, const std::string& payload_hex) {
    return conn_
        .Query(
            "INSERT INTO qdrant_outbox (aggregate_id, event_type, payload) "
            "VALUES (gen_random_uuid(), $1, decode($2, 'hex')) RETURNING id",
            {type, payload_hex})
        .GetInt64(0, 0);
  }
  int64_t Unpublished() {
    return conn_.Exec("SELECT count(*) FROM qdrant_outbox WHERE published_at IS NULL")
        .GetInt64(0, 0);
  }
  int64_t Rows() { return conn_.Exec("SELECT count(*) FROM qdrant_outbox").GetInt64(0, 0); }

  psvc::testing::TestDatabase tdb_;
  db::Connection conn_;
  std::string stream_;
  std::string prefix_;
};

TEST_F(OutboxRelayTest, EveryStatementPreparesAgainstTheMigratedSchema) {
  for (const db::Statement* stmt : OutboxRelay::Statements()) {
    EXPECT_NO_THROW(conn_.Prepare(*stmt)) << stmt->name;
  }
}

TEST_F(OutboxRelayTest, RejectsADuplicateWindowShorterThanTheRetryInterval) {
  auto o = Options("nats://127.0.0.1:1");
  o.duplicate_window = 10s;
  o.retry_max = 30s;
  EXPECT_THROW(OutboxRelay{o}, std::invalid_argument);
}

TEST_F(OutboxRelayTest, PublishesEachRowOnceWithSubjectPayloadAndMsgId) {
  std::string url = testing::SharedNatsUrl();
  StreamReader reader(url);
  std::map<int64_t, std::pair<std::string, std::string>> rows;  // id -> subject suffix, payload
  for (int i = 0; i < 20; ++i) {
    std::string type = i % 2 ? "AnimeUpserted" : "Episode.Aired";
    std::string hex = "00ff" + std::string(i % 16 < 10 ? 1 : 1, "0123456789abcdef"[i % 16]) + "0";
    int64_t id = Insert(type, hex);
    rows[id] = {type, std::string("\x00\xff", 2) + static_cast<char>((i % 16) * 16)};
  }
  OutboxRelay relay(Options(url));
  relay.Start();
  ASSERT_TRUE(WaitUntil([&] { return Unpublished() == 0; }, 10s));
  relay.Stop();

  auto stored = reader.All(stream_);
  ASSERT_EQ(stored.size(), rows.size());
  auto it = rows.begin();
  for (const auto& m : stored) {  // one message per row, in id order
    EXPECT_EQ(m.msg_id, std::to_string(it->first));
    EXPECT_EQ(m.subject, prefix_ + "." + it->second.first);
    EXPECT_EQ(m.data, it->second.second) << m.msg_id;
    EXPECT_EQ(m.aggregate_id.size(), 36u);
    ++it;
  }
  auto s = relay.stats();
  EXPECT_EQ(s.published, 20u);
  EXPECT_EQ(s.duplicates, 0u);
  EXPECT_EQ(reader.DuplicateWindowNs(stream_), int64_t{3600} * 1000000000);
  EXPECT_EQ(
      conn_
          .Exec("SELECT count(*) FROM qdrant_outbox WHERE attempts = 1 AND last_error IS NULL "
                "AND published_at >= created_at")
          .GetInt64(0, 0),
      20);
  reader.DeleteStream(stream_);
}

// Migration 0021: only the transaction holding the notify gate sends the NOTIFY, so writers
// committing together are not serialised behind each other's notifications; the others' rows
// are still published on the holder's wake-up, long before the fallback poll.
TEST_F(OutboxRelayTest, OnlyTheGateHolderNotifiesAndTheOthersRowsStillGoOut) {
  std::string url = testing::SharedNatsUrl();
  StreamReader reader(url);
  auto o = Options(url);
  o.poll_interval = 10s;  // any publish faster than this came from a NOTIFY
  OutboxRelay relay(o);
  relay.Start();
  ASSERT_TRUE(WaitUntil([&] { return relay.stats().backlog == 0; }, 10s));

  auto listener = tdb_.Connect();
  listener.Exec("LISTEN qdrant_outbox");
  auto notifications = [&] {
    listener.Exec("SELECT 1");  // delivered between transactions: this round trip brings them
    int n = 0;
    while (PGnotify* note = PQnotifies(listener.native())) {
      PQfreemem(note);
      ++n;
    }
    return n;
  };
  Insert("AnimeUpserted", "00");  // a lone writer takes the gate and notifies
  EXPECT_EQ(notifications(), 1);

  auto holder = tdb_.Connect();
  holder.Exec("BEGIN");
  holder.Exec("SELECT pg_advisory_xact_lock(hashtext('postgres_service.outbox_notify'))");
  holder.Exec(
      "INSERT INTO qdrant_outbox (aggregate_id, event_type, payload) "
      "VALUES (gen_random_uuid(), 'AnimeUpserted', '\\x01')");
  for (int i = 0; i < 5; ++i) Insert("AnimeUpserted", "02");  // commit while the gate is held
  EXPECT_EQ(notifications(), 0);
  holder.Exec("COMMIT");  // its own (re-entrant) gate: one NOTIFY, which wakes the relay
  EXPECT_EQ(notifications(), 1);
  ASSERT_TRUE(WaitUntil([&] { return Unpublished() == 0; }, 8s)) << Unpublished();
  EXPECT_EQ(reader.Count(stream_), 7u);
  relay.Stop();
  reader.DeleteStream(stream_);
}

TEST_F(OutboxRelayTest, NotifyWakesTheRelayWellUnderThePollingInterval) {
  std::string url = testing::SharedNatsUrl();
  StreamReader reader(url);
  auto o = Options(url);
  o.poll_interval = 10s;  // any publish faster than this came from NOTIFY
  OutboxRelay relay(o);
  relay.Start();
  ASSERT_TRUE(WaitUntil([&] { return relay.stats().backlog == 0; }, 10s));
  std::this_thread::sleep_for(200ms);  // the relay is now parked in poll()

  // Single-row transactions paced at 1,000/s (the benchmark rate) for 2 s:
  // created_at (insert) → published_at (marked after the ack), both on the server's clock.
  constexpr int kRows = 2000;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kRows; ++i) {
    std::this_thread::sleep_until(start + i * 1ms);
    Insert("AnimeUpserted", "01");
  }
  ASSERT_TRUE(WaitUntil([&] { return Unpublished() == 0; }, 10s));
  auto lat = conn_.Exec(
      "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms), "
      "       percentile_cont(0.99) WITHIN GROUP (ORDER BY ms), max(ms) "
      "  FROM (SELECT extract(epoch FROM published_at - created_at) * 1000 AS ms FROM "
      "qdrant_outbox) t");
  double p50 = lat.GetDouble(0, 0), p99 = lat.GetDouble(0, 1), max = lat.GetDouble(0, 2);
  std::printf(
      "outbox commit->ack->marked latency over %d rows: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
      kRows, p50, p99, max);
  // Loose bounds: a test, not a benchmark, on a shared machine (under a parallel build the
  // p99 has reached ~500 ms). Without the wake-up the first rows would wait for the 10 s poll.
  EXPECT_LT(p99, 1500.0);
  EXPECT_LT(max, 5000.0);
  EXPECT_GT(relay.stats().wakeups_by_notify, 0u);
  EXPECT_EQ(reader.Count(stream_), static_cast<uint64_t>(kRows));
  relay.Stop();
  reader.DeleteStream(stream_);
}

TEST_F(OutboxRelayTest, NatsOutageGrowsTheBacklogThenDrainsWithoutLossOrDuplicates) {
  testing::NatsServerProcess nats;
  auto o = Options(nats.url());
  o.batch_size = 16;
  OutboxRelay relay(o);
  relay.Start();

  // A writer commits rows throughout: before, during and after the outage.
  std::atomic<bool> writing{true};
  std::atomic<int> written{0};
  std::thread writer([&] {
    auto c = tdb_.Connect();
    while (writing) {
      c.Exec(
          "INSERT INTO qdrant_outbox (aggregate_id, event_type, payload) "
          "VALUES (gen_random_uuid(), 'AnimeUpserted', '\\x01')");
      ++written;
      std::this_thread::sleep_for(2ms);
    }
  });
  ASSERT_TRUE(WaitUntil([&] { return relay.stats().published >= 100; }, 10s));
  nats.Kill();
  // The outage lasts many times retry_max: a "long" outage for the relay.
  std::this_thread::sleep_for(3s);
  int64_t backlog_during = Unpublished();
  auto during = relay.stats();
  EXPECT_GT(backlog_during, 300);
  EXPECT_GT(during.backlog, 100);  // the metric sees it grow
  EXPECT_GT(during.publish_failures, 0u);
  nats.Start();
  std::this_thread::sleep_for(500ms);
  writing = false;
  writer.join();
  ASSERT_TRUE(WaitUntil([&] { return Unpublished() == 0; }, 20s));
  relay.Stop();

  StreamReader reader(nats.url());
  auto stored = reader.All(o.stream);
  std::set<std::string> ids;
  for (const auto& m : stored) EXPECT_TRUE(ids.insert(m.msg_id).second) << "duplicate " << m.msg_id;
  EXPECT_EQ(static_cast<int64_t>(stored.size()), Rows());
  EXPECT_EQ(Rows(), written.load());
  std::printf("outage: %d rows, %lld unpublished during a 3 s outage, %zu in the stream after\n",
              written.load(), static_cast<long long>(backlog_during), stored.size());
}

TEST_F(OutboxRelayTest, TwoRelaysPublishEachRowOnceAndInIdOrder) {
  std::string url = testing::SharedNatsUrl();
  auto o = Options(url);
  o.batch_size = 7;
  OutboxRelay a(o), b(o);
  a.Start();
  b.Start();
  constexpr int kRows = 600;
  std::thread writer([&] {
    auto c = tdb_.Connect();
    for (int i = 0; i < kRows; ++i) {
      c.Exec(
          "INSERT INTO qdrant_outbox (aggregate_id, event_type, payload) "
          "VALUES (gen_random_uuid(), 'AnimeUpserted', '\\x02')");
      if (i % 50 == 0) std::this_thread::sleep_for(5ms);
    }
  });
  writer.join();
  ASSERT_TRUE(WaitUntil([&] { return Unpublished() == 0; }, 20s));
  a.Stop();
  b.Stop();
  auto sa = a.stats(), sb = b.stats();
  std::printf("relay a published %llu, relay b %llu\n",
              static_cast<unsigned long long>(sa.published),
              static_cast<unsigned long long>(sb.published));
  EXPECT_EQ(sa.published + sb.published, static_cast<uint64_t>(kRows));
  EXPECT_EQ(sa.duplicates + sb.duplicates, 0u);  // not even a server-side de-dup was needed

  StreamReader reader(url);
  auto stored = reader.All(stream_);
  ASSERT_EQ(stored.size(), static_cast<size_t>(kRows));
  for (size_t i = 1; i < stored.size(); ++i) {  // one writer → commit order == id order
    EXPECT_LT(std::stoll(stored[i - 1].msg_id), std::stoll(stored[i].msg_id));
  }
  reader.DeleteStream(stream_);
}

TEST_F(OutboxRelayTest, PrunesPublishedRowsAfterRetentionButNeverUnpublishedOnes) {
  std::string url = testing::SharedNatsUrl();
  auto o = Options(url);
  o.retention = 300ms;
  o.prune_interval = 100ms;
  {
    OutboxRelay relay(o);
    relay.Start();
    for (int i = 0; i < 10; ++i) Insert("AnimeUpserted", "03");
    ASSERT_TRUE(WaitUntil([&] { return Unpublished() == 0; }, 10s));
    EXPECT_GT(Rows(), 0);  // not before the retention
    ASSERT_TRUE(WaitUntil([&] { return Rows() == 0; }, 5s));
    // The counter moves once the DELETE has returned, a moment after its rows are gone.
    EXPECT_TRUE(WaitUntil([&] { return relay.stats().pruned == 10u; }, 2s)) << relay.stats().pruned;
  }
  // With NATS unreachable nothing is published, and pruning leaves the backlog alone.
  testing::NatsServerProcess dead;
  dead.Kill();
  o.nats_url = dead.url();
  OutboxRelay relay(o);
  Insert("AnimeUpserted", "04");
  relay.Start();
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(Rows(), 1);
  EXPECT_EQ(Unpublished(), 1);
  relay.Stop();
  StreamReader(url).DeleteStream(stream_);
}

}  // namespace
}  // namespace psvc::events

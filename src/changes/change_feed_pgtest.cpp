// The committed change feed against a real PostgreSQL: transactions that commit out of start
// order, each anime's commit order, a restart from a saved watermark in the middle of a burst,
// two feeds (two replicas) on one database, pruned changes, read-your-writes waits.
#include "changes/change_feed.h"
#include "changes/change_order.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "db/connection.h"
#include "db/pool.h"
#include "events/outbox_relay.h"
#include "testing/test_database.h"
#include "testing/wait_until.h"
#include "write/event_applier.h"

namespace psvc::changes {
namespace {

using namespace std::chrono_literals;

constexpr auto kWait = 60s;  // generous: the machine is shared

/// Records every batch a feed delivers.
class Recorder {
 public:
  explicit Recorder(ChangeSource& source) : source_(source) {
    id_ = source.Subscribe([this](const ChangeBatch& b) {
      std::lock_guard lock(mu_);
      if (b.from_watermark != last_watermark_ && last_watermark_ != 0) gaps_ = true;
      last_watermark_ = b.watermark;
      lost_ = lost_ || b.changes_lost;
      for (const auto& c : b.changes) changes_.push_back(c);
    });
  }
  ~Recorder() { source_.Unsubscribe(id_); }
  std::vector<Change> changes() const {
    std::lock_guard lock(mu_);
    return changes_;
  }
  size_t size() const {
    std::lock_guard lock(mu_);
    return changes_.size();
  }
  bool gaps() const {
    std::lock_guard lock(mu_);
    return gaps_;
  }
  bool lost() const {
    std::lock_guard lock(mu_);
    return lost_;
  }

 private:
  ChangeSource& source_;
  ChangeSource::ListenerId id_ = 0;
  mutable std::mutex mu_;
  std::vector<Change> changes_;
  uint64_t last_watermark_ = 0;
  bool gaps_ = false;
  bool lost_ = false;
};

ChangeFeedOptions Options(const testing::TestDatabase& tdb, uint64_t start = 0) {
  ChangeFeedOptions o;
  o.database_url = tdb.url();
  o.start_watermark = start;
  o.fast_poll = 10ms;
  o.idle_poll = 200ms;
  return o;
}

std::string Uuid(int n) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012d", n);
  return buf;
}

void CreateAnime(db::Connection& conn, int count) {
  conn.Query(
      "INSERT INTO anime (id, title) SELECT ('00000000-0000-4000-8000-' || lpad(g::text, 12, "
      "'0'))::uuid, 'Anime ' || g FROM generate_series(1, $1::int) g",
      {std::to_string(count)});
}

/// One write as the apply path makes it, inside the caller's open transaction: the anime's
/// row lock, its version bump and the outbox row carrying the new version.
int64_t WriteVersion(db::Connection& conn, const std::string& anime) {
  auto r = conn.Query(
      "UPDATE anime SET version = version + 1 WHERE id = $1::uuid RETURNING version", {anime});
  int64_t version = r.GetInt64(0, 0);
  conn.Query(
      "INSERT INTO qdrant_outbox (aggregate_id, event_type, payload) VALUES ($1::uuid, "
      "'AnimeUpdated', convert_to('{\"schema\":1,\"event_type\":\"AnimeUpdated\",\"version\":' || "
      "$2 || '}', 'UTF8'))",
      {anime, std::to_string(version)});
  return version;
}

/// Every outbox row with xid >= `from`, in id order: what a feed starting there must deliver.
std::set<int64_t> RowsFrom(db::Connection& conn, uint64_t from) {
  auto r = conn.Query("SELECT id FROM qdrant_outbox WHERE xid >= $1::xid8", {FormatXid(from)});
  std::set<int64_t> ids;
  for (int i = 0; i < r.rows(); ++i) ids.insert(r.GetInt64(i, 0));
  return ids;
}

uint64_t MaxXid(db::Connection& conn) {
  auto r = conn.Exec("SELECT coalesce(max(xid)::text, '0') FROM qdrant_outbox");
  uint64_t x = 0;
  EXPECT_TRUE(ParseXid(r.Get(0, 0), &x));
  return x;
}

TEST(ChangeFeed, ANewerCommitWaitsForAnOlderOpenTransactionAndNothingIsMissed) {
  testing::TestDatabase tdb;
  auto admin = tdb.Connect();
  CreateAnime(admin, 2);
  // The older transaction takes its xid first and stays open.
  auto older = tdb.Connect();
  older.Exec("BEGIN");
  const uint64_t older_xid = ChangeFeed::CurrentTransactionId(older);

  ChangeFeed feed(Options(tdb));
  Recorder rec(feed);
  feed.Start();
  ASSERT_TRUE(testing::WaitUntil([&] { return feed.watermark() != 0; }, kWait));
  EXPECT_LE(feed.watermark(), older_xid);

  auto newer = tdb.Connect();
  newer.Exec("BEGIN");
  const uint64_t newer_xid = ChangeFeed::CurrentTransactionId(newer);
  ASSERT_GT(newer_xid, older_xid);
  WriteVersion(newer, Uuid(2));
  newer.Exec("COMMIT");
  // Several polls after the newer commit: it is visible, but held back by the older one.
  const uint64_t polls = feed.stats().polls;
  ASSERT_TRUE(testing::WaitUntil([&] { return feed.stats().polls >= polls + 5; }, kWait));
  EXPECT_EQ(rec.size(), 0u);
  EXPECT_LE(feed.watermark(), older_xid);
  EXPECT_GT(feed.stats().behind_xids, 0u);

  WriteVersion(older, Uuid(1));
  older.Exec("COMMIT");
  ASSERT_TRUE(testing::WaitUntil([&] { return rec.size() >= 2; }, kWait));
  ASSERT_TRUE(feed.WaitPast(newer_xid, std::chrono::steady_clock::now() + kWait));
  auto got = rec.changes();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].xid, older_xid);
  EXPECT_EQ(got[0].anime_id, Uuid(1));
  EXPECT_EQ(got[1].xid, newer_xid);
  EXPECT_EQ(got[1].anime_id, Uuid(2));
  EXPECT_FALSE(rec.gaps());
  // Nothing is delivered twice, however often the feed polls.
  const uint64_t later = feed.stats().polls;
  ASSERT_TRUE(testing::WaitUntil([&] { return feed.stats().polls >= later + 5; }, kWait));
  EXPECT_EQ(rec.size(), 2u);
}

TEST(ChangeFeed, ChangesOfOneAnimeComeInCommitOrderWhenTheLaterCommitHasTheOlderXid) {
  testing::TestDatabase tdb;
  auto admin = tdb.Connect();
  CreateAnime(admin, 2);
  db::Pool pool({.url = tdb.url(), .size = 4});
  write::EventApplier applier(pool);

  ChangeFeed feed(Options(tdb));
  Recorder rec(feed);
  feed.Start();
  ASSERT_TRUE(testing::WaitUntil([&] { return feed.watermark() != 0; }, kWait));

  auto older = tdb.Connect();
  older.Exec("BEGIN");
  const uint64_t older_xid = ChangeFeed::CurrentTransactionId(older);
  WriteVersion(older, Uuid(2));  // another anime in the same transaction
  // A real write of anime 1 commits first (version 2) ...
  write::AnimeUpdated u{Uuid(1), {"synopsis"}, {}, 1};
  u.fields.title = "Anime 1";
  u.fields.synopsis = "first";
  auto r = applier.Apply(write::Event{Uuid(900), 1700000000000, "test", u});
  ASSERT_EQ(r.outcome, write::Outcome::kApplied);
  ASSERT_EQ(r.version, 2);
  // ... then the older transaction writes it (version 3) and commits.
  EXPECT_EQ(WriteVersion(older, Uuid(1)), 3);
  older.Exec("COMMIT");

  ASSERT_TRUE(testing::WaitUntil([&] { return rec.size() >= 3; }, kWait));
  std::vector<int64_t> versions_of_1;
  std::vector<uint64_t> xids_of_1;
  for (const auto& c : rec.changes()) {
    if (c.anime_id != Uuid(1)) continue;
    versions_of_1.push_back(*PayloadVersion(c.payload));
    xids_of_1.push_back(c.xid);
  }
  EXPECT_EQ(versions_of_1, (std::vector<int64_t>{2, 3}));
  ASSERT_EQ(xids_of_1.size(), 2u);
  EXPECT_GT(xids_of_1[0], older_xid);  // the case under test: commit order != xid order
  EXPECT_EQ(xids_of_1[1], older_xid);
}

/// Writers that bump versions of a few anime; every tenth holds its transaction (and its
/// older xid) open a while, so commits come out of start order.
void Burst(const testing::TestDatabase& tdb, int writers, int per_writer, int anime,
           std::atomic<int>* done) {
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      auto conn = tdb.Connect();
      std::mt19937 rng(w);
      for (int i = 0; i < per_writer; ++i) {
        conn.Exec("BEGIN");
        ChangeFeed::CurrentTransactionId(conn);
        if (i % 10 == w % 10) std::this_thread::sleep_for(20ms);
        // Each transaction locks its anime in id order, as the apply path does (no deadlocks).
        std::set<int> touched;
        for (int k = 1 + static_cast<int>(rng() % 3); k > 0; --k) {
          touched.insert(1 + static_cast<int>(rng() % anime));
        }
        for (int a : touched) WriteVersion(conn, Uuid(a));
        conn.Exec("COMMIT");
        if (done) ++*done;
      }
    });
  }
  for (auto& t : threads) t.join();
}

/// Per anime the versions a feed delivered strictly increase: commit order.
void ExpectCommitOrderPerAnime(const std::vector<Change>& changes) {
  std::map<std::string, int64_t> last;
  for (const auto& c : changes) {
    int64_t v = *PayloadVersion(c.payload);
    EXPECT_GT(v, last[c.anime_id]) << c.anime_id << " outbox id " << c.outbox_id;
    last[c.anime_id] = v;
  }
}

TEST(ChangeFeed, ARestartFromASavedWatermarkMidBurstDeliversExactlyTheRest) {
  testing::TestDatabase tdb;
  auto admin = tdb.Connect();
  CreateAnime(admin, 5);
  const uint64_t start = ChangeFeed::SnapshotWatermark(admin);
  std::atomic<int> done{0};
  std::thread burst([&] { Burst(tdb, 4, 60, 5, &done); });

  std::vector<Change> first;
  uint64_t saved = 0;
  {
    ChangeFeed feed(Options(tdb, start));
    Recorder rec(feed);
    feed.Start();
    ASSERT_TRUE(testing::WaitUntil([&] { return rec.size() >= 40; }, kWait));
    feed.Stop();  // mid-burst: the consumer keeps what it got and the watermark with it
    first = rec.changes();
    saved = feed.watermark();
  }
  ChangeFeed resumed(Options(tdb, saved));
  Recorder rec(resumed);
  resumed.Start();
  burst.join();
  EXPECT_LT(done.load(), 241);
  const uint64_t last = MaxXid(admin);
  ASSERT_TRUE(resumed.WaitPast(last, std::chrono::steady_clock::now() + kWait));
  auto rest = rec.changes();

  std::multiset<int64_t> delivered;
  for (const auto& c : first) {
    EXPECT_LT(c.xid, saved);
    delivered.insert(c.outbox_id);
  }
  for (const auto& c : rest) {
    EXPECT_GE(c.xid, saved);
    delivered.insert(c.outbox_id);
  }
  EXPECT_FALSE(rest.empty());
  auto expected = RowsFrom(admin, start);
  EXPECT_EQ(std::set<int64_t>(delivered.begin(), delivered.end()), expected);
  EXPECT_EQ(delivered.size(), expected.size()) << "a change was delivered twice";
  auto all = first;
  all.insert(all.end(), rest.begin(), rest.end());
  ExpectCommitOrderPerAnime(all);
  EXPECT_FALSE(rec.gaps());
}

TEST(ChangeFeed, TwoFeedsOnOneDatabaseDeliverTheSameSequence) {
  testing::TestDatabase tdb;
  auto admin = tdb.Connect();
  CreateAnime(admin, 3);
  const uint64_t start = ChangeFeed::SnapshotWatermark(admin);
  auto o1 = Options(tdb, start);
  o1.name = "one";
  auto o2 = Options(tdb, start);
  o2.name = "two";
  o2.fast_poll = 23ms;  // different pacing: different batch boundaries
  ChangeFeed one(o1), two(o2);
  Recorder r1(one), r2(two);
  one.Start();
  two.Start();
  Burst(tdb, 4, 40, 3, nullptr);
  const uint64_t last = MaxXid(admin);
  ASSERT_TRUE(one.WaitPast(last, std::chrono::steady_clock::now() + kWait));
  ASSERT_TRUE(two.WaitPast(last, std::chrono::steady_clock::now() + kWait));
  auto s1 = r1.changes(), s2 = r2.changes();
  ASSERT_EQ(s1.size(), RowsFrom(admin, start).size());
  ASSERT_EQ(s1.size(), s2.size());
  for (size_t i = 0; i < s1.size(); ++i) {
    ASSERT_EQ(s1[i].outbox_id, s2[i].outbox_id) << "position " << i;
  }
  ExpectCommitOrderPerAnime(s1);
}

TEST(ChangeFeed, ResumingBelowPrunedChangesSaysTheyAreLost) {
  testing::TestDatabase tdb;
  auto admin = tdb.Connect();
  CreateAnime(admin, 1);
  const uint64_t saved = ChangeFeed::SnapshotWatermark(admin);
  admin.Exec("BEGIN");
  WriteVersion(admin, Uuid(1));
  admin.Exec("COMMIT");
  std::this_thread::sleep_for(5ms);  // created_at strictly before the prune's clock
  EXPECT_EQ(events::PruneUnrelayedOutbox(admin, 1ms), 1);

  ChangeFeed feed(Options(tdb, saved));
  Recorder rec(feed);
  feed.Start();
  ASSERT_TRUE(testing::WaitUntil([&] { return feed.watermark() > saved; }, kWait));
  EXPECT_TRUE(rec.lost());
  EXPECT_EQ(feed.stats().lost_batches, 1u);

  // A feed that starts after the prune has lost nothing.
  ChangeFeed fresh(Options(tdb, feed.watermark()));
  Recorder rec2(fresh);
  fresh.Start();
  admin.Exec("BEGIN");
  const uint64_t x = ChangeFeed::CurrentTransactionId(admin);
  WriteVersion(admin, Uuid(1));
  admin.Exec("COMMIT");
  ASSERT_TRUE(fresh.WaitPast(x, std::chrono::steady_clock::now() + kWait));
  EXPECT_FALSE(rec2.lost());
  EXPECT_EQ(rec2.size(), 1u);
}

TEST(ChangeFeed, WaitPastReturnsOnceTheWriteIsDeliveredAndFalseAtItsDeadline) {
  testing::TestDatabase tdb;
  auto admin = tdb.Connect();
  CreateAnime(admin, 1);
  auto o = Options(tdb);
  o.idle_poll = 30s;  // only the notify and WaitPast's wake-up can make it poll
  o.fast_poll = 10ms;
  ChangeFeed feed(o);
  feed.Start();
  ASSERT_TRUE(testing::WaitUntil([&] { return feed.watermark() != 0; }, kWait));
  admin.Exec("BEGIN");
  const uint64_t x = ChangeFeed::CurrentTransactionId(admin);
  WriteVersion(admin, Uuid(1));
  admin.Exec("COMMIT");
  EXPECT_TRUE(feed.WaitPast(x, std::chrono::steady_clock::now() + kWait));
  EXPECT_GT(feed.watermark(), x);
  EXPECT_FALSE(feed.WaitPast(x + 1000000, std::chrono::steady_clock::now() + 100ms));
}

TEST(ChangeFeed, AnOpenTransactionInAnotherDatabaseDoesNotHoldTheFeedBack) {
  testing::TestDatabase tdb, other;
  auto admin = tdb.Connect();
  CreateAnime(admin, 1);
  // Older than our write, open throughout: it holds the cluster's xmin, not this database's.
  auto neighbour = other.Connect();
  neighbour.Exec("BEGIN");
  const uint64_t neighbour_xid = ChangeFeed::CurrentTransactionId(neighbour);
  ChangeFeed feed(Options(tdb));
  Recorder rec(feed);
  feed.Start();
  ASSERT_TRUE(testing::WaitUntil([&] { return feed.watermark() != 0; }, kWait));
  admin.Exec("BEGIN");
  const uint64_t x = ChangeFeed::CurrentTransactionId(admin);
  ASSERT_GT(x, neighbour_xid);
  WriteVersion(admin, Uuid(1));
  admin.Exec("COMMIT");
  EXPECT_TRUE(feed.WaitPast(x, std::chrono::steady_clock::now() + kWait));
  EXPECT_EQ(rec.size(), 1u);
  neighbour.Exec("ROLLBACK");
}

}  // namespace
}  // namespace psvc::changes

// The view counter against a real database: flushes add exactly what was counted, two
// replicas' totals add up, merged ids are refused and views accepted before a merge follow it
// to the survivor, repeated view ids count once within the window; while the database is
// down (a private cluster, stopped) known anime keep counting up to the pending bound, failed
// flushes keep their views and the first flush after the outage writes exactly them.
#include "write/view_counter.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <thread>

#include "db/connection.h"
#include "db/error.h"
#include "db/migrator.h"
#include "db/pool.h"
#include "testing/postgres_cluster.h"
#include "testing/test_database.h"
#include "testing/wait_until.h"

namespace psvc::write {
namespace {

using namespace std::chrono_literals;
using Outcome = ViewRecord::Outcome;

std::string U(int n) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012x", n);
  return buf;
}

class ViewCounterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    conn_.emplace(tdb_.Connect());
    for (int i = 1; i <= kAnime; ++i) {
      conn_->Exec("INSERT INTO anime (id, title, view_count) VALUES ('" + U(i) + "', 'Show " +
                  std::to_string(i) + "', " + std::to_string(i * 10) + ")");
    }
  }
  std::unique_ptr<db::Pool> NewPool() {
    return std::make_unique<db::Pool>(db::PoolOptions{.url = tdb_.url(), .size = 4});
  }
  int64_t Int(const std::string& sql) { return conn_->Exec(sql).GetInt64(0, 0); }
  int64_t Views(int i) { return Int("SELECT view_count FROM anime WHERE id = '" + U(i) + "'"); }
  // A merge's finalization as the MergeAnime saga runs it (anime_sagas.cpp): lock both rows,
  // add the duplicate's views to the survivor, redirect, delete the duplicate.
  static constexpr const char* kFinalizeSteps[] = {
      "SELECT 1 FROM anime WHERE id IN ($D, $S) ORDER BY id FOR UPDATE",
      "UPDATE anime SET view_count = view_count + (SELECT view_count FROM anime WHERE id = $D) "
      "WHERE id = $S",
      "INSERT INTO anime_redirect (from_id, to_id, saga_id) VALUES ($D, $S, "
      "'99999999-0000-4000-8000-000000000000')",
      "DELETE FROM anime WHERE id = $D"};
  static std::string Bind(std::string sql, int dup, int surv) {
    for (auto [from, to] : {std::pair{"$D", dup}, std::pair{"$S", surv}}) {
      for (size_t p; (p = sql.find(from)) != std::string::npos;)
        sql.replace(p, 2, "'" + U(to) + "'");
    }
    return sql;
  }

  static constexpr int kAnime = 10;
  testing::TestDatabase tdb_;
  std::optional<db::Connection> conn_;
};

TEST_F(ViewCounterTest, FlushAddsEachAnimesViewsOnceWithOneOutboxRowPerAnime) {
  auto pool = NewPool();
  ViewCounter views(*pool);
  int64_t outbox_before = Int("SELECT count(*) FROM qdrant_outbox");
  for (int k = 0; k < 5; ++k) EXPECT_EQ(views.Record(U(1)).outcome, Outcome::kCounted);
  for (int k = 0; k < 3; ++k) EXPECT_EQ(views.Record(U(2)).outcome, Outcome::kCounted);
  auto last = views.Record(U(2));
  EXPECT_EQ(last.view_count, 20 + 4);  // the stored count plus this replica's pending views
  EXPECT_EQ(Views(1), 10);             // nothing written before the flush
  EXPECT_EQ(views.stats().pending, 9);

  EXPECT_EQ(views.Flush(), 9);
  EXPECT_EQ(Views(1), 15);
  EXPECT_EQ(Views(2), 24);
  EXPECT_EQ(Views(3), 30);
  EXPECT_EQ(views.stats().pending, 0);
  // One coalesced change per anime, carrying the new count, not one per view.
  EXPECT_EQ(Int("SELECT count(*) FROM qdrant_outbox") - outbox_before, 2);
  EXPECT_EQ(Int("SELECT (convert_from(payload, 'UTF8')::json->>'view_count')::bigint "
                "FROM qdrant_outbox WHERE aggregate_id = '" +
                U(1) + "' AND event_type = 'AnimeViewed'"),
            15);
  // Search popularity follows at the flush.
  EXPECT_EQ(
      Int("SELECT max(popularity) FROM search_term WHERE kind = 1 AND entity_id = '" + U(2) + "'"),
      24);
  EXPECT_EQ(views.Flush(), 0);  // nothing pending: no transaction, nothing written
  EXPECT_EQ(Views(1), 15);
}

TEST_F(ViewCounterTest, TwoReplicasOnOneDatabaseAddUpExactly) {
  auto pool_a = NewPool(), pool_b = NewPool();
  ViewCounterOptions o;
  o.flush_interval = 5ms;  // many flushes while views arrive
  ViewCounter a(*pool_a, o), b(*pool_b, o);
  a.Start();
  b.Start();
  std::map<int, int64_t> expected;
  for (int i = 1; i <= kAnime; ++i) expected[i] = i * 10;
  std::vector<std::map<int, int64_t>> added(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      ViewCounter& replica = t % 2 ? a : b;
      // At least 3,000 views each, and on until both replicas flushed a few times meanwhile.
      for (int k = 0; k < 3000 || a.stats().flushes < 3 || b.stats().flushes < 3; ++k) {
        int i = 1 + static_cast<int>(rng() % (t < 2 ? 1 : kAnime));  // two threads on one anime
        ASSERT_EQ(replica.Record(U(i)).outcome, Outcome::kCounted);
        ++added[t][i];
      }
    });
  }
  for (auto& th : threads) th.join();
  a.Stop();
  b.Stop();
  for (const auto& m : added)
    for (auto [i, n] : m) expected[i] += n;
  for (int i = 1; i <= kAnime; ++i) EXPECT_EQ(Views(i), expected[i]) << "anime " << i;
  int64_t total = 0;
  for (const auto& m : added)
    for (auto [i, n] : m) total += n;
  EXPECT_EQ(static_cast<int64_t>(a.stats().flushed + b.stats().flushed), total);
}

TEST_F(ViewCounterTest, UnknownIdIsNotFoundAndMergedIdIsRefusedWithTheSurvivor) {
  auto pool = NewPool();
  ViewCounter views(*pool);
  EXPECT_EQ(views.Record(U(999)).outcome, Outcome::kNotFound);
  for (const char* step : kFinalizeSteps) conn_->Exec(Bind(step, 1, 2));
  auto r = views.Record(U(1));
  EXPECT_EQ(r.outcome, Outcome::kMerged);
  EXPECT_EQ(r.merged_into, U(2));
  EXPECT_EQ(views.Flush(), 0);
  EXPECT_EQ(Views(2), 30);  // 20 + the duplicate's 10, nothing more
}

TEST_F(ViewCounterTest, ViewsAcceptedBeforeAMergeAreCountedOnTheSurvivor) {
  auto pool = NewPool();
  ViewCounter views(*pool);
  for (int k = 0; k < 7; ++k) ASSERT_EQ(views.Record(U(3)).outcome, Outcome::kCounted);
  for (const char* step : kFinalizeSteps) conn_->Exec(Bind(step, 3, 4));
  EXPECT_EQ(views.Flush(), 7);
  EXPECT_EQ(Views(4), 40 + 30 + 7);
  EXPECT_EQ(views.stats().redirected, 7u);
  // The flush learned of the merge: the next view of the duplicate is refused at once.
  auto r = views.Record(U(3));
  EXPECT_EQ(r.outcome, Outcome::kMerged);
  EXPECT_EQ(r.merged_into, U(4));
}

TEST_F(ViewCounterTest, AFlushWaitingOnAFinalizationFollowsTheRedirect) {
  auto pool = NewPool();
  ViewCounter views(*pool);
  for (int k = 0; k < 5; ++k) ASSERT_EQ(views.Record(U(5)).outcome, Outcome::kCounted);
  for (int k = 0; k < 2; ++k) ASSERT_EQ(views.Record(U(7)).outcome, Outcome::kCounted);
  auto saga = tdb_.Connect();
  saga.Exec("BEGIN");
  saga.Exec(Bind(kFinalizeSteps[0], 5, 6));  // the finalization holds both rows
  std::thread flush([&] { EXPECT_EQ(views.Flush(), 7); });
  ASSERT_TRUE(psvc::testing::WaitUntil(
      [&] {
        return Int("SELECT count(*) FROM pg_locks WHERE NOT granted AND locktype IN "
                   "('transactionid', 'tuple')") > 0;
      },
      30s));
  for (int s = 1; s < 4; ++s) saga.Exec(Bind(kFinalizeSteps[s], 5, 6));
  saga.Exec("COMMIT");
  flush.join();
  EXPECT_EQ(Views(6), 60 + 50 + 5);
  EXPECT_EQ(Views(7), 70 + 2);
  EXPECT_EQ(Int("SELECT count(*) FROM anime WHERE id = '" + U(5) + "'"), 0);
}

TEST_F(ViewCounterTest, ARepeatedViewIdCountsOnceWithinTheWindow) {
  auto pool = NewPool();
  ViewCounterOptions o;
  o.dedup_window = 300ms;
  o.dedup_capacity = 3;
  ViewCounter views(*pool, o);
  EXPECT_EQ(views.Record(U(1), "v1").outcome, Outcome::kCounted);
  EXPECT_EQ(views.Record(U(1), "v1").outcome, Outcome::kDuplicate);
  EXPECT_EQ(views.Record(U(1), "v2").outcome, Outcome::kCounted);
  EXPECT_EQ(views.Record(U(1)).outcome, Outcome::kCounted);  // no id: always counted
  EXPECT_EQ(views.Record(U(1)).outcome, Outcome::kCounted);
  EXPECT_EQ(views.Flush(), 4);
  EXPECT_EQ(Views(1), 14);
  EXPECT_EQ(views.stats().duplicates, 1u);
  // Past the window the id is forgotten and counts again.
  ASSERT_TRUE(psvc::testing::WaitUntil(
      [&] { return views.Record(U(1), "v1").outcome == Outcome::kCounted; }, 30s, 50ms));
  // Past the capacity the oldest ids are forgotten first.
  for (const char* id : {"a", "b", "c", "d"}) views.Record(U(2), id);
  EXPECT_EQ(views.Record(U(2), "d").outcome, Outcome::kDuplicate);
  EXPECT_EQ(views.Record(U(2), "a").outcome, Outcome::kCounted);
}

TEST_F(ViewCounterTest, StopWritesWhatIsPending) {
  auto pool = NewPool();
  {
    ViewCounterOptions o;
    o.flush_interval = std::chrono::hours(1);  // only the drain can write them
    ViewCounter views(*pool, o);
    views.Start();
    for (int k = 0; k < 11; ++k) views.Record(U(8));
    views.Stop();
    EXPECT_EQ(views.stats().pending, 0);
  }
  EXPECT_EQ(Views(8), 80 + 11);
}

// The commit succeeds but the replica never learns it (a connection lost during COMMIT, a
// failover after the standby had the commit): the retry must not count the batch again, and
// the views accepted meanwhile are written by the same flush.
TEST_F(ViewCounterTest, ABatchWhoseCommitWasNotAcknowledgedIsWrittenOnce) {
  auto pool = NewPool();
  ViewCounterOptions o;
  int lost_commits = 1;
  o.after_commit = [&lost_commits] {
    if (lost_commits-- > 0)
      throw db::DbError(db::ErrorKind::kUnavailable, "connection lost during COMMIT");
  };
  ViewCounter views(*pool, o);
  for (int k = 0; k < 5; ++k) views.Record(U(3));
  views.Record(U(4));
  EXPECT_THROW(views.Flush(), db::DbError);
  EXPECT_EQ(Views(3), 30 + 5);  // committed, though reported failed
  EXPECT_EQ(views.stats().pending, 6);
  for (int k = 0; k < 2; ++k) views.Record(U(3));
  EXPECT_EQ(views.Flush(), 6 + 2);
  EXPECT_EQ(Views(3), 30 + 5 + 2);
  EXPECT_EQ(Views(4), 40 + 1);
  auto st = views.stats();
  EXPECT_EQ(st.flush_retries_found_applied, 1u);
  EXPECT_EQ(st.flushed, 8u);
  EXPECT_EQ(st.pending, 0);
  // One coalesced outbox row per anime per committed batch: the retry added none.
  EXPECT_EQ(Int("SELECT count(*) FROM qdrant_outbox WHERE event_type = 'AnimeViewed' AND "
                "aggregate_id = '" +
                U(3) + "'"),
            2);
  EXPECT_EQ(views.Record(U(3)).view_count, 30 + 5 + 2 + 1);  // the count was read again
}

// The database goes away (the private cluster stops as in a crash) while views arrive.
TEST(ViewCounterOutageTest, KnownAnimeCountUpToTheBoundAndTheFirstFlushAfterWritesExactlyThem) {
  testing::PostgresCluster pg;
  const std::string url = pg.CreateDatabase("views");
  {
    auto conn = db::Connection::Open(url);
    db::Migrator(conn, db::EmbeddedMigrations()).Apply();
    for (int i = 1; i <= 5; ++i) {
      conn.Exec("INSERT INTO anime (id, title) VALUES ('" + U(i) + "', 'Show " + std::to_string(i) +
                "')");
    }
  }
  db::Pool pool({.url = url, .size = 2, .connect_timeout = 2s});
  ViewCounterOptions o;
  o.status_ttl = 0ms;  // every view asks the database: the outage is met on the first one
  o.max_pending_anime = 3;
  o.acquire_timeout = 2s;
  ViewCounter views(pool, o);
  std::map<int, int64_t> model;  // views acknowledged as counted, per anime
  auto record = [&](int i, const std::string& view_id = "") {
    auto r = views.Record(U(i), view_id);
    if (r.outcome == Outcome::kCounted) ++model[i];
    return r.outcome;
  };
  for (int i = 1; i <= 3; ++i) ASSERT_EQ(record(i), Outcome::kCounted);
  ASSERT_EQ(views.Flush(), 3);
  ASSERT_EQ(record(4), Outcome::kCounted);  // all four known now
  ASSERT_EQ(views.Flush(), 1);

  pg.Stop();
  // Anime 5 was never seen: unknown and unverifiable, so the caller gets the database error.
  EXPECT_THROW(views.Record(U(5)), db::DbError);
  // Known anime keep counting on their remembered status, up to 3 anime pending.
  for (int k = 0; k < 10; ++k) ASSERT_EQ(record(1), Outcome::kCounted);
  ASSERT_EQ(record(2, "v-2"), Outcome::kCounted);
  ASSERT_EQ(record(3), Outcome::kCounted);
  EXPECT_THROW(views.Flush(), db::DbError);        // fails; the views stay pending
  EXPECT_EQ(record(4, "v-4"), Outcome::kRefused);  // a fourth anime: beyond the bound
  EXPECT_EQ(record(4, "v-4"), Outcome::kRefused);  // its retry is refused, not a "duplicate"
  EXPECT_EQ(record(2, "v-2"), Outcome::kDuplicate);
  EXPECT_EQ(record(1), Outcome::kCounted);  // an anime already pending still counts
  auto during = views.stats();
  EXPECT_EQ(during.pending, 13);
  EXPECT_EQ(during.pending_anime, 3);
  EXPECT_EQ(during.refused, 2u);
  EXPECT_EQ(during.counted_unverified, 13u);
  EXPECT_GE(during.flush_failures, 1u);

  pg.Start();
  // The first connections after the restart may still meet the old server's sockets.
  int64_t written = -1;
  ASSERT_TRUE(psvc::testing::WaitUntil(
      [&] {
        try {
          written = views.Flush();
          return true;
        } catch (const db::DbError&) {
          return false;
        }
      },
      60s, 100ms));
  EXPECT_EQ(written, 13);
  EXPECT_EQ(views.stats().pending, 0);
  EXPECT_EQ(record(4, "v-4"), Outcome::kCounted);  // room again, and the id was never counted
  ASSERT_EQ(views.Flush(), 1);
  auto conn = db::Connection::Open(url);
  for (int i = 1; i <= 5; ++i) {
    EXPECT_EQ(conn.Exec("SELECT view_count FROM anime WHERE id = '" + U(i) + "'").GetInt64(0, 0),
              model[i])
        << "anime " << i;
  }
  EXPECT_EQ(views.stats().flushed, 18u);
}

}  // namespace
}  // namespace psvc::write

#include "db/pool.h"

#include <gtest/gtest.h>

#include <optional>
#include <thread>

#include "db/error.h"
#include "observability/metrics.h"
#include "testing/test_database.h"
#include "testing/wait_until.h"

namespace psvc::db {
namespace {

using namespace std::chrono_literals;

constexpr Statement kAdd{"test.add", "SELECT $1::int + $2::int"};

int64_t BackendPid(PooledConnection& c) {
  return c->Exec("SELECT pg_backend_pid()").GetInt64(0, 0);
}

TEST(Pool, ReusesConnectionsAndPreparesOncePerConnection) {
  testing::TestDatabase tdb;
  Pool pool({.url = tdb.url(), .size = 2});
  for (int i = 0; i < 5; ++i) {
    auto c = pool.Acquire();
    EXPECT_EQ(c->Execute(kAdd, {"2", std::to_string(i)}).GetInt64(0, 0), 2 + i);
  }
  auto stats = pool.stats();
  EXPECT_EQ(stats.in_use, 0u);
  EXPECT_EQ(stats.idle, 1u);  // sequential use never needed a second connection
  auto c = pool.Acquire();
  auto prepared = c->Exec("SELECT count(*) FROM pg_prepared_statements WHERE name = 'test.add'");
  EXPECT_EQ(prepared.GetInt64(0, 0), 1);
}

TEST(Pool, NamedStatementsAreCountedTimedAndTheirFailuresCountedByKind) {
  testing::TestDatabase tdb;
  observability::MetricsRegistry metrics;
  constexpr Statement kDivide{"test.divide", "SELECT 1 / $1::int"};
  Pool pool({.url = tdb.url(), .size = 2, .metrics = &metrics});
  {
    auto c = pool.Acquire();
    for (int i = 0; i < 3; ++i) c->Execute(kAdd, {"1", "2"});
    EXPECT_THROW(c->Execute(kDivide, {"0"}), DbError);
    c->Exec("SELECT 1");  // unnamed SQL is not a statement metric
  }
  auto text = metrics.Render();
  EXPECT_NE(text.find("psvc_db_statement_duration_seconds_count{statement=\"test.add\"} 3\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("psvc_db_statement_duration_seconds_count{statement=\"test.divide\"} 1\n"),
            std::string::npos);
  EXPECT_NE(
      text.find(
          "psvc_db_statement_errors_total{statement=\"test.divide\",kind=\"invalid_input\"} 1\n"),
      std::string::npos)
      << text;
  EXPECT_EQ(text.find("statement=\"test.add\",kind"), std::string::npos);
}

TEST(Pool, ExhaustedPoolAnswersWithinTheDeadlineInsteadOfHanging) {
  testing::TestDatabase tdb;
  Pool pool({.url = tdb.url(), .size = 1});
  auto held = pool.Acquire();
  auto start = std::chrono::steady_clock::now();
  try {
    pool.Acquire(100ms);
    FAIL() << "expected kPoolExhausted";
  } catch (const DbError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kPoolExhausted);
  }
  auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, 90ms);
  EXPECT_LT(waited, 1s);
  EXPECT_EQ(pool.stats().timeouts, 1u);
}

TEST(Pool, AWaiterGetsTheConnectionWhenItIsReleased) {
  testing::TestDatabase tdb;
  Pool pool({.url = tdb.url(), .size = 1});
  std::optional<PooledConnection> held(pool.Acquire());
  std::thread releaser([&] {
    std::this_thread::sleep_for(50ms);
    held.reset();
  });
  auto c = pool.Acquire(2s);
  EXPECT_EQ(c->Exec("SELECT 1").GetInt64(0, 0), 1);
  releaser.join();
}

TEST(Pool, HandsOutTheMostRecentlyReleasedConnectionFirst) {
  testing::TestDatabase tdb;
  Pool pool({.url = tdb.url(), .size = 3});
  int64_t a_pid = 0, b_pid = 0, c_pid = 0;
  {
    auto a = pool.Acquire();
    auto b = pool.Acquire();
    auto c = pool.Acquire();
    a_pid = BackendPid(a);
    b_pid = BackendPid(b);
    c_pid = BackendPid(c);
    // Destroyed in reverse order: c, then b, then a is released last.
  }
  for (int i = 0; i < 3; ++i) {
    auto again = pool.Acquire();
    EXPECT_EQ(BackendPid(again), a_pid) << "sequential use must stay on the warmest connection";
  }
  auto first = pool.Acquire();
  auto second = pool.Acquire();
  EXPECT_EQ(BackendPid(first), a_pid);
  EXPECT_EQ(BackendPid(second), b_pid);
  EXPECT_NE(c_pid, a_pid);
}

TEST(Pool, ConnectionsIdleLongerThanMaxIdleAreClosedNotHandedOut) {
  testing::TestDatabase tdb;
  Pool pool({.url = tdb.url(), .size = 2, .max_idle = 100ms});
  int64_t a_pid = 0, b_pid = 0;
  {
    auto a = pool.Acquire();
    auto b = pool.Acquire();
    a_pid = BackendPid(a);
    b_pid = BackendPid(b);
  }
  EXPECT_EQ(pool.stats().idle, 2u);
  std::this_thread::sleep_for(200ms);
  auto fresh = pool.Acquire();
  EXPECT_NE(BackendPid(fresh), a_pid);
  EXPECT_NE(BackendPid(fresh), b_pid);
  auto stats = pool.stats();
  EXPECT_EQ(stats.idle, 0u);
  EXPECT_EQ(stats.in_use, 1u);
  // The closed backends are gone from the server, not just from the pool (a backend exits
  // just after its client hangs up).
  auto gone = [&] {
    return fresh
               ->Query("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1::int[])",
                       {"{" + std::to_string(a_pid) + "," + std::to_string(b_pid) + "}"})
               .GetInt64(0, 0) == 0;
  };
  EXPECT_TRUE(testing::WaitUntil(gone, 1s, 20ms));
}

TEST(Pool, StatementTimeoutIsMappedAndTheConnectionStaysUsable) {
  testing::TestDatabase tdb;
  Pool pool({.url = tdb.url(), .size = 1, .statement_timeout = 100ms});
  auto c = pool.Acquire();
  try {
    c->Exec("SELECT pg_sleep(2)");
    FAIL() << "expected a timeout";
  } catch (const DbError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kTimeout);
    EXPECT_EQ(e.sqlstate(), "57014");
  }
  EXPECT_EQ(c->Exec("SELECT 7").GetInt64(0, 0), 7);
}

TEST(Connection, AStatementRunningAtItsCancelTimeIsCancelledAndTheConnectionStaysUsable) {
  testing::TestDatabase tdb;
  auto c = Connection::Open(tdb.url());
  constexpr Statement kSleep{"test.sleep", "SELECT pg_sleep($1::float8), 1"};
  auto start = std::chrono::steady_clock::now();
  try {
    c.Execute(kSleep, {"5"}, start + 150ms);
    FAIL() << "expected the statement to be cancelled";
  } catch (const DbError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kTimeout);
    EXPECT_EQ(e.sqlstate(), "57014");
    EXPECT_NE(std::string(e.what()).find("deadline"), std::string::npos) << e.what();
  }
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, 150ms);
  EXPECT_LT(took, 2s) << "the cancel must stop the 5 s statement";
  EXPECT_TRUE(c.IdleOutsideTransaction());
  // A cancel time already past cancels at once; one in the future leaves the statement alone.
  EXPECT_THROW(c.Execute(kSleep, {"5"}, std::chrono::steady_clock::now() - 1ms), DbError);
  auto r = c.Execute(kSleep, {"0.05"}, std::chrono::steady_clock::now() + 5s);
  EXPECT_EQ(r.GetInt64(0, 1), 1);
  // An SQL error under a cancel time is that error, not a timeout.
  constexpr Statement kDivide{"test.divide_by", "SELECT 1 / $1::int"};
  try {
    c.Execute(kDivide, {"0"}, std::chrono::steady_clock::now() + 5s);
    FAIL() << "expected division by zero";
  } catch (const DbError& e) {
    EXPECT_EQ(e.sqlstate(), "22012");
  }
  EXPECT_EQ(c.Execute(kDivide, {"2"}, std::chrono::steady_clock::now() + 5s).GetInt64(0, 0), 0);
}

TEST(Pool, ConnectionLeftInATransactionOrBrokenIsReplaced) {
  testing::TestDatabase tdb;
  Pool pool({.url = tdb.url(), .size = 1});
  std::string first_pid;
  {
    auto c = pool.Acquire();
    first_pid = c->Exec("SELECT pg_backend_pid()").Get(0, 0);
    c->Exec("BEGIN");  // never committed: must not leak to the next user
  }
  {
    auto c = pool.Acquire();
    EXPECT_NE(c->Exec("SELECT pg_backend_pid()").Get(0, 0), first_pid);
    EXPECT_TRUE(c->IdleOutsideTransaction());
    first_pid = c->Exec("SELECT pg_backend_pid()").Get(0, 0);
  }
  {
    // Kill the pooled backend from outside: the next user sees kUnavailable, once.
    auto killer = tdb.Connect();
    killer.Query("SELECT pg_terminate_backend($1::int)", {first_pid});
    auto c = pool.Acquire();
    try {
      c->Exec("SELECT 1");
      FAIL() << "expected the dead connection to fail";
    } catch (const DbError& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kUnavailable) << e.what();
    }
  }
  auto c = pool.Acquire();
  EXPECT_EQ(c->Exec("SELECT 1").GetInt64(0, 0), 1);
  EXPECT_GE(pool.stats().replaced, 2u);
}

TEST(Pool, ABrokenConnectionClosesTheIdleOnesSoAServerRestartFailsOneCallNotOnePerConnection) {
  testing::TestDatabase tdb;
  Pool pool({.url = tdb.url(), .size = 3});
  std::string pids = "{";
  {
    auto a = pool.Acquire();
    auto b = pool.Acquire();
    auto c = pool.Acquire();
    pids += std::to_string(BackendPid(a)) + "," + std::to_string(BackendPid(b)) + "," +
            std::to_string(BackendPid(c)) + "}";
  }
  // What a failover does to the pool: every backend gone at once.
  auto killer = tdb.Connect();
  killer.Query("SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid", {pids});
  {
    auto first = pool.Acquire();
    EXPECT_THROW(first->Exec("SELECT 1"), DbError);
  }
  auto stats = pool.stats();
  EXPECT_EQ(stats.idle, 0u) << "the other dead idle connections must be closed, not handed out";
  EXPECT_EQ(stats.flushed, 2u);
  auto x = pool.Acquire();
  auto y = pool.Acquire();
  auto z = pool.Acquire();
  for (auto* c : {&x, &y, &z}) EXPECT_EQ((*c)->Exec("SELECT 1").GetInt64(0, 0), 1);
}

TEST(Pool, UseFallbackSendsNewConnectionsElsewhereAndClosesTheOldOnesOnRelease) {
  testing::TestDatabase tdb;
  const std::string url = tdb.url();
  const std::string fallback =
      url + (url.find('?') == std::string::npos ? "?" : "&") + "options=-cwork_mem%3D7MB";
  Pool pool({.url = url, .size = 2, .fallback_url = fallback});
  auto work_mem = [](PooledConnection& c) {
    return std::string(c->Exec("SELECT current_setting('work_mem')").Get(0, 0));
  };
  int64_t busy_pid = 0;
  {
    auto busy = pool.Acquire();
    busy_pid = BackendPid(busy);
    EXPECT_NE(work_mem(busy), "7MB");
    pool.UseFallback(true);
    EXPECT_TRUE(pool.stats().using_fallback);
  }  // released after the switch: closed, not kept
  EXPECT_EQ(pool.stats().idle, 0u);
  {
    auto c = pool.Acquire();
    EXPECT_EQ(work_mem(c), "7MB");
    EXPECT_NE(BackendPid(c), busy_pid);
  }
  pool.UseFallback(false);
  EXPECT_FALSE(pool.stats().using_fallback);
  auto back = pool.Acquire();
  EXPECT_NE(work_mem(back), "7MB");
}

TEST(Pool, ReconnectReplacesEveryConnectionIdleNowOrBusyUntilReleased) {
  testing::TestDatabase tdb;
  Pool pool({.url = tdb.url(), .size = 2});
  int64_t idle_pid = 0, busy_pid = 0;
  {
    std::optional<PooledConnection> idle(pool.Acquire());
    auto busy = pool.Acquire();
    idle_pid = BackendPid(*idle);
    busy_pid = BackendPid(busy);
    idle.reset();
    EXPECT_EQ(pool.stats().idle, 1u);
    pool.Reconnect();
    EXPECT_EQ(pool.stats().idle, 0u);
  }
  EXPECT_EQ(pool.stats().idle, 0u) << "a connection busy during Reconnect is not kept";
  auto fresh = pool.Acquire();
  EXPECT_NE(BackendPid(fresh), idle_pid);
  EXPECT_NE(BackendPid(fresh), busy_pid);
}

TEST(Pool, CannotConnectIsUnavailable) {
  Pool pool({.url = "postgresql://nobody@127.0.0.1:1/none", .size = 1});
  try {
    pool.Acquire();
    FAIL();
  } catch (const DbError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnavailable);
  }
  EXPECT_EQ(pool.stats().in_use, 0u);
}

TEST(Pool, ManyThreadsShareABoundedPool) {
  testing::TestDatabase tdb;
  Pool pool({.url = tdb.url(), .size = 3});
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        auto c = pool.Acquire(5s);
        if (c->Execute(kAdd, {"1", "1"}).GetInt64(0, 0) == 2) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 160);
  auto s = pool.stats();
  EXPECT_LE(s.idle + s.in_use, 3u);
}

}  // namespace
}  // namespace psvc::db

#include "db/replica_lag.h"

#include <gtest/gtest.h>

#include <thread>

#include "db/pool.h"
#include "testing/test_database.h"

// A lagging standby, and the way back from the fallback, are exercised by the HA fault test
// (tests/ha, label `ha`): it pauses replay on a real standby. Here: what needs no replica.
namespace psvc::db {
namespace {

using namespace std::chrono_literals;

std::string WorkMem(Pool& pool) {
  auto c = pool.Acquire();
  return std::string(c->Exec("SELECT current_setting('work_mem')").Get(0, 0));
}

std::string WithWorkMem(const std::string& url, const std::string& value) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + "options=-cwork_mem%3D" + value;
}

TEST(ReplicaLagMonitor, APrimaryHasNoLagAndThePoolsStay) {
  testing::TestDatabase tdb;
  Pool pool({.url = tdb.url(), .size = 1, .fallback_url = WithWorkMem(tdb.url(), "7MB")});
  ReplicaLagMonitor monitor({.url = tdb.url(), .max_lag = 1000ms, .pools = {&pool}});
  monitor.CheckOnce();
  auto s = monitor.stats();
  EXPECT_EQ(s.lag_seconds, 0.0);
  EXPECT_FALSE(s.in_recovery);
  EXPECT_FALSE(s.fallback);
  EXPECT_EQ(s.failures, 0u);
  EXPECT_NE(WorkMem(pool), "7MB");
}

TEST(ReplicaLagMonitor, AnUnreachableReplicaSendsReadsToTheFallbackAfterSomeChecks) {
  testing::TestDatabase tdb;
  Pool pool({.url = tdb.url(), .size = 1, .fallback_url = WithWorkMem(tdb.url(), "7MB")});
  ReplicaLagMonitor down({.url = "postgresql://nobody@127.0.0.1:1/none",
                          .bad_checks_before_fallback = 2,
                          .pools = {&pool}});
  down.CheckOnce();
  EXPECT_FALSE(down.stats().fallback) << "one failed check is not enough";
  down.CheckOnce();
  auto s = down.stats();
  EXPECT_TRUE(s.fallback);
  EXPECT_EQ(s.failures, 2u);
  EXPECT_EQ(s.switches, 1u);
  EXPECT_EQ(WorkMem(pool), "7MB");
}

TEST(ReplicaLagMonitor, TheThreadMeasuresUntilStopped) {
  testing::TestDatabase tdb;
  ReplicaLagMonitor monitor({.url = tdb.url(), .interval = 10ms});
  monitor.Start();
  for (int i = 0; i < 500 && monitor.stats().checks < 3; ++i) std::this_thread::sleep_for(10ms);
  monitor.Stop();
  auto checks = monitor.stats().checks;
  EXPECT_GE(checks, 3u);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(monitor.stats().checks, checks);
}

}  // namespace
}  // namespace psvc::db

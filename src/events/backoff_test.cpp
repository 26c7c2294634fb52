#include "events/backoff.h"

#include <gtest/gtest.h>

namespace psvc::events {
namespace {

using namespace std::chrono_literals;

TEST(Backoff, DoublesWithinJitterAndStaysBounded) {
  Backoff b(100ms, 1000ms);
  const int64_t bases[] = {100, 200, 400, 800, 1000, 1000, 1000};
  for (int64_t base : bases) {
    auto d = b.Next().count();
    EXPECT_GE(d, base * 8 / 10) << base;
    EXPECT_LE(d, base * 12 / 10) << base;
  }
  for (int i = 0; i < 100; ++i) EXPECT_LE(b.Next(), 1200ms);
  b.Reset();
  EXPECT_LE(b.Next(), 120ms);
}

TEST(Backoff, RedeliveryDelayIsExponentialAndCapped) {
  EXPECT_EQ(RedeliveryDelay(1, 100ms, 5s), 100ms);
  EXPECT_EQ(RedeliveryDelay(2, 100ms, 5s), 200ms);
  EXPECT_EQ(RedeliveryDelay(4, 100ms, 5s), 800ms);
  EXPECT_EQ(RedeliveryDelay(30, 100ms, 5s), 5s);
  EXPECT_EQ(RedeliveryDelay(1000000, 100ms, 5s), 5s);
}

TEST(Backoff, WaitedBeforeDeliveryIsTheSumOfEarlierDelays) {
  EXPECT_EQ(WaitedBeforeDelivery(1, 100ms, 5s), 0ms);
  EXPECT_EQ(WaitedBeforeDelivery(2, 100ms, 5s), 100ms);
  EXPECT_EQ(WaitedBeforeDelivery(4, 100ms, 5s), 700ms);  // 100 + 200 + 400
  // 100+200+400+800+1600+3200 = 6300, then capped at 5000 from the 7th delay on.
  EXPECT_EQ(WaitedBeforeDelivery(7, 100ms, 5s), 6300ms);
  EXPECT_EQ(WaitedBeforeDelivery(8, 100ms, 5s), 6300ms + 5s);
  EXPECT_EQ(WaitedBeforeDelivery(10, 100ms, 5s), 6300ms + 15s);
  int64_t sum = 0;
  for (int n = 1; n < 50; ++n) sum += RedeliveryDelay(n, 500ms, 30s).count();
  EXPECT_EQ(WaitedBeforeDelivery(50, 500ms, 30s).count(), sum);
}

TEST(SubjectMatches, WildcardsFollowNatsRules) {
  EXPECT_TRUE(SubjectMatches("anime.ingest.>", "anime.ingest.dlq"));
  EXPECT_TRUE(SubjectMatches("anime.ingest.>", "anime.ingest.a.b"));
  EXPECT_FALSE(SubjectMatches("anime.ingest.>", "anime.ingest"));
  EXPECT_TRUE(SubjectMatches("anime.*.dlq", "anime.ingest.dlq"));
  EXPECT_FALSE(SubjectMatches("anime.*", "anime.ingest.dlq"));
  EXPECT_TRUE(SubjectMatches("a.b", "a.b"));
  EXPECT_FALSE(SubjectMatches("a.b", "a.c"));
  EXPECT_FALSE(SubjectMatches("a.b.c", "a.b"));
}

}  // namespace
}  // namespace psvc::events

// The feed's in-batch order: xid order, then each anime's versioned rows in commit order.
#include "changes/change_order.h"

#include <gtest/gtest.h>

#include <limits>

namespace psvc::changes {
namespace {

Change Row(int64_t id, uint64_t xid, std::string anime, std::string type, std::string payload) {
  return Change{id, xid, std::move(anime), std::move(type), std::move(payload)};
}

std::vector<int64_t> Ids(const std::vector<Change>& changes) {
  std::vector<int64_t> ids;
  for (const auto& c : changes) ids.push_back(c.outbox_id);
  return ids;
}

TEST(PayloadFields, ReadsCompactAndSpacedJsonAndSkipsValues) {
  EXPECT_EQ(PayloadVersion(R"({"schema":1,"fields":["version"],"version":7})"), 7);
  EXPECT_EQ(PayloadVersion(R"({"schema" : 1, "version" : 12, "view_count" : 40})"), 12);
  EXPECT_EQ(PayloadViewCount(R"({"schema" : 1, "version" : 12, "view_count" : 40})"), 40);
  EXPECT_EQ(PayloadVersion(R"({"schema":1,"duplicate_id":"x"})"), std::nullopt);
}

TEST(OrderBatch, TransactionsInXidOrderRowsInIdOrder) {
  std::vector<Change> b = {Row(5, 20, "a", "AnimeMerged", "{}"),
                           Row(3, 10, "b", "AnimeRelationsChanged", R"({"version":0})"),
                           Row(2, 10, "c", "AnimeRelationsChanged", R"({"version":0})"),
                           Row(9, 15, "d", "AnimeEnriched", R"({"version":1})")};
  OrderBatch(b);
  EXPECT_EQ(Ids(b), (std::vector<int64_t>{2, 3, 9, 5}));
}

TEST(OrderBatch, ALaterCommitWithAnOlderXidComesAfterItsAnimesEarlierWrite) {
  // xid 10 started first but committed after xid 11 (it waited for the row lock): its version
  // is the higher one. The other anime's row stays where xid order puts it.
  std::vector<Change> b = {Row(1, 10, "x", "AnimeUpdated", R"({"version":3})"),
                           Row(2, 10, "y", "AnimeUpdated", R"({"version":9})"),
                           Row(3, 11, "x", "AnimeUpdated", R"({"version":2})")};
  OrderBatch(b);
  EXPECT_EQ(Ids(b), (std::vector<int64_t>{3, 2, 1}));
}

TEST(OrderBatch, ViewsFollowTheWriteWhoseVersionTheyReadAndEachOtherByCount) {
  // A flush at version 4 (count 10), an update to 5, flushes at 5 (counts 12 and 11 in xid
  // order, but 11 was committed first).
  std::vector<Change> b = {
      Row(1, 30, "x", "AnimeViewed", R"({"version" : 5, "view_count" : 12})"),
      Row(2, 31, "x", "AnimeViewed", R"({"version" : 5, "view_count" : 11})"),
      Row(3, 32, "x", "AnimeUpdated", R"({"version":5})"),
      Row(4, 33, "x", "AnimeViewed", R"({"version" : 4, "view_count" : 10})"),
  };
  OrderBatch(b);
  EXPECT_EQ(Ids(b), (std::vector<int64_t>{4, 3, 2, 1}));
}

TEST(OrderBatch, UnversionedRowsKeepTheirPlaces) {
  std::vector<Change> b = {Row(1, 10, "x", "AnimeUpdated", R"({"version":3})"),
                           Row(2, 11, "x", "AnimeRelationsChanged", R"({"version":0})"),
                           Row(3, 12, "x", "AnimeUpdated", R"({"version":2})")};
  OrderBatch(b);
  EXPECT_EQ(Ids(b), (std::vector<int64_t>{3, 2, 1}));
}

TEST(HoldBackCut, NothingHeldNothingCut) {
  std::vector<Change> window = {Row(1, 10, "x", "AnimeUpdated", R"({"version":3})")};
  EXPECT_EQ(HoldBackCut(window, {}), std::numeric_limits<uint64_t>::max());
  // A held row committed after the window's row of that anime holds nothing back.
  EXPECT_EQ(HoldBackCut(window, {Row(2, 20, "x", "AnimeUpdated", R"({"version":4})")}),
            std::numeric_limits<uint64_t>::max());
}

TEST(HoldBackCut, AWindowRowCommittedAfterAHeldRowOfItsAnimeWaitsWithEverythingAboveIt) {
  // x@v4 (xid 20) committed before x@v5 (xid 10): xid 10 and all above it wait.
  std::vector<Change> window = {Row(1, 8, "y", "AnimeUpdated", R"({"version":1})"),
                                Row(2, 10, "x", "AnimeUpdated", R"({"version":5})"),
                                Row(3, 12, "z", "AnimeUpdated", R"({"version":1})")};
  EXPECT_EQ(HoldBackCut(window, {Row(4, 20, "x", "AnimeUpdated", R"({"version":4})")}), 10u);
}

TEST(HoldBackCut, HoldingATransactionBackCanHoldAnEarlierOneBack) {
  // Held: x@v4 (xid 20). It holds back xid 12 (x@v5); xid 12 also wrote y@v7, committed
  // before y@v8 of xid 9, so xid 9 waits too. Found in rounds.
  std::vector<Change> window = {Row(1, 5, "w", "AnimeUpdated", R"({"version":1})"),
                                Row(2, 9, "y", "AnimeUpdated", R"({"version":8})"),
                                Row(3, 12, "x", "AnimeUpdated", R"({"version":5})"),
                                Row(4, 12, "y", "AnimeUpdated", R"({"version":7})")};
  EXPECT_EQ(HoldBackCut(window, {Row(5, 20, "x", "AnimeUpdated", R"({"version":4})")}), 9u);
}

}  // namespace
}  // namespace psvc::changes

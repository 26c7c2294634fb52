// Which changes the memory graph re-reads, and which anime: the one an outbox row names, and
// for the merge saga's events the duplicate and survivor of the payload.
#include "graph/serving_engine.h"

#include <gtest/gtest.h>

namespace psvc::graph {
namespace {

changes::Change Row(std::string type, std::string anime, std::string payload = "{}") {
  changes::Change c;
  c.event_type = std::move(type);
  c.anime_id = std::move(anime);
  c.payload = std::move(payload);
  return c;
}

constexpr const char* kSurvivor = "11111111-1111-4111-8111-111111111111";
constexpr const char* kDuplicate = "22222222-2222-4222-8222-222222222222";

TEST(ChangesToReread, ViewCountsAloneTouchNoGraph) {
  EXPECT_FALSE(ChangeTouchesGraph("AnimeViewed"));
  // A bulk load names no anime to re-read: it makes the graph reload whole instead.
  EXPECT_FALSE(ChangeTouchesGraph("CatalogueLoaded"));
  for (auto type :
       {"AnimeEnriched", "AnimeUpdated", "EpisodeAired", "AnimeRelationsChanged", "AnimeMerged",
        "AnimeMergeCompleted", "AnimeMergeReverted", "AnimeRemoved", "AnimeRemovalReverted"}) {
    EXPECT_TRUE(ChangeTouchesGraph(type)) << type;
  }
}

TEST(ChangesToReread, AnOrdinaryChangeNamesItsAnime) {
  // Ids inside an enrichment's payload (characters, related anime) are not re-read for it.
  auto ids = AnimeIdsToReread(
      Row("AnimeEnriched", kSurvivor, std::string(R"({"duplicate_id":")") + kDuplicate + R"("})"));
  EXPECT_EQ(ids, std::vector<std::string>{kSurvivor});
}

TEST(ChangesToReread, AMergeNamesTheDuplicateAndTheSurvivor) {
  // As the saga writes it, and as json_build_object spaces it.
  for (std::string payload : {std::string(R"({"schema":1,"duplicate_id":")") + kDuplicate +
                                  R"(","survivor_id":")" + kSurvivor + R"("})",
                              std::string(R"({"duplicate_id" : ")") + kDuplicate +
                                  R"(", "survivor_id" : ")" + kSurvivor + R"("})"}) {
    auto ids = AnimeIdsToReread(Row("AnimeMergeCompleted", kSurvivor, payload));
    EXPECT_EQ(ids, (std::vector<std::string>{kSurvivor, kDuplicate, kSurvivor})) << payload;
  }
}

TEST(ChangesToReread, AMalformedMergePayloadStillNamesTheAggregate) {
  for (std::string payload : {"", "{", R"({"duplicate_id":)", R"({"duplicate_id":"not-a-uuid"})",
                              R"({"duplicate_id":"2222")"}) {
    auto ids = AnimeIdsToReread(Row("AnimeMergeCompleted", kSurvivor, payload));
    EXPECT_EQ(ids, std::vector<std::string>{kSurvivor}) << payload;
  }
}

}  // namespace
}  // namespace psvc::graph

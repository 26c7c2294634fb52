#include "graph/limits.h"

#include <gtest/gtest.h>

#include "graph/edge_type.h"

namespace psvc::graph {
namespace {

TEST(ResolveLimit, ZeroMeansDefaultAboveCapClampsNegativeIsAnError) {
  std::vector<std::string> clamped;
  int out = -1;
  EXPECT_FALSE(ResolveLimit({"max_hops", 0, 2, 5}, out, clamped));
  EXPECT_EQ(out, 2);
  EXPECT_FALSE(ResolveLimit({"max_hops", 3, 2, 5}, out, clamped));
  EXPECT_EQ(out, 3);
  EXPECT_TRUE(clamped.empty());
  EXPECT_FALSE(ResolveLimit({"max_hops", 1000000, 2, 5}, out, clamped));
  EXPECT_EQ(out, 5);
  EXPECT_EQ(clamped, std::vector<std::string>{"max_hops"});
  auto err = ResolveLimit({"max_results", -1, 20, 50}, out, clamped);
  ASSERT_TRUE(err);
  EXPECT_NE(err->find("max_results"), std::string::npos);
  EXPECT_NE(err->find("negative"), std::string::npos);
}

TEST(EdgeType, NamesRoundTripAndInversesMatchTheSchema) {
  for (int i = kFirstEdgeType; i <= kLastEdgeType; ++i) {
    auto t = static_cast<EdgeType>(i);
    EXPECT_EQ(EdgeTypeFromName(EdgeTypeName(t)), t);
  }
  EXPECT_FALSE(EdgeTypeFromInt(0));
  EXPECT_FALSE(EdgeTypeFromInt(14));
  EXPECT_EQ(Inverse(EdgeType::kSequel), EdgeType::kPrequel);
  EXPECT_EQ(Inverse(EdgeType::kPrequel), EdgeType::kSequel);
  EXPECT_EQ(Inverse(EdgeType::kSideStory), EdgeType::kFullStory);
  EXPECT_EQ(Inverse(EdgeType::kSameStudio), EdgeType::kSameStudio);
}

TEST(EdgeFilter, EmptyListMeansEverythingAndDuplicatesCollapse) {
  auto all = EdgeFilter::Of({});
  EXPECT_EQ(all.relation_types.size(), 10u);
  EXPECT_TRUE(all.same_studio && all.co_appears && all.adapted_from);
  auto some = EdgeFilter::Of({EdgeType::kSequel, EdgeType::kSequel, EdgeType::kCoAppears});
  EXPECT_EQ(some.relation_types, std::vector<std::string_view>{"SEQUEL"});
  EXPECT_TRUE(some.co_appears);
  EXPECT_FALSE(some.same_studio);
  EXPECT_FALSE(some.adapted_from);
}

}  // namespace
}  // namespace psvc::graph

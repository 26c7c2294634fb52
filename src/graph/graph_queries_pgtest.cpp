// The graph primitives on hand-built graphs with known answers, plus a property test
// against a reference BFS written here.
#include "graph/graph_queries.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <queue>
#include <random>
#include <set>

#include "db/error.h"
#include "testing/test_database.h"

namespace psvc::graph {
namespace {

using namespace std::chrono_literals;

std::string U(int n) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012x", n);
  return buf;
}
std::string Hub(int n) { return U(0x100000 + n); }

class GraphTest : public ::testing::Test {
 protected:
  void SetUp() override { conn_.emplace(tdb_.Connect()); }

  void Anime(int n, int year = 2000) {
    conn_->Query("INSERT INTO anime (id, title, year) VALUES ($1, $2, $3)",
                 {U(n), "anime " + std::to_string(n), std::to_string(year)});
  }
  void Relation(int a, int b, const char* type) {
    conn_->Query("INSERT INTO anime_relation VALUES ($1, $2, $3)", {U(a), U(b), type});
  }
  void Studio(int hub, const std::vector<int>& members) {
    conn_->Query("INSERT INTO company (id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                 {Hub(hub), "studio " + std::to_string(hub)});
    for (int m : members) {
      conn_->Query(
          "INSERT INTO anime_company (anime_id, company_id, role) VALUES ($1, $2, 'studio')",
          {U(m), Hub(hub)});
    }
  }
  void Character(int hub, const std::vector<int>& members) {
    conn_->Query("INSERT INTO character (id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                 {Hub(hub), "character " + std::to_string(hub)});
    for (int m : members) {
      conn_->Query(
          "INSERT INTO anime_character (anime_id, character_id, role) VALUES ($1, $2, 'MAIN')",
          {U(m), Hub(hub)});
    }
  }

  GraphQueries Q(std::chrono::milliseconds budget = 5s) {
    return GraphQueries(*conn_, std::chrono::steady_clock::now() + budget, 2000ms);
  }
  AppliedLimits L(int hops, int fanout, int results) { return {hops, fanout, results, 10, {}}; }

  testing::TestDatabase tdb_;
  std::optional<db::Connection> conn_;
};

std::vector<std::pair<std::string, EdgeType>> Pairs(const NeighborsResult& r) {
  std::vector<std::pair<std::string, EdgeType>> out;
  for (auto& e : r.edges) out.emplace_back(e.node_id, e.type);
  return out;
}

TEST_F(GraphTest, NeighborsReportTheTypeAsSeenFromTheStartNode) {
  for (int i = 1; i <= 3; ++i) Anime(i);
  Relation(1, 2, "SEQUEL");      // 2 is 1's sequel; stored one way only
  Relation(2, 3, "SIDE_STORY");  // 3 is a side story of 2
  auto from2 = Q().Neighbors(U(2), EdgeFilter::All(), 50, 10);
  EXPECT_TRUE(from2.start_found);
  std::vector<std::pair<std::string, EdgeType>> want = {{U(1), EdgeType::kPrequel},
                                                        {U(3), EdgeType::kSideStory}};
  EXPECT_EQ(Pairs(from2), want);
  auto from3 = Q().Neighbors(U(3), EdgeFilter::All(), 50, 10);
  want = {{U(2), EdgeType::kFullStory}};
  EXPECT_EQ(Pairs(from3), want);
  // Filter by the type as seen from the start: from 2, only PREQUEL reaches 1.
  auto only_prequel = Q().Neighbors(U(2), EdgeFilter::Of({EdgeType::kPrequel}), 50, 10);
  want = {{U(1), EdgeType::kPrequel}};
  EXPECT_EQ(Pairs(only_prequel), want);
  EXPECT_TRUE(Q().Neighbors(U(2), EdgeFilter::Of({EdgeType::kSequel}), 50, 10).edges.empty());
}

TEST_F(GraphTest, BothStoredDirectionsGiveOneEdgeOfTheLowestType) {
  Anime(1);
  Anime(2);
  Relation(1, 2, "SPIN_OFF");
  Relation(2, 1, "ADAPTATION");  // inconsistent on purpose: each end sees SPIN_OFF/ADAPTATION
                                 // (1) and ADAPTATION/OTHER (2); the lowest type is reported
  auto from1 = Q().Neighbors(U(1), EdgeFilter::All(), 50, 10);
  std::vector<std::pair<std::string, EdgeType>> want = {{U(2), EdgeType::kSpinOff}};
  EXPECT_EQ(Pairs(from1), want);
  auto from2 = Q().Neighbors(U(2), EdgeFilter::All(), 50, 10);
  want = {{U(1), EdgeType::kAdaptation}};
  EXPECT_EQ(Pairs(from2), want);
}

TEST_F(GraphTest, UnknownStartIsFoundFalseNotAnError) {
  Anime(1);
  auto r = Q().Neighbors(U(99), EdgeFilter::All(), 50, 10);
  EXPECT_FALSE(r.start_found);
  EXPECT_TRUE(r.edges.empty());
  auto isolated = Q().Neighbors(U(1), EdgeFilter::All(), 50, 10);
  EXPECT_TRUE(isolated.start_found);
  EXPECT_TRUE(isolated.edges.empty());
  auto k = Q().KHop(U(99), EdgeFilter::All(), L(3, 50, 50));
  EXPECT_FALSE(k.start_found);
}

TEST_F(GraphTest, KHopOnAChainGivesDepthsParentsAndRespectsMaxHops) {
  for (int i = 1; i <= 6; ++i) Anime(i, 2000 + i);
  for (int i = 1; i < 6; ++i) {
    Relation(i, i + 1, "SEQUEL");
    Relation(i + 1, i, "PREQUEL");
  }
  auto r = Q().KHop(U(1), EdgeFilter::All(), L(3, 50, 50));
  ASSERT_EQ(r.nodes.size(), 3u);
  for (int d = 1; d <= 3; ++d) {
    EXPECT_EQ(r.nodes[d - 1].node_id, U(d + 1));
    EXPECT_EQ(r.nodes[d - 1].depth, d);
    EXPECT_EQ(r.nodes[d - 1].parent_id, U(d));
    EXPECT_EQ(r.nodes[d - 1].type, EdgeType::kSequel);
  }
  EXPECT_FALSE(r.truncated);
  auto from_middle = Q().KHop(U(4), EdgeFilter::All(), L(5, 50, 50));
  ASSERT_EQ(from_middle.nodes.size(), 5u);
  // At each depth SEQUEL (code 1) sorts before PREQUEL (code 2).
  EXPECT_EQ(from_middle.nodes[0].node_id, U(5));
  EXPECT_EQ(from_middle.nodes[1].node_id, U(3));
  EXPECT_EQ(from_middle.nodes[1].type, EdgeType::kPrequel);
  EXPECT_EQ(from_middle.nodes[4].node_id, U(1));
  EXPECT_EQ(from_middle.nodes[4].depth, 3);
}

TEST_F(GraphTest, DiamondAndCycleVisitEachNodeOnceNearestFirst) {
  for (int i = 1; i <= 4; ++i) Anime(i);
  Relation(1, 2, "SEQUEL");
  Relation(1, 3, "SEQUEL");
  Relation(2, 4, "SEQUEL");
  Relation(3, 4, "SEQUEL");
  Relation(4, 1, "SEQUEL");  // closes a cycle back to the start
  auto r = Q().KHop(U(1), EdgeFilter::All(), L(5, 50, 50));
  ASSERT_EQ(r.nodes.size(), 3u);
  std::map<std::string, int> depth;
  for (auto& n : r.nodes) depth[n.node_id] = n.depth;
  EXPECT_EQ(depth[U(2)], 1);
  EXPECT_EQ(depth[U(3)], 1);
  EXPECT_EQ(depth[U(4)], 1);  // the cycle edge makes 4 a direct (PREQUEL) neighbour
  EXPECT_EQ(r.nodes[0].node_id, U(2));
  EXPECT_EQ(r.nodes[1].node_id, U(3));
  EXPECT_EQ(r.nodes[2].node_id, U(4));
  EXPECT_EQ(r.nodes[2].type, EdgeType::kPrequel);
}

TEST_F(GraphTest, CliqueHitsEveryCapAndTheAnswerIsDeterministic) {
  constexpr int kN = 70;
  for (int i = 1; i <= kN; ++i) Anime(i);
  std::string values;
  for (int i = 1; i <= kN; ++i) {
    for (int j = 1; j <= kN; ++j) {
      if (i == j) continue;
      if (!values.empty()) values += ",";
      values += "('" + U(i) + "','" + U(j) + "','ALTERNATIVE')";
    }
  }
  conn_->Exec("INSERT INTO anime_relation VALUES " + values);
  auto n = Q().Neighbors(U(1), EdgeFilter::All(), 50, 10);
  ASSERT_EQ(n.edges.size(), 50u);
  EXPECT_EQ(n.edges.front().node_id, U(2));  // ties broken by id
  EXPECT_EQ(n.edges.back().node_id, U(51));
  auto k1 = Q().KHop(U(1), EdgeFilter::All(), L(5, 7, 50));
  // Fanout 7 counts new nodes only: the start adds the 7 lowest ids, then each of those adds
  // the next 7 unreached ids, until max_results stops the search in the middle of depth 2.
  ASSERT_EQ(k1.nodes.size(), 50u);
  EXPECT_TRUE(k1.truncated);
  for (size_t i = 0; i < k1.nodes.size(); ++i) {
    EXPECT_EQ(k1.nodes[i].depth, i < 7 ? 1 : 2);
    EXPECT_EQ(k1.nodes[i].node_id, U(static_cast<int>(i) + 2));
    EXPECT_EQ(k1.nodes[i].parent_id, i < 7 ? U(1) : U(static_cast<int>(i - 7) / 7 + 2));
  }
  auto capped = Q().KHop(U(1), EdgeFilter::All(), L(5, 50, 50));
  ASSERT_EQ(capped.nodes.size(), 50u);  // all at depth 1; the other 19 neighbours cut
  EXPECT_TRUE(capped.truncated);
  EXPECT_EQ(capped.nodes.back().depth, 1);
  auto k2 = Q().KHop(U(1), EdgeFilter::All(), L(5, 7, 50));
  ASSERT_EQ(k1.nodes.size(), k2.nodes.size());
  for (size_t i = 0; i < k1.nodes.size(); ++i) {
    EXPECT_EQ(k1.nodes[i].node_id, k2.nodes[i].node_id);
    EXPECT_EQ(k1.nodes[i].parent_id, k2.nodes[i].parent_id);
  }
}

TEST_F(GraphTest, MegaStudioNeighboursAreTheNearestInTimeWithinTheHubWindow) {
  constexpr int kN = 300;
  std::vector<int> members;
  for (int i = 1; i <= kN; ++i) {
    Anime(i, 1900 + i % 150);  // years 1900..2049, two anime per year
    members.push_back(i);
  }
  Studio(1, members);
  // Anime 75 is from 1975 (and so is 225).
  auto r = Q().Neighbors(U(75), EdgeFilter::Of({EdgeType::kSameStudio}), 50, 10);
  ASSERT_EQ(r.edges.size(), 20u);  // 10 on each side in (year, id) order
  std::set<int> years;
  for (auto& e : r.edges) {
    EXPECT_EQ(e.type, EdgeType::kSameStudio);
    EXPECT_EQ(e.via_id, Hub(1));
    int id = std::stoi(e.node_id.substr(24), nullptr, 16);
    years.insert(1900 + id % 150);
  }
  // Nearest first: the other 1975 anime, then 1974/1976, ...
  EXPECT_EQ(r.edges.front().node_id, U(225));
  EXPECT_GE(*years.begin(), 1969);
  EXPECT_LE(*years.rbegin(), 1981);
  // Symmetry: each of those neighbours has 75 in its own window.
  for (auto& e : r.edges) {
    auto back = Q().Neighbors(e.node_id, EdgeFilter::Of({EdgeType::kSameStudio}), 50, 10);
    bool found = false;
    for (auto& b : back.edges) found |= b.node_id == U(75);
    EXPECT_TRUE(found) << e.node_id;
  }
}

TEST_F(GraphTest, DerivedEdgesThroughCharactersCarryTheHub) {
  for (int i = 1; i <= 3; ++i) Anime(i);
  Character(7, {1, 3});
  auto r = Q().Neighbors(U(1), EdgeFilter::All(), 50, 10);
  ASSERT_EQ(r.edges.size(), 1u);
  EXPECT_EQ(r.edges[0].node_id, U(3));
  EXPECT_EQ(r.edges[0].type, EdgeType::kCoAppears);
  EXPECT_EQ(r.edges[0].via_id, Hub(7));
}

TEST_F(GraphTest, PathFindsAShortestLabelledChainOrNothing) {
  for (int i = 1; i <= 8; ++i) Anime(i);
  Relation(1, 2, "SEQUEL");
  Relation(2, 3, "SEQUEL");
  Relation(3, 4, "SIDE_STORY");
  Relation(1, 5, "ALTERNATIVE");
  Relation(5, 4, "OTHER");  // a second route 1-5-4 is shorter than 1-2-3-4
  Character(1, {6, 7});     // 6-7 are their own component; 8 is isolated
  auto p = Q().Path(U(1), U(4), EdgeFilter::All(), 5, 10, 20000);
  ASSERT_TRUE(p.found);
  ASSERT_EQ(p.steps.size(), 3u);
  EXPECT_EQ(p.steps[0].node_id, U(1));
  EXPECT_FALSE(p.steps[0].type.has_value());
  EXPECT_EQ(p.steps[1].node_id, U(5));
  EXPECT_EQ(p.steps[1].type, EdgeType::kAlternative);
  EXPECT_EQ(p.steps[2].node_id, U(4));
  EXPECT_EQ(p.steps[2].type, EdgeType::kOther);
  // Backward half is labelled as seen walking from 4 toward 1.
  auto back = Q().Path(U(4), U(2), EdgeFilter::Of({EdgeType::kPrequel, EdgeType::kFullStory}), 5,
                       10, 20000);
  ASSERT_TRUE(back.found);
  ASSERT_EQ(back.steps.size(), 3u);
  EXPECT_EQ(back.steps[1].node_id, U(3));
  EXPECT_EQ(back.steps[1].type, EdgeType::kFullStory);
  EXPECT_EQ(back.steps[2].type, EdgeType::kPrequel);
  // Too few hops allowed.
  auto short_hops = Q().Path(U(1), U(3), EdgeFilter::Of({EdgeType::kSequel}), 1, 10, 20000);
  EXPECT_FALSE(short_hops.found);
  auto none = Q().Path(U(1), U(7), EdgeFilter::All(), 5, 10, 20000);
  EXPECT_FALSE(none.found);
  EXPECT_TRUE(none.from_found && none.to_found);
  EXPECT_FALSE(none.truncated);
  auto missing = Q().Path(U(1), U(99), EdgeFilter::All(), 5, 10, 20000);
  EXPECT_FALSE(missing.found);
  EXPECT_FALSE(missing.to_found);
  auto self = Q().Path(U(8), U(8), EdgeFilter::All(), 5, 10, 20000);
  EXPECT_TRUE(self.found);
  EXPECT_EQ(self.steps.size(), 1u);
}

TEST_F(GraphTest, CompareListsScalarsSharedEntitiesAndDirectRelations) {
  Anime(1, 2001);
  Anime(2, 2003);
  Relation(1, 2, "SEQUEL");
  Character(5, {1, 2});
  Character(6, {1});
  Studio(9, {1, 2});
  auto c = Q().Compare(U(1), U(2));
  ASSERT_TRUE(c.a && c.b);
  EXPECT_EQ(c.a->year, 2001);
  EXPECT_EQ(c.b->year, 2003);
  ASSERT_EQ(c.characters.size(), 1u);
  EXPECT_EQ(c.characters[0].id, Hub(5));
  ASSERT_EQ(c.studios.size(), 1u);
  EXPECT_EQ(c.studios[0].name, "studio 9");
  EXPECT_EQ(c.direct_relations, std::vector<EdgeType>{EdgeType::kSequel});
  auto reverse = Q().Compare(U(2), U(1));
  EXPECT_EQ(reverse.direct_relations, std::vector<EdgeType>{EdgeType::kPrequel});
  auto missing = Q().Compare(U(1), U(42));
  EXPECT_TRUE(missing.a.has_value());
  EXPECT_FALSE(missing.b.has_value());
}

TEST_F(GraphTest, ExpiredDeadlineIsATimeout) {
  Anime(1);
  auto q = GraphQueries(*conn_, std::chrono::steady_clock::now() - 1ms, 2000ms);
  try {
    q.Neighbors(U(1), EdgeFilter::All(), 50, 10);
    FAIL();
  } catch (const db::DbError& e) {
    EXPECT_EQ(e.kind(), db::ErrorKind::kTimeout);
  }
}

TEST_F(GraphTest, ACallersDeadlineCostsNoExtraRoundTrip) {
  // The deadline is enforced by cancelling a statement still running at it, not by a
  // SET statement_timeout before each statement (one round trip each). Same work, same count.
  for (int i = 1; i <= 6; ++i) Anime(i);
  for (int i = 1; i < 6; ++i) Relation(i, i + 1, "SEQUEL");
  auto sent = [&](std::chrono::milliseconds budget) {
    auto before = conn_->statements_sent();
    auto k = Q(budget).KHop(U(1), EdgeFilter::All(), L(5, 50, 50));
    EXPECT_EQ(k.nodes.size(), 5u);
    auto p = Q(budget).Path(U(1), U(6), EdgeFilter::All(), 5, 10, 20000);
    EXPECT_TRUE(p.found);
    return conn_->statements_sent() - before;
  };
  sent(1h);  // prepares the statements and sets the session's statement timeout once
  auto without_deadline = sent(1h);
  EXPECT_EQ(sent(1500ms), without_deadline);
  EXPECT_EQ(sent(300ms), without_deadline);
}

TEST_F(GraphTest, AStatementStillRunningAtTheCallersDeadlineIsCancelled) {
  // Another session holds a lock the neighbour statement needs, so the statement is certainly
  // running (waiting) when the 200 ms deadline passes; the statement timeout stays at 2 s.
  Anime(1);
  Anime(2);
  Relation(1, 2, "SEQUEL");
  ASSERT_EQ(Q().Neighbors(U(1), EdgeFilter::All(), 50, 10).edges.size(), 1u);  // prepared now
  auto locker = tdb_.Connect();
  locker.Exec("BEGIN; LOCK TABLE anime_relation IN ACCESS EXCLUSIVE MODE");
  auto start = std::chrono::steady_clock::now();
  try {
    Q(200ms).Neighbors(U(1), EdgeFilter::All(), 50, 10);
    FAIL() << "expected the deadline to stop the statement";
  } catch (const db::DbError& e) {
    EXPECT_EQ(e.kind(), db::ErrorKind::kTimeout);
    EXPECT_EQ(e.sqlstate(), "57014");
    EXPECT_NE(std::string(e.what()).find("cancelled at the caller's deadline"), std::string::npos)
        << e.what();
  }
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, 200ms);
  EXPECT_LT(took, 1500ms) << "the statement timeout (2 s) must not be what stopped it";
  locker.Exec("ROLLBACK");
  EXPECT_TRUE(conn_->IdleOutsideTransaction());
  EXPECT_EQ(Q().Neighbors(U(1), EdgeFilter::All(), 50, 10).edges.size(), 1u);
}

// Random graphs: KHop depths and Path lengths must match a reference BFS over the same edges.
TEST_F(GraphTest, RandomGraphsAgreeWithAReferenceBfs) {
  std::mt19937 rng(12345);  // fixed seed: a failure reproduces
  constexpr int kNodes = 120;
  for (int i = 1; i <= kNodes; ++i) Anime(i);
  std::map<int, std::set<int>> adj;
  std::set<std::pair<int, int>> seen;
  for (int e = 0; e < 150; ++e) {
    int a = 1 + rng() % kNodes, b = 1 + rng() % kNodes;
    if (a == b || seen.contains({a, b})) continue;
    seen.insert({a, b});
    Relation(a, b, "OTHER");
    adj[a].insert(b);
    adj[b].insert(a);
  }
  auto bfs = [&](int start) {
    std::map<int, int> dist{{start, 0}};
    std::queue<int> q;
    q.push(start);
    while (!q.empty()) {
      int n = q.front();
      q.pop();
      for (int m : adj[n]) {
        if (!dist.contains(m)) {
          dist[m] = dist[n] + 1;
          q.push(m);
        }
      }
    }
    return dist;
  };
  for (int start = 1; start <= 20; ++start) {
    auto ref = bfs(start);
    auto k = Q().KHop(U(start), EdgeFilter::All(), L(3, 50, 50));
    std::map<std::string, int> got;
    for (auto& n : k.nodes) got[n.node_id] = n.depth;
    int expected_count = 0;
    for (auto& [node, d] : ref) {
      if (d >= 1 && d <= 3) ++expected_count;
    }
    if (!k.truncated) {
      EXPECT_EQ(static_cast<int>(got.size()), expected_count) << "start " << start;
    }
    EXPECT_LE(got.size(), 50u);
    for (auto& [id, d] : got) {
      int node = std::stoi(id.substr(24), nullptr, 16);
      ASSERT_TRUE(ref.contains(node));
      EXPECT_EQ(d, ref[node]) << "start " << start << " node " << node;
    }
    for (int target = 1; target <= kNodes; target += 7) {
      auto p = Q().Path(U(start), U(target), EdgeFilter::All(), 5, 10, 20000);
      bool reachable = ref.contains(target) && ref[target] <= 5;
      EXPECT_EQ(p.found, reachable) << start << "->" << target;
      if (p.found) {
        EXPECT_EQ(static_cast<int>(p.steps.size()) - 1, ref[target]) << start << "->" << target;
        for (size_t i = 1; i < p.steps.size(); ++i) {
          int x = std::stoi(p.steps[i - 1].node_id.substr(24), nullptr, 16);
          int y = std::stoi(p.steps[i].node_id.substr(24), nullptr, 16);
          EXPECT_TRUE(adj[x].contains(y)) << "not an edge " << x << "-" << y;
        }
      }
    }
  }
}

}  // namespace
}  // namespace psvc::graph

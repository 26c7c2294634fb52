// The memory graph follows committed changes: a real change feed and the serving engine on a
// generated catalogue; writes through the write path (a new anime with relations and a studio
// link, a second one related to it) and a merge-like finalization reach the memory graph by a
// reload, after which its answers about the changed anime equal the SQL engine's. A view
// count alone causes no reload.
#include <gtest/gtest.h>

#include <sstream>

#include "changes/change_feed.h"
#include "dataset/copy_loader.h"
#include "db/pool.h"
#include "graph/engine.h"
#include "graph/graph_queries.h"
#include "graph/serving_engine.h"
#include "testing/test_database.h"
#include "testing/wait_until.h"
#include "write/event_applier.h"

namespace psvc::graph {
namespace {

using namespace std::chrono_literals;

constexpr auto kWait = 120s;  // generous: the machine is shared

std::string Describe(const NeighborsResult& r) {
  std::ostringstream o;
  o << "found=" << r.start_found << " " << r.start.title << "\n";
  for (const auto& e : r.edges) {
    o << e.node_id << " " << EdgeTypeName(e.type) << " " << e.via_id << " " << e.node.title << " "
      << e.via.name << "\n";
  }
  return o.str();
}

std::string Describe(const KHopResult& r) {
  std::ostringstream o;
  o << "found=" << r.start_found << " truncated=" << r.truncated << "\n";
  for (const auto& n : r.nodes) {
    o << n.depth << " " << n.node_id << " " << EdgeTypeName(n.type) << " " << n.parent_id << " "
      << n.via_id << " " << n.node.title << "\n";
  }
  return o.str();
}

std::string Describe(const PathResult& r) {
  std::ostringstream o;
  o << "found=" << r.found << " " << r.from_found << r.to_found << "\n";
  for (const auto& s : r.steps) o << s.node_id << " " << s.explanation << "\n";
  return o.str();
}

/// Everything both engines answer about `ids`: neighbours, 2-hop expansions and paths between
/// consecutive ids. Empty when they agree, else the first difference.
std::string Difference(GraphEngine& sql, GraphEngine& served, const std::vector<std::string>& ids) {
  CallBudget budget{std::chrono::steady_clock::now() + 30s};
  const auto all = EdgeFilter::All();
  AppliedLimits limits;
  limits.max_hops = 2;
  limits.max_fanout_per_hop = 50;
  limits.max_results = 200;
  limits.hub_window = 20;
  for (size_t i = 0; i < ids.size(); ++i) {
    const auto& id = ids[i];
    auto want = Describe(sql.Neighbors(budget, id, all, 200, 20));
    auto got = Describe(served.Neighbors(budget, id, all, 200, 20));
    if (want != got) return "neighbors " + id + "\n--- sql\n" + want + "--- served\n" + got;
    want = Describe(sql.KHop(budget, id, all, limits));
    got = Describe(served.KHop(budget, id, all, limits));
    if (want != got) return "k_hop " + id + "\n--- sql\n" + want + "--- served\n" + got;
    if (i + 1 < ids.size()) {
      want = Describe(sql.Path(budget, id, ids[i + 1], all, 4, 20, 10000));
      got = Describe(served.Path(budget, id, ids[i + 1], all, 4, 20, 10000));
      if (want != got) return "path " + id + "\n--- sql\n" + want + "--- served\n" + got;
    }
  }
  return {};
}

/// Waits until the served answers about `ids` equal SQL's; the last difference otherwise.
std::string WaitForSameAnswers(GraphEngine& sql, GraphEngine& served,
                               const std::vector<std::string>& ids) {
  std::string diff;
  testing::WaitUntil(
      [&] {
        diff = Difference(sql, served, ids);
        return diff.empty();
      },
      kWait, 20ms);
  return diff;
}

write::Event Enriched(const std::string& id, const std::string& title, int year,
                      std::vector<write::RelationRef> relations,
                      std::vector<write::CompanyCredit> companies) {
  write::AnimeEnriched e;
  e.anime_id = id;
  e.fields.title = title;
  e.fields.type = "TV";
  e.fields.year = year;
  e.relations = std::move(relations);
  e.companies = std::move(companies);
  std::string event_id = id;
  event_id[1] = 'e';  // an event id of its own
  return write::Event{event_id, 1700000000000, "test", e};
}

TEST(MemoryFollowsChanges, WritesReachTheMemoryGraphAndItsAnswersEqualSql) {
  testing::TestDatabase tdb;
  {
    auto conn = tdb.Connect();
    std::ostringstream progress;
    dataset::LoadSyntheticCatalogue(conn.native(), {0.01, 11}, {.progress_every = 0}, progress);
    conn.Exec("ANALYZE");
  }
  auto conn = tdb.Connect();
  db::Pool read_pool({.url = tdb.url(),
                      .size = 2,
                      .read_only = true,
                      .session_setup = GraphQueries::SessionSetup()});
  db::Pool write_pool({.url = tdb.url(), .size = 2});
  write::EventApplier applier(write_pool);
  SqlGraphEngine sql(read_pool, {});

  changes::ChangeFeed feed({.database_url = tdb.url(),
                            .fast_poll = 10ms,
                            .idle_poll = 200ms,
                            .name = "memory_follows_changes"});
  ServingGraphEngine served(sql);
  served.FollowChanges(feed, tdb.url(), 100ms);
  feed.Start();
  served.LoadMemoryInBackground(tdb.url());
  ASSERT_TRUE(testing::WaitUntil([&] { return served.Status().engine == "memory"; }, kWait))
      << served.Status().detail;
  ASSERT_TRUE(testing::WaitUntil([&] { return !served.Freshness().reload_pending; }, kWait, 20ms));
  const auto start = served.Freshness();
  EXPECT_TRUE(start.following);
  EXPECT_GT(start.watermark, 0u);

  // Anchors in the catalogue: two anime of one studio, and that studio.
  auto anchor = conn.Query(
      "SELECT ac.anime_id::text, c.id::text, c.name, "
      "       (SELECT id::text FROM anime WHERE id <> ac.anime_id ORDER BY id LIMIT 1) "
      "  FROM anime_company ac JOIN company c ON c.id = ac.company_id "
      " WHERE ac.role = 'studio' ORDER BY ac.anime_id LIMIT 1");
  ASSERT_EQ(anchor.rows(), 1);
  const std::string a(anchor.Get(0, 0)), studio(anchor.Get(0, 1)), studio_name(anchor.Get(0, 2)),
      b(anchor.Get(0, 3));
  const std::string n1 = "0f000000-0000-4000-8000-000000000001";
  const std::string n2 = "0f000000-0000-4000-8000-000000000002";
  const std::vector<std::string> touched = {n1, a, n2, b};
  {
    CallBudget budget{std::chrono::steady_clock::now() + 30s};
    ASSERT_FALSE(served.Neighbors(budget, n1, EdgeFilter::All(), 10, 20).start_found);
  }

  // A new anime: sequel of `a`, made by a's studio.
  auto r = applier.Apply(
      Enriched(n1, "Followed One", 2024, {{a, "PREQUEL"}}, {{studio, studio_name, "studio"}}));
  ASSERT_EQ(r.outcome, write::Outcome::kApplied);
  // Another, related to the first and to `b`.
  r = applier.Apply(Enriched(n2, "Followed Two", 2025, {{n1, "PREQUEL"}, {b, "SIDE_STORY"}}, {}));
  ASSERT_EQ(r.outcome, write::Outcome::kApplied);

  auto diff = WaitForSameAnswers(sql, served, touched);
  EXPECT_EQ(diff, "") << "after the writes";
  {
    CallBudget budget{std::chrono::steady_clock::now() + 30s};
    auto n = served.Neighbors(budget, n1, EdgeFilter::All(), 200, 20);
    EXPECT_TRUE(n.start_found);
    bool studio_edge = false, sequel_of_a = false;
    for (const auto& e : n.edges) {
      studio_edge = studio_edge || (e.type == EdgeType::kSameStudio && e.via_id == studio);
      sequel_of_a = sequel_of_a || (e.node_id == a && e.type == EdgeType::kPrequel);
    }
    EXPECT_TRUE(studio_edge) << "the studio link is in the memory graph";
    EXPECT_TRUE(sequel_of_a) << "the relation is in the memory graph";
  }
  const auto after_writes = served.Freshness();
  EXPECT_GT(after_writes.reloads, start.reloads);
  EXPECT_GT(after_writes.watermark, start.watermark);

  // A merge as the saga finalizes it: the duplicate's relations move to the survivor, the
  // duplicate goes, and the survivor's change is announced.
  conn.Exec("BEGIN");
  conn.Query(
      "INSERT INTO anime_relation (anime_id, related_anime_id, relation_type) "
      "SELECT $2::uuid, related_anime_id, relation_type FROM anime_relation "
      " WHERE anime_id = $1::uuid AND related_anime_id <> $2::uuid ON CONFLICT DO NOTHING",
      {n2, b});
  conn.Query("DELETE FROM anime WHERE id = $1::uuid", {n2});
  conn.Query(
      "INSERT INTO qdrant_outbox (aggregate_id, event_type, payload) VALUES ($1::uuid, "
      "'AnimeMergeCompleted', convert_to('{\"schema\":1,\"event_type\":\"AnimeMergeCompleted\"}', "
      "'UTF8'))",
      {b});
  conn.Exec("COMMIT");
  diff = WaitForSameAnswers(sql, served, touched);
  EXPECT_EQ(diff, "") << "after the merge";
  {
    CallBudget budget{std::chrono::steady_clock::now() + 30s};
    EXPECT_FALSE(served.Neighbors(budget, n2, EdgeFilter::All(), 10, 20).start_found);
    bool b_next_to_n1 = false;
    for (const auto& e : served.Neighbors(budget, b, EdgeFilter::All(), 200, 20).edges) {
      b_next_to_n1 = b_next_to_n1 || e.node_id == n1;
    }
    EXPECT_TRUE(b_next_to_n1) << "the survivor took the duplicate's relation";
  }

  // A view count alone does not touch the graph: delivered, no reload.
  ASSERT_TRUE(testing::WaitUntil([&] { return !served.Freshness().reload_pending; }, kWait, 20ms));
  const auto before_view = served.Freshness();
  write::AnimeViewed view{a};
  applier.Apply(write::Event{"0e000000-0000-4000-8000-0000000000ff", 1700000000000, "test", view});
  uint64_t view_xid = 0;
  ASSERT_TRUE(changes::ParseXid(
      conn.Exec("SELECT max(xid)::text FROM qdrant_outbox WHERE event_type = 'AnimeViewed'")
          .Get(0, 0),
      &view_xid));
  ASSERT_TRUE(feed.WaitPast(view_xid, std::chrono::steady_clock::now() + kWait));
  const auto after_view = served.Freshness();
  EXPECT_EQ(after_view.reloads, before_view.reloads);
  EXPECT_FALSE(after_view.reload_pending);
  EXPECT_EQ(after_view.reload_failures, 0u);
  feed.Stop();
}

}  // namespace
}  // namespace psvc::graph

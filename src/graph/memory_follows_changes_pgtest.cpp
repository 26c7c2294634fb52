// The memory graph follows committed changes: a real change feed and the serving engine on a
// generated catalogue. Writes through the write path (a new anime with relations and a studio
// link, a second one related to it) and a merge-like finalization reach the memory graph by a
// patch, after which its answers about the changed anime equal the SQL engine's; a view count
// alone changes nothing. Then bursts of every kind of graph write (enrichments with
// characters, studios and works, new anime, year changes, relations seen from a third anime,
// the merge and removal sagas' SQL, concurrent writers committing out of start order): the
// patched graph must equal a freshly loaded one and answer like SQL for every anime.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

#include "changes/change_feed.h"
#include "dataset/copy_loader.h"
#include "dataset/demo_data.h"
#include "db/array_literal.h"
#include "db/pool.h"
#include "graph/engine.h"
#include "graph/graph_queries.h"
#include "graph/memory_engine.h"
#include "graph/serving_engine.h"
#include "saga/anime_saga_statements.h"
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

/// Waits until the memory graph has loaded and taken in the feed's first batch (which may
/// cause one more reload: docs/architecture.md, "Start position"), with nothing pending.
bool WaitSettled(ServingGraphEngine& served, const changes::ChangeFeed& feed) {
  return testing::WaitUntil(
      [&] {
        const auto f = served.Freshness();
        return served.Status().engine == "memory" && feed.watermark() > 0 &&
               f.watermark >= feed.watermark() && !f.reload_pending;
      },
      kWait, 20ms);
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
  ASSERT_TRUE(WaitSettled(served, feed));
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
  EXPECT_GT(after_writes.patches, start.patches);
  EXPECT_EQ(after_writes.reloads, start.reloads) << "patched, not reloaded";
  EXPECT_GT(after_writes.watermark, start.watermark);

  // A merge as the saga finalizes it: the duplicate's relations move to the survivor, the
  // duplicate goes, and the survivor's change is announced, naming both.
  conn.Exec("BEGIN");
  conn.Query(
      "INSERT INTO anime_relation (anime_id, related_anime_id, relation_type) "
      "SELECT $2::uuid, related_anime_id, relation_type FROM anime_relation "
      " WHERE anime_id = $1::uuid AND related_anime_id <> $2::uuid ON CONFLICT DO NOTHING",
      {n2, b});
  conn.Query("DELETE FROM anime WHERE id = $1::uuid", {n2});
  conn.Query(
      "INSERT INTO qdrant_outbox (aggregate_id, event_type, payload) VALUES ($1::uuid, "
      "'AnimeMergeCompleted', convert_to(json_build_object('schema', 1, 'event_type', "
      "'AnimeMergeCompleted', 'duplicate_id', $2::text, 'survivor_id', $1::text)::text, "
      "'UTF8'))",
      {b, n2});
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

  // A view count alone does not touch the graph: delivered, nothing re-read.
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
  EXPECT_EQ(after_view.patches, before_view.patches);
  EXPECT_EQ(after_view.patch_failures, 0u);
  EXPECT_FALSE(after_view.reload_pending);
  EXPECT_EQ(after_view.reload_failures, 0u);
  feed.Stop();
}

/// A generated catalogue followed by a served memory graph, and what the tests need to write
/// to it and to compare.
class PatchedGraph : public ::testing::Test {
 protected:
  void SetUp() override {
    {
      auto conn = tdb_.Connect();
      std::ostringstream progress;
      dataset::LoadSyntheticCatalogue(conn.native(), {0.01, 23}, {.progress_every = 0}, progress);
      conn.Exec("ANALYZE");
    }
    served_.FollowChanges(feed_, tdb_.url(), 100ms);
    feed_.Start();
    served_.LoadMemoryInBackground(tdb_.url());
    ASSERT_TRUE(testing::WaitUntil([&] { return served_.Status().engine == "memory"; }, kWait))
        << served_.Status().detail;
    ASSERT_TRUE(WaitSettled(served_, feed_));
    start_ = served_.Freshness();
  }
  void TearDown() override { feed_.Stop(); }

  /// Waits until every committed outbox row is in the served graph.
  void WaitForEverything() {
    uint64_t xid = 0;
    ASSERT_TRUE(changes::ParseXid(
        conn_.Exec("SELECT coalesce(max(xid), '0')::text FROM qdrant_outbox").Get(0, 0), &xid));
    ASSERT_TRUE(served_.WaitForWatermark(xid, std::chrono::steady_clock::now() + kWait))
        << "watermark " << served_.Freshness().watermark << " never passed " << xid;
  }

  /// The served (patched) graph against a fresh snapshot, structure first, then the answers of
  /// every primitive for every anime the catalogue ever held against the SQL engine.
  void ExpectSameAsFreshAndSql(const std::string& when) {
    WaitForEverything();
    auto fresh_conn = tdb_.Connect();
    auto fresh = MemoryGraphEngine::Load(fresh_conn, sql_);
    auto memory = served_.Memory();
    ASSERT_TRUE(memory);
    const std::string want = fresh->CanonicalText(), got = memory->CanonicalText();
    EXPECT_EQ(got.find("MISPLACED"), std::string::npos) << when;
    if (want != got) {
      size_t at = 0;
      while (at < want.size() && at < got.size() && want[at] == got[at]) ++at;
      const size_t from =
          want.rfind("\nanime ", at) == std::string::npos ? 0 : want.rfind('\n', at);
      ADD_FAILURE() << when << ": the patched graph differs from a fresh snapshot at\n--- fresh\n"
                    << want.substr(from, 400) << "\n--- patched\n"
                    << got.substr(from, 400);
    }
    EXPECT_EQ(memory->nodes(), fresh->nodes()) << when;
    std::vector<std::string> ids;
    for (const auto& id : ever_) ids.push_back(id);
    auto res = conn_.Exec("SELECT id::text FROM anime ORDER BY id");
    for (int r = 0; r < res.rows(); ++r) ids.emplace_back(res.Get(r, 0));
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    EXPECT_EQ(Difference(sql_, served_, ids), "") << when;
    const auto now = served_.Freshness();
    EXPECT_EQ(now.reloads, start_.reloads) << when << ": every change was patched in";
    EXPECT_EQ(now.patch_failures, 0u) << when;
    EXPECT_GT(now.patches, start_.patches) << when;
  }

  std::vector<std::string> Column(const std::string& query) {
    auto res = conn_.Exec(query);
    std::vector<std::string> out;
    for (int r = 0; r < res.rows(); ++r) out.emplace_back(res.Get(r, 0));
    return out;
  }

  void Apply(const write::Event& e) {
    auto r = applier_.Apply(e);
    ASSERT_EQ(r.outcome, write::Outcome::kApplied) << r.message;
  }

  /// An enrichment with characters, studios and works: `tag` makes fresh ids of its own.
  write::Event Enrichment(const std::string& id, int year, std::vector<write::RelationRef> rel,
                          const std::vector<std::string>& characters,
                          const std::vector<std::string>& studios, const std::string& work) {
    write::AnimeEnriched e;
    e.anime_id = id;
    e.fields.title = "Patched " + id.substr(0, 8);
    e.fields.type = "TV";
    if (year != 0) e.fields.year = year;
    e.relations = std::move(rel);
    for (const auto& c : characters) e.characters.push_back({c, "Character " + c.substr(0, 6)});
    for (const auto& c : studios) e.companies.push_back({c, "Studio " + c.substr(0, 6), "studio"});
    if (!work.empty()) e.original_works.push_back({work, "Work " + work.substr(0, 6)});
    ever_.insert(id);
    return write::Event{NewId(), Stamp(), "test", e};
  }

  /// Later than anything stored, so no enrichment is stale.
  int64_t Stamp() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
               .count() +
           ++events_;
  }

  std::string NewId() {
    char buf[40];
    const unsigned n = static_cast<unsigned>(++ids_);
    std::snprintf(buf, sizeof buf, "0d%06x-0000-4000-8000-%012x", n, n * 7919);
    return buf;
  }

  void UpdateYear(const std::string& id, int year) {
    write::AnimeUpdated u;
    u.anime_id = id;
    u.mask = {"year"};
    if (year != 0) {
      u.fields.year = year;
    } else {
      u.mask.push_back("season");  // unknown: a season needs a year
    }
    u.expected_version = std::stoll(
        std::string(conn_.Query("SELECT version FROM anime WHERE id = $1::uuid", {id}).Get(0, 0)));
    Apply(write::Event{NewId(), Stamp(), "test", u});
  }

  void Outbox(db::Connection& c, const std::string& aggregate, const std::string& type,
              const std::string& duplicate = "", const std::string& survivor = "") {
    c.Query(
        "INSERT INTO qdrant_outbox (aggregate_id, event_type, payload) VALUES ($1::uuid, $2, "
        "convert_to(json_build_object('schema', 1, 'event_type', $2::text, 'duplicate_id', "
        "$3::text, 'survivor_id', $4::text)::text, 'UTF8'))",
        {aggregate, type, duplicate, survivor});
  }

  /// What MergeAnime's finalization commits (src/saga/anime_saga_statements.h).
  void Merge(const std::string& duplicate, const std::string& survivor) {
    conn_.Exec("BEGIN");
    conn_.Execute(saga::sql::kLockAnimeRows,
                  {db::ArrayLiteral(std::vector<std::string>{duplicate, survivor})});
    conn_.Execute(saga::sql::kMergeHubEdges, {duplicate, survivor});
    conn_.Execute(saga::sql::kMergeRelations, {duplicate, survivor});
    conn_.Execute(saga::sql::kMergeEpisodesAndViews, {duplicate, survivor});
    conn_.Execute(saga::sql::kMergeRedirect, {NewId(), duplicate, survivor});
    conn_.Execute(saga::sql::kPurgeAnime, {duplicate});
    Outbox(conn_, survivor, "AnimeMergeCompleted", duplicate, survivor);
    conn_.Exec("COMMIT");
  }

  /// RemoveAnime's hide step, and its compensation.
  void Hide(const std::string& id) {
    conn_.Exec("BEGIN");
    conn_.Execute(saga::sql::kHide, {id});
    Outbox(conn_, id, "AnimeRemoved");
    conn_.Exec("COMMIT");
  }
  void Restore(const std::string& id) {
    conn_.Exec("BEGIN");
    conn_.Query("UPDATE anime SET hidden_at = NULL WHERE id = $1::uuid", {id});
    Outbox(conn_, id, "AnimeRemovalReverted");
    conn_.Exec("COMMIT");
  }

  testing::TestDatabase tdb_;
  db::Connection conn_ = tdb_.Connect();
  db::Pool read_pool_{{.url = tdb_.url(),
                       .size = 2,
                       .read_only = true,
                       .session_setup = GraphQueries::SessionSetup()}};
  db::Pool write_pool_{{.url = tdb_.url(), .size = 4}};
  write::EventApplier applier_{write_pool_};
  SqlGraphEngine sql_{read_pool_, {}};
  changes::ChangeFeed feed_{
      {.database_url = tdb_.url(), .fast_poll = 10ms, .idle_poll = 200ms, .name = "patched_graph"}};
  ServingGraphEngine served_{sql_};
  MemoryFreshness start_;
  std::set<std::string> ever_;  // anime written, merged away or removed
  int ids_ = 0;
  int events_ = 0;
};

TEST_F(PatchedGraph, BurstsOfEveryKindOfWriteEqualAFreshSnapshotAndSql) {
  // Anchors: anime that share studios and characters (hub windows), with relations.
  const auto anime = Column("SELECT id::text FROM anime ORDER BY id");
  ASSERT_GT(anime.size(), 100u);
  const auto studios = Column(
      "SELECT company_id::text FROM anime_company WHERE role = 'studio' GROUP BY company_id "
      "ORDER BY count(*) DESC, company_id LIMIT 3");
  const auto characters = Column(
      "SELECT character_id::text FROM anime_character GROUP BY character_id "
      "ORDER BY count(*) DESC, character_id LIMIT 3");
  const auto works = Column("SELECT id::text FROM original_work ORDER BY id LIMIT 2");
  const auto related = Column(
      "SELECT anime_id::text FROM anime_relation GROUP BY anime_id ORDER BY count(*) DESC, "
      "anime_id LIMIT 6");
  const auto in_big_studio =
      Column("SELECT anime_id::text FROM anime_company WHERE role = 'studio' AND company_id = '" +
             studios.at(0) + "' ORDER BY anime_year, anime_id");
  ASSERT_EQ(studios.size(), 3u);
  ASSERT_EQ(characters.size(), 3u);
  ASSERT_EQ(related.size(), 6u);
  ASSERT_GE(in_big_studio.size(), 4u);
  ASSERT_FALSE(works.empty());
  for (const auto& id : anime) ever_.insert(id);

  // Readers traverse all along, while patches are applied: each answer must be whole (a start
  // that is found, k_hop nodes reached from the start or an earlier node).
  std::atomic<int> reads{0}, broken{0};
  std::jthread reader([&](std::stop_token stop) {
    const AppliedLimits limits{3, 50, 50, 10, {}};
    for (size_t i = 0; !stop.stop_requested(); ++i) {
      CallBudget budget{std::chrono::steady_clock::now() + 30s};
      const auto& id = anime[(i * 7) % anime.size()];
      auto k = served_.KHop(budget, id, EdgeFilter::All(), limits);
      std::set<std::string> reached{id};
      for (const auto& n : k.nodes) {
        if (!reached.contains(n.parent_id)) ++broken;
        reached.insert(n.node_id);
      }
      served_.Neighbors(budget, id, EdgeFilter::All(), 50, 10);
      ++reads;
    }
  });

  // Burst 1.
  // New anime: related to existing ones (a relation seen from the third anime), in the big
  // studio and a new one, with existing and new characters and a work.
  const std::string n1 = NewId(), n2 = NewId(), n3 = NewId();
  Apply(Enrichment(n1, 2001, {{related[0], "SEQUEL"}, {anime[5], "SIDE_STORY"}},
                   {characters[0], NewId()}, {studios[0], NewId()}, works[0]));
  Apply(Enrichment(n2, 0, {{n1, "PREQUEL"}, {related[1], "ALTERNATIVE"}},
                   {characters[0], characters[1]}, {studios[0]}, ""));
  // A relation to an anime that arrives later (kept pending, then materialised).
  Apply(Enrichment(n3, 1999, {{related[2], "SPIN_OFF"}}, {characters[1]}, {studios[1]}, ""));
  // An existing anime enriched again: its relations, characters and studios replaced.
  Apply(Enrichment(related[3], 2010, {{n3, "OTHER"}, {anime[7], "SUMMARY"}}, {characters[2]},
                   {studios[2]}, works[0]));
  // Years change: the anime moves inside every hub it is in.
  UpdateYear(in_big_studio[0], 2031);
  UpdateYear(in_big_studio[1], 1951);
  UpdateYear(n1, 1980);
  // Concurrent writers whose transactions commit out of start order.
  {
    auto first = tdb_.Connect();
    auto second = tdb_.Connect();
    first.Exec("BEGIN");
    first.Query(
        "INSERT INTO anime_relation (anime_id, related_anime_id, relation_type) "
        "VALUES ($1::uuid, $2::uuid, 'CHARACTER') ON CONFLICT DO NOTHING",
        {anime[10], anime[11]});
    Outbox(first, anime[10], "AnimeRelationsChanged");
    second.Exec("BEGIN");
    second.Query(
        "INSERT INTO anime_relation (anime_id, related_anime_id, relation_type) "
        "VALUES ($1::uuid, $2::uuid, 'FULL_STORY') ON CONFLICT DO NOTHING",
        {anime[12], anime[10]});
    Outbox(second, anime[12], "AnimeRelationsChanged");
    second.Exec("COMMIT");
    first.Exec("COMMIT");
  }
  {
    std::vector<std::thread> writers;
    std::vector<write::Event> events;
    for (int i = 0; i < 8; ++i) {
      events.push_back(Enrichment(anime[20 + i], 1990 + i, {{anime[40 + i], "SEQUEL"}},
                                  {characters[i % 3]}, {studios[i % 3]}, ""));
    }
    for (int w = 0; w < 4; ++w) {
      writers.emplace_back([&, w] {
        for (int i = w; i < 8; i += 4) {
          EXPECT_EQ(applier_.Apply(events[static_cast<size_t>(i)]).outcome,
                    write::Outcome::kApplied);
        }
      });
    }
    for (auto& t : writers) t.join();
  }
  // The sagas: a merge, a removal, and a removal that is reverted later.
  Merge(related[4], related[5]);
  Hide(anime[50]);
  Hide(in_big_studio[2]);
  reader.request_stop();
  reader.join();
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(broken.load(), 0) << "a k_hop answer saw half of a patch";
  ExpectSameAsFreshAndSql("after burst 1");

  // Burst 2: the removal reverted, the pending relation's target arrives, a new anime merged
  // into an old one, a year moved back, and an anime hidden right after it was changed.
  Restore(in_big_studio[2]);
  const std::string n4 = NewId(), n5 = NewId();
  Apply(Enrichment(n4, 2005, {{n3, "SEQUEL"}, {related[5], "SEQUEL"}}, {characters[2]},
                   {studios[0]}, works[0]));
  Apply(Enrichment(n5, 2006, {{n4, "PREQUEL"}}, {characters[0]}, {studios[0]}, ""));
  Merge(n5, anime[60]);
  UpdateYear(in_big_studio[0], 0);
  UpdateYear(in_big_studio[3], 2005);
  Apply(Enrichment(anime[70], 2002, {{n4, "ADAPTATION"}}, {characters[1]}, {studios[1]}, ""));
  Hide(anime[70]);
  ExpectSameAsFreshAndSql("after burst 2");
}

TEST_F(PatchedGraph, BulkLoadsAreReadWholeByAReplicaFollowingTheFeed) {
  // `generate --replace` and `demo-data` write no per-anime changes: each commits one
  // CatalogueLoaded change, after which the memory graph reloads whole.
  {
    auto loader = tdb_.Connect();
    std::ostringstream progress;
    dataset::LoadSyntheticCatalogue(loader.native(), {0.01, 29},
                                    {.replace = true, .progress_every = 0}, progress);
    dataset::LoadDemoData(loader.native());
  }
  WaitForEverything();
  auto fresh_conn = tdb_.Connect();
  auto fresh = MemoryGraphEngine::Load(fresh_conn, sql_);
  auto memory = served_.Memory();
  ASSERT_TRUE(memory);
  EXPECT_EQ(memory->nodes(), fresh->nodes());
  EXPECT_TRUE(memory->CanonicalText() == fresh->CanonicalText())
      << "the served graph differs from a fresh snapshot after the bulk loads";
  EXPECT_GT(served_.Freshness().reloads, start_.reloads);
  // Among them the demo franchises, which only the second load wrote.
  const auto ids = Column("SELECT id::text FROM anime ORDER BY id");
  ASSERT_EQ(Column("SELECT id::text FROM anime WHERE title = 'Cowboy Bebop'").size(), 1u);
  EXPECT_EQ(Difference(sql_, served_, ids), "");
}

TEST_F(PatchedGraph, AFeedWhoseFirstBatchStartsAboveTheSnapshotMakesTheGraphReload) {
  // A replica whose graph was loaded before its feed's first poll (a feed starting at the
  // current position): a write committed between the two is in neither, so the first batch,
  // which begins above the snapshot's watermark, must make the graph reload whole.
  const auto anime = Column("SELECT id::text FROM anime ORDER BY id LIMIT 2");
  ASSERT_EQ(anime.size(), 2u);
  changes::ChangeFeed late_feed(
      {.database_url = tdb_.url(), .fast_poll = 10ms, .idle_poll = 200ms, .name = "late_feed"});
  ServingGraphEngine late(sql_);
  late.FollowChanges(late_feed, tdb_.url(), 100ms);
  late.LoadMemoryInBackground(tdb_.url());
  ASSERT_TRUE(testing::WaitUntil([&] { return late.Status().engine == "memory"; }, kWait));
  const std::string missed = NewId();
  Apply(Enrichment(missed, 2001, {{anime[0], "SEQUEL"}}, {}, {}, ""));
  late_feed.Start();
  ASSERT_TRUE(testing::WaitUntil([&] { return late_feed.watermark() > 0; }, kWait, 5ms));
  const std::string seen = NewId();  // a change after the feed's start: a batch to deliver
  Apply(Enrichment(seen, 2002, {{anime[1], "SEQUEL"}}, {}, {}, ""));

  uint64_t xid = 0;
  ASSERT_TRUE(changes::ParseXid(
      conn_.Exec("SELECT coalesce(max(xid), '0')::text FROM qdrant_outbox").Get(0, 0), &xid));
  ASSERT_TRUE(late.WaitForWatermark(xid, std::chrono::steady_clock::now() + kWait));
  auto fresh_conn = tdb_.Connect();
  auto fresh = MemoryGraphEngine::Load(fresh_conn, sql_);
  EXPECT_TRUE(late.Memory()->CanonicalText() == fresh->CanonicalText())
      << "the write between the snapshot and the feed's start is missing";
  EXPECT_EQ(Difference(sql_, late, {missed, seen, anime[0], anime[1]}), "");
  // Usually by a reload. Not asserted: a feed without a start position begins at the cluster's
  // xmin, so an open transaction of another database can start it low enough to deliver the
  // write, which is then patched in instead.
  late_feed.Stop();
}

// Replicas that did not make the writes, one of them restarted in the middle of a burst: the
// replica started last (its snapshot taken while writes went on) must end equal to a fresh
// snapshot and answer like SQL, as must the one that followed the whole burst.
TEST_F(PatchedGraph, AReplicaRestartedMidBurstEndsEqualToAFreshSnapshot) {
  const auto anime = Column("SELECT id::text FROM anime ORDER BY id");
  const auto studios = Column(
      "SELECT company_id::text FROM anime_company WHERE role = 'studio' GROUP BY company_id "
      "ORDER BY count(*) DESC, company_id LIMIT 2");
  ASSERT_GT(anime.size(), 100u);
  ASSERT_EQ(studios.size(), 2u);
  for (const auto& id : anime) ever_.insert(id);
  std::vector<write::Event> burst;
  for (size_t i = 0; i < 60; ++i) {
    burst.push_back(Enrichment(NewId(), 1980 + static_cast<int>(i % 40), {{anime[i], "SEQUEL"}},
                               {NewId()}, {studios[i % 2]}, ""));
  }
  std::atomic<size_t> written{0};
  std::jthread writer([&] {
    for (const auto& e : burst) {
      EXPECT_EQ(applier_.Apply(e).outcome, write::Outcome::kApplied);
      ++written;
      std::this_thread::sleep_for(20ms);
    }
  });

  struct Replica {
    Replica(const std::string& url, const std::string& name, GraphEngine& sql)
        : feed({.database_url = url, .fast_poll = 10ms, .idle_poll = 200ms, .name = name}),
          served(sql) {
      served.FollowChanges(feed, url, 100ms);
      feed.Start();
      served.LoadMemoryInBackground(url);
    }
    ~Replica() { feed.Stop(); }
    changes::ChangeFeed feed;
    ServingGraphEngine served;
  };
  auto ready = [](Replica& r) {
    return testing::WaitUntil([&] { return r.served.Status().engine == "memory"; }, kWait);
  };
  ASSERT_TRUE(testing::WaitUntil([&] { return written >= 15; }, kWait, 5ms));
  auto replica = std::make_unique<Replica>(tdb_.url(), "replica_first_start", sql_);
  ASSERT_TRUE(ready(*replica));
  ASSERT_TRUE(testing::WaitUntil([&] { return written >= 30; }, kWait, 5ms));
  replica.reset();  // stopped in the middle of the burst, and started again while it goes on
  const size_t written_at_restart = written;
  replica = std::make_unique<Replica>(tdb_.url(), "replica_restarted", sql_);
  ASSERT_TRUE(ready(*replica));
  writer.join();
  std::printf("restarted after %zu of %zu writes\n", written_at_restart, burst.size());

  uint64_t xid = 0;
  ASSERT_TRUE(changes::ParseXid(
      conn_.Exec("SELECT coalesce(max(xid), '0')::text FROM qdrant_outbox").Get(0, 0), &xid));
  ASSERT_TRUE(replica->served.WaitForWatermark(xid, std::chrono::steady_clock::now() + kWait))
      << "watermark " << replica->served.Freshness().watermark << " never passed " << xid;
  auto fresh_conn = tdb_.Connect();
  auto fresh = MemoryGraphEngine::Load(fresh_conn, sql_);
  auto memory = replica->served.Memory();
  ASSERT_TRUE(memory);
  EXPECT_EQ(memory->CanonicalText(), fresh->CanonicalText())
      << "the restarted replica differs from a fresh snapshot";
  std::vector<std::string> ids(ever_.begin(), ever_.end());
  EXPECT_EQ(Difference(sql_, replica->served, ids), "") << "the restarted replica";
  EXPECT_EQ(replica->served.Freshness().patch_failures, 0u);
  ExpectSameAsFreshAndSql("the replica that followed the whole burst");
}

}  // namespace
}  // namespace psvc::graph

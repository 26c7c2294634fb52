// Query.animeList against a real database: every ordering and the common filters paged
// through with cursors and compared with the same list ordered by PostgreSQL in plain SQL;
// pageInfo at both ends; bad cursors; batching of nested fields; and the plan of every list
// statement on a generated catalogue (never a sequential scan of anime).
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "graphql_api/graphql_api.h"
#include "graphql_api/graphql_loaders.h"
#include "dataset/copy_loader.h"
#include "db/connection.h"
#include "db/pool.h"
#include "graphql/json.h"
#include "json/json_string.h"
#include "testing/test_database.h"
#include "write/event_applier.h"

namespace psvc::api {
namespace {

using graphql::Value;

// Rows the generator does not make: ties, missing scores and years, and anime that no read
// surface shows (hidden, merged) which the list must skip.
constexpr const char* kEdgeCases = R"sql(
INSERT INTO anime (id, title, type, status, season, year, score, view_count) VALUES
 ('a1000000-0000-4000-8000-000000000001', 'Tie Alpha', 'TV', 'FINISHED', 'SPRING', 2010, 7.5, 777),
 ('a1000000-0000-4000-8000-000000000002', 'Tie Alpha', 'TV', 'FINISHED', 'SPRING', 2010, 7.5, 777),
 ('a1000000-0000-4000-8000-000000000003', 'Tie Alpha', 'TV', 'FINISHED', 'SPRING', 2010, 7.5, 777),
 ('a1000000-0000-4000-8000-000000000004', 'No Score Or Year', 'OVA', 'UPCOMING', NULL, NULL, NULL, 0),
 ('a1000000-0000-4000-8000-000000000005', 'no score lower case', 'TV', 'AIRING', 'FALL', 2020, NULL, 5),
 ('a1000000-0000-4000-8000-000000000006', 'Hidden One', 'TV', 'FINISHED', 'SPRING', 2010, 9.9, 99999),
 ('a1000000-0000-4000-8000-000000000007', 'Merged One', 'TV', 'FINISHED', 'SPRING', 2010, 9.8, 99998);
UPDATE anime SET hidden_at = now() WHERE id = 'a1000000-0000-4000-8000-000000000006';
UPDATE anime SET merged_into = 'a1000000-0000-4000-8000-000000000001'
 WHERE id = 'a1000000-0000-4000-8000-000000000007';
ANALYZE anime;
)sql";

std::string Errors(const Value& json) {
  const Value* e = json.Find("errors");
  if (!e) return "";
  std::string out;
  graphql::AppendJson(out, *e);
  return out;
}

// One ordering as the test states it, independently of the statements: the SQL ORDER BY that
// must give the same list (NULL scores and years count as below every value).
struct Ordering {
  const char* name;
  const char* order_by;
};
constexpr Ordering kOrderings[] = {
    {"POPULARITY_DESC", "view_count DESC, id DESC"},
    {"POPULARITY_ASC", "view_count, id"},
    {"SCORE_DESC", "score DESC NULLS LAST, id DESC"},
    {"SCORE_ASC", "score NULLS FIRST, id"},
    {"YEAR_DESC", "year DESC NULLS LAST, id DESC"},
    {"YEAR_ASC", "year NULLS FIRST, id"},
    {"TITLE_ASC", "title, id"},
    {"TITLE_DESC", "title DESC, id DESC"},
};

// A filter as GraphQL input and as the SQL condition it must mean.
struct Filter {
  std::string graphql;  // AnimeFilter literal, or empty
  std::string sql;      // condition on anime
};

class GraphqlListTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tdb_ = new testing::TestDatabase();
    auto conn = tdb_->Connect();
    std::ostringstream progress;
    dataset::LoadSyntheticCatalogue(conn.native(), {0.01, 7}, {.progress_every = 0}, progress);
    conn.Exec(kEdgeCases);
    studio_ = std::string(conn.Query(R"(
        SELECT company_id FROM anime_company WHERE role = 'studio'
         GROUP BY company_id ORDER BY count(*) DESC, company_id LIMIT 1)")
                              .Get(0, 0));
  }
  static void TearDownTestSuite() {
    delete tdb_;
    tdb_ = nullptr;
  }

  Value Run(const std::string& query, uint64_t* statements = nullptr) {
    GraphqlRequest request;
    request.query = query;
    GraphqlResponse r = api_.Execute(request);
    if (statements) *statements = r.statements;
    std::string why;
    auto json = graphql::ParseJson(r.json, &why);
    EXPECT_TRUE(json) << why << r.json;
    return json ? std::move(*json) : Value();
  }

  std::vector<std::string> Expected(const Ordering& o, const Filter& f) {
    std::string sql = "SELECT id FROM anime WHERE merged_into IS NULL AND hidden_at IS NULL";
    if (!f.sql.empty()) sql += " AND " + f.sql;
    sql += " ORDER BY " + std::string(o.order_by);
    auto r = tdb_->Connect().Query(sql);
    std::vector<std::string> ids;
    for (int i = 0; i < r.rows(); ++i) ids.emplace_back(r.Get(i, 0));
    return ids;
  }

  // Pages through animeList with `first` per page; checks each page's shape and pageInfo and
  // returns the ids in order.
  std::vector<std::string> PageThrough(const Ordering& o, const Filter& f, int first) {
    std::vector<std::string> ids;
    std::string after;
    for (int page = 0; page < 1000; ++page) {
      std::string args = "orderBy: " + std::string(o.name) + ", first: " + std::to_string(first);
      if (!f.graphql.empty()) args += ", filter: " + f.graphql;
      if (!after.empty()) {
        args += ", after: ";
        json::AppendQuoted(args, after);
      }
      Value r = Run("{ animeList(" + args +
                    ") { nodes { id } edges { cursor node { id } } "
                    "pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }");
      EXPECT_EQ(Errors(r), "");
      const Value* list = r.Find("data") ? r.Find("data")->Find("animeList") : nullptr;
      if (!list || list->IsNull()) return ids;
      const auto& nodes = list->Find("nodes")->AsList();
      const auto& edges = list->Find("edges")->AsList();
      const Value& info = *list->Find("pageInfo");
      EXPECT_EQ(nodes.size(), edges.size());
      EXPECT_LE(nodes.size(), static_cast<size_t>(first));
      for (size_t i = 0; i < nodes.size() && i < edges.size(); ++i) {
        EXPECT_EQ(nodes[i].Find("id")->AsString(), edges[i].Find("node")->Find("id")->AsString());
        ids.emplace_back(nodes[i].Find("id")->AsString());
      }
      EXPECT_EQ(info.Find("hasPreviousPage")->AsBool(), page > 0 && !nodes.empty())
          << o.name << " page " << page;
      if (edges.empty()) {
        EXPECT_TRUE(info.Find("startCursor")->IsNull());
        EXPECT_TRUE(info.Find("endCursor")->IsNull());
        EXPECT_FALSE(info.Find("hasNextPage")->AsBool());
        return ids;
      }
      EXPECT_EQ(info.Find("startCursor")->AsString(), edges.front().Find("cursor")->AsString());
      EXPECT_EQ(info.Find("endCursor")->AsString(), edges.back().Find("cursor")->AsString());
      if (!info.Find("hasNextPage")->AsBool()) return ids;
      EXPECT_EQ(nodes.size(), static_cast<size_t>(first)) << "a page before the last is full";
      after = std::string(info.Find("endCursor")->AsString());
    }
    ADD_FAILURE() << "more than 1000 pages";
    return ids;
  }

  static testing::TestDatabase* tdb_;
  static std::string studio_;
  db::Pool read_pool_{db::PoolOptions{
      .url = tdb_->url(), .size = 2, .read_only = true, .session_setup = GraphqlSessionSetup()}};
  db::Pool write_pool_{db::PoolOptions{.url = tdb_->url(), .size = 1}};
  write::EventApplier applier_{write_pool_};
  GraphqlApi api_{GraphqlApiOptions{.read_pool = read_pool_, .applier = applier_}};
};

testing::TestDatabase* GraphqlListTest::tdb_ = nullptr;
std::string GraphqlListTest::studio_;

TEST_F(GraphqlListTest, EveryOrderingPagesThroughTheWholeListInTheSqlOrder) {
  for (const Ordering& o : kOrderings) {
    std::vector<std::string> expected = Expected(o, {});
    ASSERT_GT(expected.size(), 300u);
    EXPECT_EQ(PageThrough(o, {}, 37), expected) << o.name;
  }
}

TEST_F(GraphqlListTest, FiltersAgreeWithSqlInEveryOrdering) {
  const std::vector<Filter> filters = {
      {"{yearMin: 2005, yearMax: 2012}", "year BETWEEN 2005 AND 2012"},
      {"{season: SPRING, types: [TV, OVA]}", "season = 'SPRING' AND type IN ('TV', 'OVA')"},
      {"{statuses: [FINISHED]}", "status = 'FINISHED'"},
      {"{studio: \"" + studio_ + "\"}",
       "id IN (SELECT anime_id FROM anime_company WHERE role = 'studio' AND company_id = '" +
           studio_ + "')"},
      {"{scoreMin: 7.5, scoreMax: 8.5}", "score >= 7.5 AND score <= 8.5"},
      {"{titlePrefix: \"NO S\"}", "lower(title) LIKE 'no s%'"},
      {"{yearMin: 2000, types: [TV], scoreMin: 6}", "year >= 2000 AND type = 'TV' AND score >= 6"},
  };
  for (const Filter& f : filters) {
    for (const Ordering& o : kOrderings) {
      std::vector<std::string> expected = Expected(o, f);
      EXPECT_EQ(PageThrough(o, f, 9), expected) << o.name << " " << f.graphql;
    }
  }
  // The filters are not vacuous: each keeps some anime and drops others.
  for (const Filter& f : filters) {
    size_t n = Expected(kOrderings[0], f).size();
    EXPECT_GT(n, 0u) << f.graphql;
    EXPECT_LT(n, Expected(kOrderings[0], {}).size()) << f.graphql;
  }
}

TEST_F(GraphqlListTest, TiesAreBrokenByIdAndHiddenOrMergedAnimeNeverAppear) {
  Value r = Run(R"({ animeList(orderBy: TITLE_ASC, first: 100, filter: {titlePrefix: "tie alpha"})
                    { nodes { id } } })");
  const auto& nodes = r.Find("data")->Find("animeList")->Find("nodes")->AsList();
  ASSERT_EQ(nodes.size(), 3u) << Errors(r);
  EXPECT_EQ(nodes[0].Find("id")->AsString(), "a1000000-0000-4000-8000-000000000001");
  EXPECT_EQ(nodes[2].Find("id")->AsString(), "a1000000-0000-4000-8000-000000000003");
  // A page boundary inside the tie loses and repeats nothing.
  for (const Ordering& o : kOrderings) {
    auto ids = PageThrough(o, {"{titlePrefix: \"tie alpha\"}", ""}, 1);
    EXPECT_EQ(ids.size(), 3u) << o.name;
  }
  Value top = Run("{ animeList(orderBy: POPULARITY_DESC, first: 100) { nodes { title } } }");
  for (const Value& n : top.Find("data")->Find("animeList")->Find("nodes")->AsList()) {
    EXPECT_NE(n.Find("title")->AsString(), "Hidden One");
    EXPECT_NE(n.Find("title")->AsString(), "Merged One");
  }
}

TEST_F(GraphqlListTest, ADeepCursorAnswersTheRestInOneStatement) {
  const Ordering& o = kOrderings[2];  // SCORE_DESC
  std::vector<std::string> expected = Expected(o, {});
  // Walk to the third-last row one page of 100 at a time, keeping the cursor of every row.
  std::vector<std::string> cursors;
  std::string after;
  while (cursors.size() < expected.size()) {
    std::string args = "orderBy: SCORE_DESC, first: 100";
    if (!after.empty()) args += ", after: \"" + after + "\"";
    Value r = Run("{ animeList(" + args + ") { edges { cursor } pageInfo { endCursor } } }");
    const auto& edges = r.Find("data")->Find("animeList")->Find("edges")->AsList();
    ASSERT_FALSE(edges.empty());
    for (const Value& e : edges) cursors.emplace_back(e.Find("cursor")->AsString());
    after = std::string(
        r.Find("data")->Find("animeList")->Find("pageInfo")->Find("endCursor")->AsString());
  }
  ASSERT_EQ(cursors.size(), expected.size());
  uint64_t statements = 0;
  Value r =
      Run("{ animeList(orderBy: SCORE_DESC, first: 20, after: \"" + cursors[expected.size() - 3] +
              "\") { nodes { id } pageInfo { hasNextPage hasPreviousPage } } }",
          &statements);
  const Value& list = *r.Find("data")->Find("animeList");
  const auto& nodes = list.Find("nodes")->AsList();
  ASSERT_EQ(nodes.size(), 2u) << Errors(r);
  EXPECT_EQ(nodes[0].Find("id")->AsString(), expected[expected.size() - 2]);
  EXPECT_EQ(nodes[1].Find("id")->AsString(), expected.back());
  EXPECT_FALSE(list.Find("pageInfo")->Find("hasNextPage")->AsBool());
  EXPECT_TRUE(list.Find("pageInfo")->Find("hasPreviousPage")->AsBool());
  EXPECT_EQ(statements, 1u);
  // After the last row: an empty page that still knows rows came before.
  Value end = Run("{ animeList(orderBy: SCORE_DESC, after: \"" + cursors.back() +
                  "\") { nodes { id } pageInfo { hasNextPage hasPreviousPage endCursor } } }");
  const Value& end_list = *end.Find("data")->Find("animeList");
  EXPECT_TRUE(end_list.Find("nodes")->AsList().empty());
  EXPECT_TRUE(end_list.Find("pageInfo")->Find("hasPreviousPage")->AsBool());
  EXPECT_FALSE(end_list.Find("pageInfo")->Find("hasNextPage")->AsBool());
  // With a filter that excludes everything up to the cursor (the best score), nothing comes
  // before, though rows follow.
  std::string first_cursor = cursors[0];
  Value none_before =
      Run("{ animeList(orderBy: SCORE_DESC, first: 1, after: \"" + first_cursor +
          "\", filter: {scoreMax: 6}) { nodes { id } pageInfo { hasPreviousPage } } }");
  EXPECT_EQ(none_before.Find("data")->Find("animeList")->Find("nodes")->AsList().size(), 1u);
  EXPECT_FALSE(none_before.Find("data")
                   ->Find("animeList")
                   ->Find("pageInfo")
                   ->Find("hasPreviousPage")
                   ->AsBool())
      << Errors(none_before);
}

TEST_F(GraphqlListTest, BadCursorsAndPageSizesAreFieldErrors) {
  auto error = [&](const std::string& args) {
    Value r = Run("{ animeList(" + args + ") { nodes { id } } }");
    const Value* errors = r.Find("errors");
    if (!errors || errors->AsList().empty()) return std::string("<no error>");
    return std::string(errors->AsList()[0].Find("message")->AsString());
  };
  Value first = Run("{ animeList(orderBy: SCORE_DESC, first: 1) { pageInfo { endCursor } } }");
  std::string score_cursor(
      first.Find("data")->Find("animeList")->Find("pageInfo")->Find("endCursor")->AsString());
  const std::string not_ours = "after: not a cursor returned by animeList";
  EXPECT_EQ(error("after: \"!!\""), not_ours);
  EXPECT_EQ(error("after: \"\""), not_ours);
  EXPECT_EQ(error("after: \"" + EncodeCursor(PageCursor{2010, studio_}) + "\""), not_ours);
  EXPECT_EQ(error("orderBy: SCORE_DESC, after: \"" +
                  EncodeListCursor({"SCORE_DESC", "high", studio_}) + "\""),
            not_ours);
  EXPECT_EQ(error("orderBy: SCORE_DESC, after: \"" +
                  EncodeListCursor({"SCORE_DESC", "7.5", "not-a-uuid"}) + "\""),
            not_ours);
  EXPECT_EQ(error("orderBy: YEAR_ASC, after: \"" + score_cursor + "\""),
            "after: the cursor belongs to orderBy SCORE_DESC, not YEAR_ASC");
  EXPECT_EQ(error("first: 101"), "first must be between 0 and 100, got 101");
  EXPECT_EQ(error("first: -1"), "first must be between 0 and 100, got -1");
  EXPECT_EQ(error("filter: {titlePrefix: \"\"}"),
            "filter.titlePrefix: 1 to 100 characters, no NUL");
  EXPECT_EQ(error("filter: {studio: \"nope\"}"), "filter.studio: not a UUID: 'nope'");
  // A title cursor holds any text: one the client made up still only seeks.
  Value made_up =
      Run("{ animeList(orderBy: TITLE_ASC, first: 1, after: \"" +
          EncodeListCursor({"TITLE_ASC", "zzzzzzzz", studio_}) + "\") { nodes { id } } }");
  EXPECT_EQ(Errors(made_up), "");
}

TEST_F(GraphqlListTest, NestedFieldsOfAPageCostOneStatementPerLevel) {
  const std::string query = R"({ animeList(orderBy: POPULARITY_DESC, first: 20) {
      nodes { title studios { name } characters(first: 3) { role character { name } } } } })";
  // Twice first, so the connection has prepared the statements (a first use prepares: two
  // sends).
  Run(query);
  Run(query);
  uint64_t statements = 0;
  Value r = Run(query, &statements);
  EXPECT_EQ(Errors(r), "");
  EXPECT_EQ(r.Find("data")->Find("animeList")->Find("nodes")->AsList().size(), 20u);
  EXPECT_EQ(statements, 3u);  // the page, every studio, every character credit
}

TEST_F(GraphqlListTest, NestedConnectionsCarryEdgesAndBothEndsOfPageInfo) {
  Value r = Run("{ company(id: \"" + studio_ +
                "\") { anime(first: 2) { edges { cursor node { id } } nodes { id } "
                "pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }");
  EXPECT_EQ(Errors(r), "");
  const Value& page = *r.Find("data")->Find("company")->Find("anime");
  const auto& edges = page.Find("edges")->AsList();
  ASSERT_EQ(edges.size(), 2u);
  const Value& info = *page.Find("pageInfo");
  EXPECT_FALSE(info.Find("hasPreviousPage")->AsBool());
  EXPECT_EQ(info.Find("startCursor")->AsString(), edges[0].Find("cursor")->AsString());
  EXPECT_EQ(info.Find("endCursor")->AsString(), edges[1].Find("cursor")->AsString());
  Value next = Run("{ company(id: \"" + studio_ + "\") { anime(first: 2, after: \"" +
                   std::string(info.Find("endCursor")->AsString()) +
                   "\") { nodes { id } pageInfo { hasPreviousPage } } } }");
  EXPECT_TRUE(next.Find("data")
                  ->Find("company")
                  ->Find("anime")
                  ->Find("pageInfo")
                  ->Find("hasPreviousPage")
                  ->AsBool());
}

// Every list statement's generic plan (the API's pool plans generically) on a generated
// catalogue walks an index of anime, with and without the common filters. At SF 0.1 (3,000
// anime) the planner already weighs a sequential scan and a sort against the index walk as at
// SF1 (30,000): the choice is the same at both (docs/graphql.md).
TEST(GraphqlListPlans, EveryOrderingWalksAnIndexOnAGeneratedCatalogue) {
  testing::TestDatabase tdb;
  auto conn = tdb.Connect();
  std::ostringstream progress;
  dataset::LoadSyntheticCatalogue(conn.native(), {0.1, 1}, {.progress_every = 0}, progress);
  conn.Exec(std::string(db::kForceGenericPlans));
  std::string studio(conn.Query(R"(
      SELECT company_id FROM anime_company WHERE role = 'studio'
       GROUP BY company_id ORDER BY count(*) DESC LIMIT 1)")
                         .Get(0, 0));
  std::string deep_id(
      conn.Query("SELECT id FROM anime ORDER BY view_count DESC, id DESC OFFSET 2000 LIMIT 1")
          .Get(0, 0));
  const std::string no_filter = "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 21";
  const std::string filters =
      "2000, 2015, 'SPRING', '{TV}', '{FINISHED}', '" + studio + "', 7, 9, 'a', 21";
  int checked = 0;
  for (const db::Statement* stmt : RequestLoaders::ListStatements()) {
    std::string name(stmt->name);
    conn.Exec("PREPARE list_plan AS " + std::string(stmt->sql));
    bool after = name.ends_with("_after");
    std::string key = name.find("score") != std::string::npos   ? "7.5"
                      : name.find("year") != std::string::npos  ? "2005"
                      : name.find("title") != std::string::npos ? "'M'"
                                                                : "100";
    std::string cursor = after ? ", " + key + ", '" + deep_id + "'" : "";
    for (const std::string& args : {no_filter, filters}) {
      auto plan = conn.Query("EXPLAIN EXECUTE list_plan(" + args + cursor + ")");
      std::string text;
      for (int i = 0; i < plan.rows(); ++i) text += std::string(plan.Get(i, 0)) + "\n";
      EXPECT_EQ(text.find("Seq Scan on anime"), std::string::npos) << name << "\n" << text;
      EXPECT_NE(text.find("Index Scan"), std::string::npos) << name << "\n" << text;
      EXPECT_EQ(text.find("Sort"), std::string::npos) << name << "\n" << text;
      // After a cursor the walk starts at the cursor (a deep page costs what the first does).
      if (after) {
        EXPECT_NE(text.find("Index Cond: (ROW("), std::string::npos) << name << "\n" << text;
      }
      ++checked;
    }
    conn.Exec("DEALLOCATE list_plan");
  }
  EXPECT_EQ(checked, 32);
}

}  // namespace
}  // namespace psvc::api

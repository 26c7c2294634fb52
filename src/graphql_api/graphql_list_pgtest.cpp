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

// Which list a test pages: animeList, or the anime of one company or character.
struct ListField {
  std::string prefix = "{ animeList(";  // up to the arguments
  std::string suffix = " }";            // after the connection's selection
  std::vector<std::string> path = {"animeList"};
  bool appearances = false;  // nodes are {role anime} (Character.anime)
};
ListField CompanyAnime(const std::string& id) {
  return {"{ company(id: \"" + id + "\") { anime(", " } }", {"company", "anime"}, false};
}
ListField CharacterAnime(const std::string& id) {
  return {"{ character(id: \"" + id + "\") { anime(", " } }", {"character", "anime"}, true};
}

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
    character_ = std::string(conn.Query(R"(
        SELECT character_id FROM anime_character
         GROUP BY character_id ORDER BY count(*) DESC, character_id LIMIT 1)")
                                 .Get(0, 0));
    // The edge cases belong to the busiest studio and character too: their nested lists
    // must order the ties and skip the hidden and merged anime as animeList does.
    conn.Exec("INSERT INTO anime_company (anime_id, company_id, role) SELECT id, '" + studio_ +
              "', 'studio' FROM anime WHERE id::text LIKE 'a1000000-%'");
    conn.Exec("INSERT INTO anime_character (anime_id, character_id, role) SELECT id, '" +
              character_ + "', 'MAIN' FROM anime WHERE id::text LIKE 'a1000000-%'");
    conn.Exec("ANALYZE anime_company; ANALYZE anime_character");
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

  // `from`: the anime of the list, as SQL ("anime", or anime joined to its edges of a parent).
  std::vector<std::string> Expected(const Ordering& o, const Filter& f,
                                    const std::string& from = "anime") {
    std::string sql = "SELECT id FROM " + from + " WHERE merged_into IS NULL AND hidden_at IS NULL";
    if (!f.sql.empty()) sql += " AND " + f.sql;
    sql += " ORDER BY " + std::string(o.order_by);
    auto r = tdb_->Connect().Query(sql);
    std::vector<std::string> ids;
    for (int i = 0; i < r.rows(); ++i) ids.emplace_back(r.Get(i, 0));
    return ids;
  }

  // Pages through a list with `first` per page; checks each page's shape and pageInfo and
  // returns the ids in order.
  std::vector<std::string> PageThrough(const Ordering& o, const Filter& f, int first,
                                       const ListField& field = ListField()) {
    std::vector<std::string> ids;
    std::string after;
    for (int page = 0; page < 1000; ++page) {
      std::string args = "orderBy: " + std::string(o.name) + ", first: " + std::to_string(first);
      if (!f.graphql.empty()) args += ", filter: " + f.graphql;
      if (!after.empty()) {
        args += ", after: ";
        json::AppendQuoted(args, after);
      }
      std::string node = field.appearances ? "role anime { id }" : "id";
      Value r = Run(field.prefix + args + ") { nodes { " + node + " } edges { cursor node { " +
                    node + " } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } }" +
                    field.suffix);
      EXPECT_EQ(Errors(r), "");
      const Value* list = r.Find("data");
      for (const std::string& step : field.path) {
        list = list && !list->IsNull() ? list->Find(step) : nullptr;
      }
      if (!list || list->IsNull()) return ids;
      const auto& nodes = list->Find("nodes")->AsList();
      const auto& edges = list->Find("edges")->AsList();
      const Value& info = *list->Find("pageInfo");
      EXPECT_EQ(nodes.size(), edges.size());
      EXPECT_LE(nodes.size(), static_cast<size_t>(first));
      auto id_of = [&](const Value& n) {
        return std::string((field.appearances ? *n.Find("anime") : n).Find("id")->AsString());
      };
      for (size_t i = 0; i < nodes.size() && i < edges.size(); ++i) {
        EXPECT_EQ(id_of(nodes[i]), id_of(*edges[i].Find("node")));
        ids.push_back(id_of(nodes[i]));
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
  static std::string character_;
  db::Pool read_pool_{db::PoolOptions{
      .url = tdb_->url(), .size = 2, .read_only = true, .session_setup = GraphqlSessionSetup()}};
  db::Pool write_pool_{db::PoolOptions{.url = tdb_->url(), .size = 1}};
  write::EventApplier applier_{write_pool_};
  GraphqlApi api_{GraphqlApiOptions{.read_pool = read_pool_, .applier = applier_}};
};

testing::TestDatabase* GraphqlListTest::tdb_ = nullptr;
std::string GraphqlListTest::studio_;
std::string GraphqlListTest::character_;

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

// Company.anime and Character.anime take animeList's filter, orderings and cursors: paged
// through one row at a time and a few at a time, each agrees with SQL over the parent's edges.
TEST_F(GraphqlListTest, NestedListsAgreeWithSqlInEveryOrderingAndFilter) {
  const std::string studio_edges =
      "anime JOIN anime_company ac ON ac.anime_id = anime.id AND ac.role = 'studio' AND "
      "ac.company_id = '" +
      studio_ + "'";
  const std::string character_edges =
      "anime JOIN anime_character ac ON ac.anime_id = anime.id AND ac.character_id = '" +
      character_ + "'";
  const std::vector<Filter> filters = {
      {"", ""},
      {"{yearMin: 2005, types: [TV]}", "year >= 2005 AND type = 'TV'"},
      {"{scoreMin: 7}", "score >= 7"},
      {"{titlePrefix: \"tie\"}", "lower(title) LIKE 'tie%'"},
  };
  for (const Filter& f : filters) {
    for (const Ordering& o : kOrderings) {
      std::vector<std::string> by_studio = Expected(o, f, studio_edges);
      EXPECT_EQ(PageThrough(o, f, 4, CompanyAnime(studio_)), by_studio) << o.name << f.graphql;
      std::vector<std::string> by_character = Expected(o, f, character_edges);
      EXPECT_EQ(PageThrough(o, f, 1, CharacterAnime(character_)), by_character)
          << o.name << f.graphql;
    }
  }
  // Not vacuous: the studio has more than one page in every ordering, the character's ties
  // span pages, and the hidden and merged anime linked to both never appear.
  std::vector<std::string> all = Expected(kOrderings[0], {}, studio_edges);
  EXPECT_GT(all.size(), 8u);
  EXPECT_EQ(tdb_->Connect()
                .Query("SELECT count(*) FROM anime_company WHERE anime_id IN "
                       "('a1000000-0000-4000-8000-000000000006', "
                       "'a1000000-0000-4000-8000-000000000007') AND company_id = '" +
                       studio_ + "'")
                .Get(0, 0),
            std::string_view("2"));
  EXPECT_EQ(Expected(kOrderings[0], {"", "lower(title) LIKE 'tie%'"}, character_edges).size(), 3u);
}

TEST_F(GraphqlListTest, NestedListsOfManyParentsCostOneStatementPerLevel) {
  // The busiest studios, each asked alone and all together: the same pages, one statement.
  auto r = tdb_->Connect().Query(R"(
      SELECT company_id FROM anime_company WHERE role = 'studio'
       GROUP BY company_id ORDER BY count(*) DESC, company_id LIMIT 5)");
  std::vector<std::string> studios;
  for (int i = 0; i < r.rows(); ++i) studios.emplace_back(r.Get(i, 0));
  ASSERT_EQ(studios.size(), 5u);
  const std::string page =
      "anime(orderBy: SCORE_DESC, first: 3, filter: {yearMin: 1990}) { nodes { id } "
      "pageInfo { hasNextPage endCursor } }";
  std::string ids;
  for (const auto& s : studios) ids += (ids.empty() ? "\"" : ", \"") + s + "\"";
  const std::string together = "{ companies(ids: [" + ids + "]) { " + page + " } }";
  Run(together);  // prepares the statements on the connection
  uint64_t statements = 0;
  Value all = Run(together, &statements);
  ASSERT_EQ(Errors(all), "");
  EXPECT_EQ(statements, 2u);  // the companies, then every company's page
  const auto& companies = all.Find("data")->Find("companies")->AsList();
  ASSERT_EQ(companies.size(), studios.size());
  for (size_t i = 0; i < studios.size(); ++i) {
    Value alone = Run("{ company(id: \"" + studios[i] + "\") { " + page + " } }");
    std::string a, b;
    graphql::AppendJson(a, *alone.Find("data")->Find("company")->Find("anime"));
    graphql::AppendJson(b, *companies[i].Find("anime"));
    EXPECT_EQ(a, b) << studios[i];
  }
  // A list page with every anime's studios and their top anime: still one statement a level.
  const std::string nested = R"({ animeList(first: 20) { nodes { studios {
      anime(orderBy: POPULARITY_DESC, first: 2) { nodes { title } } } } } })";
  Run(nested);
  Value deep = Run(nested, &statements);
  EXPECT_EQ(Errors(deep), "");
  EXPECT_EQ(statements, 3u);  // the page, the studios, their anime
}

TEST_F(GraphqlListTest, NestedListCursorsAndPageInfoAtBothEnds) {
  auto company_page = [&](const std::string& args) {
    Value r = Run("{ company(id: \"" + studio_ + "\") { anime(" + args +
                  ") { nodes { id } pageInfo { hasNextPage hasPreviousPage endCursor } } } }");
    EXPECT_EQ(Errors(r), "") << args;
    return r.Find("data") ? Value(*r.Find("data")->Find("company")->Find("anime")) : Value();
  };
  // Past the last row: an empty page that knows rows came before.
  std::vector<std::string> expected =
      Expected(kOrderings[6], {},
               "anime JOIN anime_company ac ON ac.anime_id = anime.id AND ac.role = 'studio' AND "
               "ac.company_id = '" +
                   studio_ + "'");
  Value whole = company_page("orderBy: TITLE_ASC, first: 100");
  ASSERT_EQ(whole.Find("nodes")->AsList().size(), expected.size());
  EXPECT_FALSE(whole.Find("pageInfo")->Find("hasPreviousPage")->AsBool());
  EXPECT_FALSE(whole.Find("pageInfo")->Find("hasNextPage")->AsBool());
  std::string last(whole.Find("pageInfo")->Find("endCursor")->AsString());
  Value after_last = company_page("orderBy: TITLE_ASC, after: \"" + last + "\"");
  EXPECT_TRUE(after_last.Find("nodes")->AsList().empty());
  EXPECT_TRUE(after_last.Find("pageInfo")->Find("hasPreviousPage")->AsBool());
  EXPECT_FALSE(after_last.Find("pageInfo")->Find("hasNextPage")->AsBool());
  // A filter that keeps nothing up to the cursor: nothing before, though rows follow.
  Value top = company_page("orderBy: SCORE_DESC, first: 1");
  std::string best(top.Find("pageInfo")->Find("endCursor")->AsString());
  Value low =
      company_page("orderBy: SCORE_DESC, first: 1, filter: {scoreMax: 6}, after: \"" + best + "\"");
  EXPECT_EQ(low.Find("nodes")->AsList().size(), 1u);
  EXPECT_FALSE(low.Find("pageInfo")->Find("hasPreviousPage")->AsBool());
  // Cursors name their ordering; the year cursors of before orderings still page YEAR_ASC.
  Value wrong = Run("{ company(id: \"" + studio_ + "\") { anime(orderBy: YEAR_ASC, after: \"" +
                    best + "\") { nodes { id } } } }");
  EXPECT_NE(Errors(wrong).find("after: the cursor belongs to orderBy SCORE_DESC, not YEAR_ASC"),
            std::string::npos)
      << Errors(wrong);
  Value junk =
      Run("{ character(id: \"" + character_ + "\") { anime(after: \"!!\") { nodes { role } } } }");
  EXPECT_NE(Errors(junk).find("after: not a cursor returned by Character.anime"), std::string::npos)
      << Errors(junk);
  std::vector<std::string> by_year =
      Expected(kOrderings[5], {},
               "anime JOIN anime_company ac ON ac.anime_id = anime.id AND ac.role = 'studio' AND "
               "ac.company_id = '" +
                   studio_ + "'");
  auto year_of =
      tdb_->Connect().Query("SELECT coalesce(year, 0) FROM anime WHERE id = '" + by_year[2] + "'");
  std::string old_cursor =
      EncodeCursor(PageCursor{std::stoll(std::string(year_of.Get(0, 0))), by_year[2]});
  Value old = company_page("first: 1, after: \"" + old_cursor + "\"");
  ASSERT_EQ(old.Find("nodes")->AsList().size(), 1u);
  EXPECT_EQ(old.Find("nodes")->AsList()[0].Find("id")->AsString(), by_year[3]);
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

// The nested lists' generic plans at SF 0.1: every parent's anime come through the edge
// table's reverse index and then the anime's primary key (never a sequential scan, never a walk
// of the catalogue's ordering indexes), the YEAR orderings in the index's order (no sort), and
// after a cursor the year walk starts at the cursor.
TEST(GraphqlListPlans, NestedListsReadEachParentThroughItsEdgeIndex) {
  testing::TestDatabase tdb;
  auto conn = tdb.Connect();
  std::ostringstream progress;
  dataset::LoadSyntheticCatalogue(conn.native(), {0.1, 1}, {.progress_every = 0}, progress);
  conn.Exec(std::string(db::kForceGenericPlans));
  std::string studios = "'{" +
                        std::string(conn.Query(R"(
      SELECT string_agg(company_id::text, ',') FROM (SELECT company_id FROM anime_company
       WHERE role = 'studio' GROUP BY company_id ORDER BY count(*) DESC LIMIT 20) t)")
                                        .Get(0, 0)) +
                        "}'";
  std::string characters = "'{" +
                           std::string(conn.Query(R"(
      SELECT string_agg(character_id::text, ',') FROM (SELECT character_id FROM anime_character
       GROUP BY character_id ORDER BY count(*) DESC LIMIT 20) t)")
                                           .Get(0, 0)) +
                           "}'";
  const std::string no_filter = "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL";
  const std::string filters = "2000, 2015, 'SPRING', '{TV}', '{FINISHED}', NULL, 7, 9, 'a'";
  int checked = 0;
  for (const db::Statement* stmt : RequestLoaders::NestedListStatements()) {
    std::string name(stmt->name);
    bool company = name.starts_with("gql.company_anime_");
    bool after = name.ends_with("_after");
    bool by_year = name.find("_year_") != std::string::npos;
    std::string key = name.find("score") != std::string::npos   ? "7.5"
                      : by_year                                 ? "2005"
                      : name.find("title") != std::string::npos ? "'M'"
                                                                : "100";
    std::string args = ", " + (company ? studios + ", 'studio'" : characters) + ", 21";
    if (after) args += ", " + key + ", '00000000-0000-4000-8000-000000000000'";
    conn.Exec("PREPARE nested_plan AS " + std::string(stmt->sql));
    for (const std::string& filter : {no_filter, filters}) {
      auto plan = conn.Query("EXPLAIN EXECUTE nested_plan(" + filter + args + ")");
      std::string text;
      for (int i = 0; i < plan.rows(); ++i) text += std::string(plan.Get(i, 0)) + "\n";
      EXPECT_EQ(text.find("Seq Scan"), std::string::npos) << name << "\n" << text;
      // Never the catalogue's ordering indexes (a walk of every anime for one parent).
      EXPECT_EQ(text.find("anime_list_"), std::string::npos) << name << "\n" << text;
      std::string index = company ? "anime_company_reverse" : "anime_character_reverse";
      EXPECT_NE(text.find(index), std::string::npos) << name << "\n" << text;
      EXPECT_NE(text.find("Index Scan using anime_pkey"), std::string::npos) << name << "\n"
                                                                             << text;
      if (by_year) {
        EXPECT_EQ(text.find("Sort"), std::string::npos) << name << "\n" << text;
      }
      // After a cursor the walk starts at the cursor: a row comparison is an index condition.
      if (after && by_year) {
        bool seeks = false;
        std::istringstream lines(text);
        for (std::string line; std::getline(lines, line);) {
          seeks = seeks || (line.find("Index Cond") != std::string::npos &&
                            line.find("ROW(") != std::string::npos);
        }
        EXPECT_TRUE(seeks) << name << "\n" << text;
      }
      ++checked;
    }
    conn.Exec("DEALLOCATE nested_plan");
  }
  EXPECT_EQ(checked, 64);
}

}  // namespace
}  // namespace psvc::api

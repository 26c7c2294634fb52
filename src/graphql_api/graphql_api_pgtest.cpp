// The GraphQL API over real HTTP against a real database with hand-made data.
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <unistd.h>

#include "auth/auth.h"
#include "db/connection.h"
#include "db/pool.h"
#include "graphql/json.h"
#include "graphql_api/graphql_api.h"
#include "graphql_api/graphql_http.h"
#include "graphql_api/persisted_queries.h"
#include "http/server.h"
#include "json/json_string.h"
#include "testing/test_database.h"
#include "write/event_applier.h"
#include "write/view_counter.h"

namespace psvc::api {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using graphql::Value;

// Fixed ids: a = anime, c = character, b = company, e = episode, f = original work.
constexpr const char* kFma = "a0000000-0000-4000-8000-000000000001";
constexpr const char* kFmab = "a0000000-0000-4000-8000-000000000002";
constexpr const char* kPokemon = "a0000000-0000-4000-8000-000000000003";
constexpr const char* kAot = "a0000000-0000-4000-8000-000000000004";
constexpr const char* kEdward = "c0000000-0000-4000-8000-000000000001";
constexpr const char* kBones = "b0000000-0000-4000-8000-000000000001";
constexpr const char* kUnknown = "a0000000-0000-4000-8000-0000000000ff";

constexpr const char* kFixture = R"sql(
INSERT INTO anime (id, title, title_english, title_japanese, synonyms, type, status, season, year,
                   episode_count, score, view_count) VALUES
 ('a0000000-0000-4000-8000-000000000001', 'Fullmetal Alchemist', 'Fullmetal Alchemist', '鋼の錬金術師',
  '{}', 'TV', 'FINISHED', 'FALL', 2003, 51, 8.1, 100),
 ('a0000000-0000-4000-8000-000000000002', 'Fullmetal Alchemist: Brotherhood',
  'Fullmetal Alchemist: Brotherhood', NULL, '{"Hagane no Renkinjutsushi: Fullmetal Alchemist","FMA:B"}',
  'TV', 'FINISHED', 'SPRING', 2009, 64, 9.1, 500),
 ('a0000000-0000-4000-8000-000000000003', 'Pokémon', NULL, NULL, '{}', 'TV', 'AIRING', NULL, NULL,
  NULL, NULL, 50),
 ('a0000000-0000-4000-8000-000000000004', 'Shingeki no Kyojin', 'Attack on Titan', '進撃の巨人', '{}',
  'TV', 'FINISHED', 'SPRING', 2013, 25, 8.5, 1000);
INSERT INTO anime_relation VALUES
 ('a0000000-0000-4000-8000-000000000002', 'a0000000-0000-4000-8000-000000000001', 'ALTERNATIVE');
INSERT INTO character (id, name, name_japanese, favorites) VALUES
 ('c0000000-0000-4000-8000-000000000001', 'Edward Elric', 'エドワード・エルリック', 300),
 ('c0000000-0000-4000-8000-000000000002', 'Alphonse Elric', NULL, 200),
 ('c0000000-0000-4000-8000-000000000003', 'Eren Yeager', NULL, 500),
 ('c0000000-0000-4000-8000-000000000004', 'Pikachu', NULL, 400),
 ('c0000000-0000-4000-8000-000000000005', 'Winry Rockbell', NULL, 50);
INSERT INTO anime_character (anime_id, character_id, role) VALUES
 ('a0000000-0000-4000-8000-000000000001', 'c0000000-0000-4000-8000-000000000001', 'MAIN'),
 ('a0000000-0000-4000-8000-000000000001', 'c0000000-0000-4000-8000-000000000002', 'MAIN'),
 ('a0000000-0000-4000-8000-000000000001', 'c0000000-0000-4000-8000-000000000005', 'SUPPORTING'),
 ('a0000000-0000-4000-8000-000000000002', 'c0000000-0000-4000-8000-000000000001', 'MAIN'),
 ('a0000000-0000-4000-8000-000000000002', 'c0000000-0000-4000-8000-000000000002', 'MAIN'),
 ('a0000000-0000-4000-8000-000000000003', 'c0000000-0000-4000-8000-000000000004', 'MAIN'),
 ('a0000000-0000-4000-8000-000000000004', 'c0000000-0000-4000-8000-000000000003', 'MAIN');
INSERT INTO company (id, name) VALUES
 ('b0000000-0000-4000-8000-000000000001', 'Bones'),
 ('b0000000-0000-4000-8000-000000000002', 'Wit Studio'),
 ('b0000000-0000-4000-8000-000000000003', 'Aniplex');
INSERT INTO anime_company (anime_id, company_id, role) VALUES
 ('a0000000-0000-4000-8000-000000000001', 'b0000000-0000-4000-8000-000000000001', 'studio'),
 ('a0000000-0000-4000-8000-000000000002', 'b0000000-0000-4000-8000-000000000001', 'studio'),
 ('a0000000-0000-4000-8000-000000000002', 'b0000000-0000-4000-8000-000000000003', 'producer'),
 ('a0000000-0000-4000-8000-000000000004', 'b0000000-0000-4000-8000-000000000002', 'studio');
INSERT INTO episode (id, anime_id, number, title, aired_on, duration_seconds)
SELECT ('e0000000-0000-4000-8000-00000000000' || n)::uuid, 'a0000000-0000-4000-8000-000000000002',
       n, 'Episode ' || n, DATE '2009-04-05' + 7 * (n - 1), 1440
  FROM generate_series(1, 5) n;
INSERT INTO original_work (id, title, kind, author) VALUES
 ('f0000000-0000-4000-8000-000000000001', 'Fullmetal Alchemist', 'MANGA', 'Hiromu Arakawa');
INSERT INTO anime_original_work_relation (anime_id, original_work_id) VALUES
 ('a0000000-0000-4000-8000-000000000001', 'f0000000-0000-4000-8000-000000000001'),
 ('a0000000-0000-4000-8000-000000000002', 'f0000000-0000-4000-8000-000000000001');
)sql";

struct HttpResult {
  int status = 0;
  std::string content_type;
  std::string allow;
  std::string body;
  Value json;
};

// One HTTP/1.1 exchange on a fresh connection.
HttpResult Exchange(uint16_t port, bhttp::verb verb, const std::string& target,
                    const std::string& body, const std::string& content_type,
                    const std::string& accept, const std::string& authorization = "") {
  asio::io_context ioc;
  asio::ip::tcp::socket socket(ioc);
  socket.connect({asio::ip::make_address("127.0.0.1"), port});
  bhttp::request<bhttp::string_body> req{verb, target, 11};
  req.set(bhttp::field::host, "localhost");
  if (!content_type.empty()) req.set(bhttp::field::content_type, content_type);
  if (!accept.empty()) req.set(bhttp::field::accept, accept);
  if (!authorization.empty()) req.set(bhttp::field::authorization, authorization);
  req.body() = body;
  req.prepare_payload();
  bhttp::write(socket, req);
  boost::beast::flat_buffer buffer;
  bhttp::response<bhttp::string_body> res;
  bhttp::read(socket, buffer, res);
  HttpResult r;
  r.status = res.result_int();
  r.content_type = std::string(res[bhttp::field::content_type]);
  r.allow = std::string(res[bhttp::field::allow]);
  r.body = res.body();
  std::string why;
  if (auto v = graphql::ParseJson(r.body, &why)) r.json = std::move(*v);
  return r;
}

// Follows a path of keys and indexes ("data.anime.characters.0.role") through a JSON value.
const Value& At(const Value& root, const std::string& path) {
  static const Value kMissing;
  const Value* v = &root;
  std::stringstream ss(path);
  std::string part;
  while (std::getline(ss, part, '.')) {
    if (v->IsList()) {
      size_t i = std::stoul(part);
      if (i >= v->AsList().size()) return kMissing;
      v = &v->AsList()[i];
    } else if (const Value* next = v->Find(part)) {
      v = next;
    } else {
      return kMissing;
    }
  }
  return *v;
}

std::string Str(const Value& v) {
  return v.IsString() ? std::string(v.AsString()) : "<not a string>";
}

std::string Errors(const Value& json) {
  const Value* e = json.Find("errors");
  if (!e) return "";
  std::string out;
  graphql::AppendJson(out, *e);
  return out;
}

class GraphqlApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tdb_.Connect().Exec(kFixture);
    Start(GraphqlApiOptions{.read_pool = *read_pool_, .applier = applier_, .views = &views_});
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }

  void Start(GraphqlApiOptions options) {
    if (server_) server_->Stop();
    api_ = std::make_shared<GraphqlApi>(options);
    server_ = std::make_unique<http::Server>(http::ServerOptions{.threads = 4});
    RegisterGraphqlRoutes(*server_, api_, GraphqlHttpOptions{.graphiql = false});
    server_->Start();
  }

  // POST a query; `variables` is JSON object text.
  HttpResult Post(const std::string& query, const std::string& variables = "{}",
                  const std::string& accept = "application/json") {
    std::string body = "{\"query\":";
    json::AppendQuoted(body, query);
    body += ",\"variables\":" + variables + "}";
    return Exchange(server_->port(), bhttp::verb::post, "/graphql", body, "application/json",
                    accept);
  }
  // POST and expect data without errors.
  Value Data(const std::string& query, const std::string& variables = "{}") {
    HttpResult r = Post(query, variables);
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(Errors(r.json), "") << query;
    return At(r.json, "data");
  }
  std::string FirstError(const std::string& query, const std::string& variables = "{}") {
    HttpResult r = Post(query, variables);
    return Str(At(r.json, "errors.0.message"));
  }

  // search(query) as "MATCH Type name" lines, best first.
  std::vector<std::string> Search(const std::string& q, const std::string& extra = "") {
    std::string query = "query($q: String!) { search(query: $q" + extra +
                        ") { kind matched match node { __typename ... on Anime { id title } "
                        "... on Character { id name } ... on Company { id name } } } }";
    std::string vars = "{\"q\":";
    json::AppendQuoted(vars, q);
    vars += "}";
    std::vector<std::string> out;
    Value data = Data(query, vars);
    for (const Value& h : At(data, "search").AsList()) {
      const Value& node = *h.Find("node");
      if (node.IsNull()) {
        out.push_back(Str(*h.Find("match")) + " null node");
        continue;
      }
      out.push_back(Str(*h.Find("match")) + " " + Str(*node.Find("__typename")) + " " +
                    Str(node.Find("title") ? *node.Find("title") : *node.Find("name")));
    }
    return out;
  }

  testing::TestDatabase tdb_;
  std::unique_ptr<db::Pool> read_pool_ = std::make_unique<db::Pool>(db::PoolOptions{
      .url = tdb_.url(), .size = 4, .read_only = true, .session_setup = GraphqlSessionSetup()});
  db::Pool write_pool_{db::PoolOptions{.url = tdb_.url(), .size = 4}};
  write::EventApplier applier_{write_pool_};
  write::ViewCounter views_{write_pool_};
  std::shared_ptr<GraphqlApi> api_;
  std::unique_ptr<http::Server> server_;
};

TEST_F(GraphqlApiTest, AnimeByIdWithScalarsAndNestedRelationships) {
  Value d = Data(std::string(R"({ anime(id: ")") + kFmab + R"(") {
      id title titleEnglish titleJapanese synonyms type status season year episodeCount score
      viewCount version updatedAt
      studios { name }
      companies { role company { name } }
      characters { role character { name nameJapanese favorites } }
      relations { type target { title year } }
      originalWorks { title kind author anime { title } }
    } })");
  EXPECT_EQ(Str(At(d, "anime.id")), kFmab);
  EXPECT_EQ(Str(At(d, "anime.title")), "Fullmetal Alchemist: Brotherhood");
  EXPECT_TRUE(At(d, "anime.titleJapanese").IsNull());
  EXPECT_EQ(Str(At(d, "anime.synonyms.1")), "FMA:B");
  EXPECT_EQ(Str(At(d, "anime.season")), "SPRING");
  EXPECT_EQ(At(d, "anime.year").AsInt(), 2009);
  EXPECT_DOUBLE_EQ(At(d, "anime.score").AsNumber(), 9.1);
  EXPECT_EQ(At(d, "anime.viewCount").AsInt(), 500);
  EXPECT_EQ(At(d, "anime.version").AsInt(), 1);
  EXPECT_EQ(Str(At(d, "anime.studios.0.name")), "Bones");
  EXPECT_EQ(At(d, "anime.studios").AsList().size(), 1u);
  EXPECT_EQ(Str(At(d, "anime.companies.0.role")), "STUDIO");
  EXPECT_EQ(Str(At(d, "anime.companies.1.role")), "PRODUCER");
  EXPECT_EQ(Str(At(d, "anime.companies.1.company.name")), "Aniplex");
  // Main roles first, then by favourites.
  EXPECT_EQ(Str(At(d, "anime.characters.0.character.name")), "Edward Elric");
  EXPECT_EQ(Str(At(d, "anime.characters.0.character.nameJapanese")), "エドワード・エルリック");
  EXPECT_EQ(Str(At(d, "anime.characters.1.character.name")), "Alphonse Elric");
  EXPECT_EQ(Str(At(d, "anime.relations.0.type")), "ALTERNATIVE");
  EXPECT_EQ(Str(At(d, "anime.relations.0.target.title")), "Fullmetal Alchemist");
  EXPECT_EQ(Str(At(d, "anime.originalWorks.0.kind")), "MANGA");
  EXPECT_EQ(At(d, "anime.originalWorks.0.anime").AsList().size(), 2u);

  // The relation is stored from FMAB's side; FMA sees its inverse.
  Value d2 = Data(
      std::string(R"({ anime(id: ")") + kFma +
      R"(") { relations { type target { id } } characters(role: SUPPORTING) { character { name } } } })");
  EXPECT_EQ(Str(At(d2, "anime.relations.0.type")), "ALTERNATIVE");
  EXPECT_EQ(Str(At(d2, "anime.relations.0.target.id")), kFmab);
  EXPECT_EQ(Str(At(d2, "anime.characters.0.character.name")), "Winry Rockbell");
  EXPECT_EQ(At(d2, "anime.characters").AsList().size(), 1u);
}

TEST_F(GraphqlApiTest, ListRootsKeepOrderAndAnswerNullForUnknownIds) {
  Value d = Data(R"(query($ids: [ID!]!) { animes(ids: $ids) { id title } })",
                 std::string(R"({"ids":[")") + kAot + "\",\"" + kUnknown + "\",\"" + kFma + "\"]}");
  EXPECT_EQ(Str(At(d, "animes.0.title")), "Shingeki no Kyojin");
  EXPECT_TRUE(At(d, "animes.1").IsNull());
  EXPECT_EQ(Str(At(d, "animes.2.title")), "Fullmetal Alchemist");
  EXPECT_TRUE(
      At(Data(std::string(R"({ anime(id: ")") + kUnknown + R"(") { id } })"), "anime").IsNull());

  Value e = Data(std::string(R"({ character(id: ")") + kEdward + R"(") { name }
      characters(ids: [")" +
                 kEdward + R"(", ")" + kUnknown + R"("]) { name }
      company(id: ")" +
                 kBones + R"(") { name }
      companies(ids: [")" +
                 kBones + R"("]) { name }
      episode(id: "e0000000-0000-4000-8000-000000000003") { number title airedOn durationSeconds anime { title } }
      episodes(ids: ["e0000000-0000-4000-8000-000000000001"]) { number }
      originalWork(id: "f0000000-0000-4000-8000-000000000001") { title author } })");
  EXPECT_EQ(Str(At(e, "character.name")), "Edward Elric");
  EXPECT_TRUE(At(e, "characters.1").IsNull());
  EXPECT_EQ(Str(At(e, "company.name")), "Bones");
  EXPECT_EQ(Str(At(e, "companies.0.name")), "Bones");
  EXPECT_EQ(At(e, "episode.number").AsInt(), 3);
  EXPECT_EQ(Str(At(e, "episode.airedOn")), "2009-04-19");
  EXPECT_EQ(Str(At(e, "episode.anime.title")), "Fullmetal Alchemist: Brotherhood");
  EXPECT_EQ(At(e, "episodes.0.number").AsInt(), 1);
  EXPECT_EQ(Str(At(e, "originalWork.author")), "Hiromu Arakawa");
}

TEST_F(GraphqlApiTest, MergedIdsResolveToTheirSurvivorAndHiddenAnimeAreNull) {
  auto c = tdb_.Connect();
  // A row marked merged (merged_into set), a finalized merge (only the redirect row is left)
  // and a removal in progress (hidden).
  c.Query("INSERT INTO anime (id, title, merged_into) VALUES ($1, 'Dup', $2)",
          {"dddddddd-0000-4000-8000-000000000001", kFmab});
  c.Query("INSERT INTO anime_redirect (from_id, to_id, saga_id) VALUES ($1, $2, $1)",
          {"dddddddd-0000-4000-8000-000000000002", kAot});
  c.Query("UPDATE anime SET hidden_at = now() WHERE id = $1", {kPokemon});
  Value d = Data(
      R"(query($ids: [ID!]!) { animes(ids: $ids) { id title } })",
      R"({"ids":["dddddddd-0000-4000-8000-000000000001","dddddddd-0000-4000-8000-000000000002",")" +
          std::string(kPokemon) + R"("]})");
  EXPECT_EQ(Str(At(d, "animes.0.id")), kFmab);
  EXPECT_EQ(Str(At(d, "animes.0.title")), "Fullmetal Alchemist: Brotherhood");
  EXPECT_EQ(Str(At(d, "animes.1.id")), kAot);
  EXPECT_TRUE(At(d, "animes.2").IsNull());
}

TEST_F(GraphqlApiTest, MutationsNeedABearerTokenWhenConfiguredAndWriteNothingWithout) {
  BearerTokens writers({"writer-token-0123456789"});
  BearerTokens readers({"reader-token-0123456789"});
  http::Server secured(http::ServerOptions{.threads = 2});
  RegisterGraphqlRoutes(secured, api_,
                        GraphqlHttpOptions{.graphiql = false, .write_tokens = &writers});
  secured.Start();
  auto views = [&] {
    return tdb_.Connect()
        .Query("SELECT view_count FROM anime WHERE id = $1", {kAot})
        .GetInt64(0, 0);
  };
  std::string body = "{\"query\":";
  json::AppendQuoted(
      body, std::string("mutation { recordView(animeId: \"") + kAot + "\") { viewCount } }");
  body += "}";
  auto before = views();
  for (const char* auth : {"", "Bearer wrong-token-0123456789", "writer-token-0123456789"}) {
    auto r = Exchange(secured.port(), bhttp::verb::post, "/graphql", body, "application/json",
                      "application/json", auth);
    EXPECT_EQ(r.status, 401) << auth << ": " << r.body;
    EXPECT_NE(r.body.find("Bearer"), std::string::npos);
  }
  EXPECT_EQ(views(), before);
  auto ok = Exchange(secured.port(), bhttp::verb::post, "/graphql", body, "application/json",
                     "application/json", "Bearer writer-token-0123456789");
  EXPECT_EQ(ok.status, 200) << ok.body;
  views_.Flush();  // views reach the table at a flush
  EXPECT_EQ(views(), before + 1);
  // Reads stay open unless read tokens are configured.
  std::string query = R"({"query":"{ __typename }"})";
  EXPECT_EQ(Exchange(secured.port(), bhttp::verb::post, "/graphql", query, "application/json",
                     "application/json")
                .status,
            200);
  secured.Stop();
  http::Server closed(http::ServerOptions{.threads = 2});
  RegisterGraphqlRoutes(
      closed, api_,
      GraphqlHttpOptions{.graphiql = false, .write_tokens = &writers, .read_tokens = &readers});
  closed.Start();
  EXPECT_EQ(Exchange(closed.port(), bhttp::verb::post, "/graphql", query, "application/json",
                     "application/json")
                .status,
            401);
  EXPECT_EQ(Exchange(closed.port(), bhttp::verb::post, "/graphql", query, "application/json",
                     "application/json", "Bearer reader-token-0123456789")
                .status,
            200);
  closed.Stop();
}

TEST_F(GraphqlApiTest, AHiddenAnimeDisappearsFromEveryNestedList) {
  // A removal saga hides the anime at once; until it is purged its edges still exist.
  tdb_.Connect().Query("UPDATE anime SET hidden_at = now() WHERE id = $1", {kFmab});
  Value d = Data(std::string(R"({ character(id: ")") + kEdward +
                 R"(") { anime(first: 10) { nodes { anime { id } } } }
      company(id: ")" +
                 kBones + R"(") { anime(first: 10) { nodes { id } } }
      anime(id: ")" +
                 kFma + R"(") { relations { target { id } } } })");
  EXPECT_EQ(Str(At(d, "character.anime.nodes.0.anime.id")), kFma);
  EXPECT_TRUE(At(d, "character.anime.nodes.1").IsNull());
  EXPECT_EQ(Str(At(d, "company.anime.nodes.0.id")), kFma);
  EXPECT_TRUE(At(d, "company.anime.nodes.1").IsNull());
  EXPECT_TRUE(At(d, "anime.relations.0").IsNull());
}

TEST_F(GraphqlApiTest, BadIdsAndArgumentsAreClearErrors) {
  EXPECT_EQ(FirstError(R"({ anime(id: "x'; DROP TABLE anime; --") { id } })"),
            "id: not a UUID: 'x\\x27; DROP TABLE anime; --'")
      << "the exact quoting comes from ids::QuoteForMessage";
  EXPECT_NE(FirstError(R"({ anime(id: "nope") { id } })").find("not a UUID"), std::string::npos);
  EXPECT_NE(FirstError(std::string(R"({ anime(id: ")") + kFmab +
                       R"(") { episodes(first: 1000) { nodes { id } } } })")
                .find("first must be between 0 and 100"),
            std::string::npos);
  EXPECT_EQ(FirstError(std::string(R"({ anime(id: ")") + kFmab +
                       R"(") { episodes(after: "zz") { nodes { id } } } })"),
            "after: not a cursor returned by this API");
  EXPECT_NE(FirstError(R"({ anime(id: 1) { type(x: 1) } })").find("Unknown argument"),
            std::string::npos);
}

TEST_F(GraphqlApiTest, PagesFollowCursors) {
  std::string q =
      std::string(R"(query($after: String) { anime(id: ")") + kFmab +
      R"(") { episodes(first: 2, after: $after) { nodes { number } pageInfo { hasNextPage endCursor } } } })";
  std::vector<int64_t> numbers;
  std::string vars = "{}";
  for (int page = 0; page < 5; ++page) {
    Value d = Data(q, vars);
    for (const Value& n : At(d, "anime.episodes.nodes").AsList())
      numbers.push_back(n.Find("number")->AsInt());
    if (!At(d, "anime.episodes.pageInfo.hasNextPage").AsBool()) break;
    vars = "{\"after\":\"" + Str(At(d, "anime.episodes.pageInfo.endCursor")) + "\"}";
  }
  EXPECT_EQ(numbers, (std::vector<int64_t>{1, 2, 3, 4, 5}));

  Value c = Data(
      std::string(R"({ character(id: ")") + kEdward +
      R"(") { anime(first: 1) { nodes { role anime { year } } pageInfo { hasNextPage endCursor } } } })");
  EXPECT_EQ(At(c, "character.anime.nodes.0.anime.year").AsInt(), 2003);
  EXPECT_TRUE(At(c, "character.anime.pageInfo.hasNextPage").AsBool());
  Value c2 =
      Data(std::string(R"({ character(id: ")") + kEdward + R"(") { anime(first: 5, after: ")" +
           Str(At(c, "character.anime.pageInfo.endCursor")) +
           R"(") { nodes { anime { year } } pageInfo { hasNextPage } } } })");
  EXPECT_EQ(At(c2, "character.anime.nodes.0.anime.year").AsInt(), 2009);
  EXPECT_EQ(At(c2, "character.anime.nodes").AsList().size(), 1u);
  EXPECT_FALSE(At(c2, "character.anime.pageInfo.hasNextPage").AsBool());

  Value s = Data(
      std::string(R"({ company(id: ")") + kBones +
      R"(") { anime { nodes { title } } producers: anime(role: PRODUCER) { nodes { title } } } })");
  EXPECT_EQ(At(s, "company.anime.nodes").AsList().size(), 2u);
  EXPECT_EQ(Str(At(s, "company.anime.nodes.0.title")), "Fullmetal Alchemist");
  EXPECT_EQ(At(s, "company.producers.nodes").AsList().size(), 0u);
}

// Hydration of `n` anime with studios, characters (with their other anime) and relations.
uint64_t CountStatements(GraphqlApi& api, int n) {
  std::string ids;
  for (int i = 1; i <= n; ++i) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s\"00000000-0000-4000-8000-%012d\"", i > 1 ? "," : "", i);
    ids += buf;
  }
  std::string query = "{ animes(ids: [" + ids + R"(]) {
      title
      studios { name }
      characters(first: 5) { role character { name anime(first: 3) { nodes { anime { title } } } } }
      relations { type target { title } } } })";
  GraphqlResponse r = api.Execute({.query = query});
  EXPECT_EQ(r.json.find("\"errors\""), std::string::npos) << r.json.substr(0, 500);
  EXPECT_EQ(std::count(r.json.begin(), r.json.end(), '{') > n, true);
  return r.statements;
}

TEST_F(GraphqlApiTest, OneStatementPerRelationshipFieldWhateverTheNumberOfParents) {
  // 50 anime in 5 studios, 4 characters each (shared across anime), a sequel chain.
  tdb_.Connect().Exec(R"sql(
    INSERT INTO anime (id, title, year)
    SELECT ('00000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid, 'Show ' || n, 1990 + n % 30
      FROM generate_series(1, 50) n;
    INSERT INTO company (id, name)
    SELECT ('00000000-0000-4000-9000-' || lpad(n::text, 12, '0'))::uuid, 'Studio ' || n
      FROM generate_series(1, 5) n;
    INSERT INTO anime_company (anime_id, company_id, role)
    SELECT ('00000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid,
           ('00000000-0000-4000-9000-' || lpad((n % 5 + 1)::text, 12, '0'))::uuid, 'studio'
      FROM generate_series(1, 50) n;
    INSERT INTO character (id, name)
    SELECT ('00000000-0000-4000-a000-' || lpad(n::text, 12, '0'))::uuid, 'Person ' || n
      FROM generate_series(1, 60) n;
    INSERT INTO anime_character (anime_id, character_id, role)
    SELECT ('00000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid,
           ('00000000-0000-4000-a000-' || lpad(((n * 4 + k) % 60 + 1)::text, 12, '0'))::uuid,
           CASE WHEN k = 0 THEN 'MAIN' ELSE 'SUPPORTING' END
      FROM generate_series(1, 50) n, generate_series(0, 3) k;
    INSERT INTO anime_relation
    SELECT ('00000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid,
           ('00000000-0000-4000-8000-' || lpad((n + 1)::text, 12, '0'))::uuid, 'SEQUEL'
      FROM generate_series(1, 49) n;
  )sql");
  // Pool of one connection: every request runs on the same connection, warmed up (prepared).
  db::Pool one(db::PoolOptions{
      .url = tdb_.url(), .size = 1, .read_only = true, .session_setup = GraphqlSessionSetup()});
  GraphqlApi api(GraphqlApiOptions{.read_pool = one, .applier = applier_});
  CountStatements(api, 50);
  // Relationship fields in the document: animes, studios, characters, anime, relations.
  constexpr uint64_t kRelationshipFields = 5;
  EXPECT_EQ(CountStatements(api, 5), kRelationshipFields);
  EXPECT_EQ(CountStatements(api, 50), kRelationshipFields);
  // The same anime asked twice in one request is read once (the per-request cache).
  GraphqlResponse twice =
      api.Execute({.query = R"({ a: anime(id: "00000000-0000-4000-8000-000000000001") { title }
                     b: anime(id: "00000000-0000-4000-8000-000000000001") { title } })"});
  EXPECT_EQ(twice.statements, 1u) << twice.json;
}

TEST_F(GraphqlApiTest, SearchHydratesItsHitsInItsOwnStatement) {
  db::Pool one(db::PoolOptions{
      .url = tdb_.url(), .size = 1, .read_only = true, .session_setup = GraphqlSessionSetup()});
  GraphqlApi api(GraphqlApiOptions{.read_pool = one, .applier = applier_});
  const std::string anime_fields =
      "id title titleEnglish titleJapanese synonyms type status season year episodeCount "
      "synopsis score viewCount version updatedAt";
  const std::string character_fields = "id name nameJapanese description favorites";
  const std::string hit = "{ kind node { ... on Anime { " + anime_fields +
                          " } ... on Character { " + character_fields +
                          " } ... on Company { id name } } }";
  // Hits of all three kinds: one statement per search, whatever the number of hits (the
  // second run counts: the first one also prepares the statements).
  const std::string query = "{ a: search(query: \"fullm\") " + hit +
                            " c: search(query: \"elric\") " + hit + " s: search(query: \"bon\") " +
                            hit + " }";
  api.Execute({.query = query});
  GraphqlResponse r = api.Execute({.query = query});
  ASSERT_EQ(r.json.find("\"errors\""), std::string::npos) << r.json;
  EXPECT_EQ(r.statements, 3u) << r.json;
  auto data_of = [](const GraphqlResponse& response) {
    std::string why;
    auto v = graphql::ParseJson(response.json, &why);
    return v ? At(*v, "data") : Value();
  };
  auto json = [](const Value& v) {
    std::string out;
    graphql::AppendJson(out, v);
    return out;
  };
  Value data = data_of(r);
  ASSERT_EQ(At(data, "a").AsList().size(), 2u);
  ASSERT_GE(At(data, "c").AsList().size(), 2u);
  ASSERT_EQ(At(data, "s").AsList().size(), 1u);
  // Each node is what the by-id roots (the loaders' own statements) answer for that id.
  auto by_id = [&](const std::string& root, const std::string& id, const std::string& fields) {
    GraphqlResponse b =
        api.Execute({.query = "{ x: " + root + "(id: \"" + id + "\") { " + fields + " } }"});
    return json(At(data_of(b), "x"));
  };
  for (const Value& h : At(data, "a").AsList()) {
    const Value& node = *h.Find("node");
    EXPECT_EQ(json(node), by_id("anime", Str(*node.Find("id")), anime_fields));
  }
  for (const Value& h : At(data, "c").AsList()) {
    const Value& node = *h.Find("node");
    EXPECT_EQ(json(node), by_id("character", Str(*node.Find("id")), character_fields));
  }
  const Value& studio = *At(data, "s").AsList().at(0).Find("node");
  EXPECT_EQ(json(studio), by_id("company", Str(*studio.Find("id")), "id name"));
}

TEST_F(GraphqlApiTest, SearchAnswersNameOnlySelectionsFromItsHitsAsPsvcSearchRanks) {
  // A crowded "kan" prefix: entities with several matching names (so keeping each entity's
  // first hit matters), popularity ties, all three kinds, an exact 3-letter name and accents.
  tdb_.Connect().Exec(R"sql(
    INSERT INTO anime (id, title, synonyms, view_count)
      SELECT gen_random_uuid(), 'Kanata ' || i, ARRAY['Kana ' || i, 'Kanon ' || (i % 7), 'Kan'],
             (i % 4) * 10
        FROM generate_series(1, 40) i;
    INSERT INTO anime (id, title, view_count) VALUES (gen_random_uuid(), 'Kānon', 20);
    INSERT INTO character (id, name, name_japanese, favorites)
      SELECT gen_random_uuid(), 'Kanako ' || i, 'Kana ' || (i % 5), i % 3
        FROM generate_series(1, 30) i;
    INSERT INTO character (id, name, favorites) VALUES (gen_random_uuid(), 'KAN', 1),
                                                       (gen_random_uuid(), 'Kana', 2);
    INSERT INTO anime (id, title, view_count) VALUES (gen_random_uuid(), 'KANA', 10);
    INSERT INTO company (id, name) VALUES (gen_random_uuid(), 'Kanbe Studio');
  )sql");
  db::Pool one(db::PoolOptions{
      .url = tdb_.url(), .size = 1, .read_only = true, .session_setup = GraphqlSessionSetup()});
  GraphqlApi api(GraphqlApiOptions{.read_pool = one, .applier = applier_});
  auto reference = tdb_.Connect();
  // The second run counts statements: the first one also prepares them.
  auto run = [&](const std::string& query) {
    api.Execute({.query = query});
    return api.Execute({.query = query});
  };
  struct Case {
    const char* query;  // as sent; the API trims it
    const char* kinds;  // GraphQL list, "" for the default (all)
    const char* sql_kinds;
    int limit;
    const char* statement;  // the path taken: straight index walks for ASCII queries
    uint64_t statements;    // 2: too few exact and prefix rows, psvc_search adds fuzzy ones
  };
  const Case cases[] = {{"kan", "", "{1,2,3}", 10, "gql.search_prefix3", 1},
                        {"KAN", "", "{1,2,3}", 50, "gql.search_prefix3", 1},
                        {"kan ", "[ANIME]", "{1}", 5, "gql.search_prefix3", 1},
                        {"ka", "", "{1,2,3}", 10, "gql.search_prefix2", 1},
                        {"Ka", "[CHARACTER, COMPANY]", "{2,3}", 10, "gql.search_prefix2", 1},
                        {"kan", "[CHARACTER]", "{2}", 1, "gql.search_prefix3", 1},
                        {"Kā", "", "{1,2,3}", 10, "gql.search_cards", 1},
                        {"kano", "", "{1,2,3}", 10, "gql.search_prefix_long", 1},
                        {"kana", "", "{1,2,3}", 10, "gql.search_prefix_long", 1},
                        {"KANA", "[CHARACTER]", "{2}", 5, "gql.search_prefix_long", 1},
                        {"kana", "[ANIME]", "{1}", 50, "gql.search_prefix_long", 1},
                        {"Kānon", "[ANIME]", "{1}", 10, "gql.search_cards", 1},
                        {"kanbe", "", "{1,2,3}", 10, "gql.search_cards", 2},
                        {"kanatx", "", "{1,2,3}", 10, "gql.search_cards", 2}};
  int hits = 0;
  for (const Case& c : cases) {
    std::string kinds = *c.kinds ? std::string(", kinds: ") + c.kinds : "";
    std::string query;
    json::AppendQuoted(query, c.query);
    GraphqlResponse r =
        run("{ search(query: " + query + kinds + ", limit: " + std::to_string(c.limit) +
            ") { kind matched match node { __typename ... on Anime { id title } "
            "... on Character { id name } ... on Company { id name } } } }");
    std::string why;
    auto json = graphql::ParseJson(r.json, &why);
    ASSERT_TRUE(json) << r.json;
    ASSERT_EQ(Errors(*json), "") << r.json;
    EXPECT_EQ(r.statements, c.statements) << c.query;
    EXPECT_EQ(r.search_statement, c.statement) << c.query;
    std::string actual;
    for (const Value& h : At(*json, "data.search").AsList()) {
      const Value& node = *h.Find("node");
      actual += Str(*h.Find("kind")) + "|" + Str(*h.Find("matched")) + "|" + Str(*h.Find("match")) +
                "|" + Str(*node.Find("__typename")) + "|" + Str(*node.Find("id")) + "|" +
                Str(node.Find("title") ? *node.Find("title") : *node.Find("name")) + "\n";
      ++hits;
    }
    // psvc_search ranks (SchemaTest checks it against the rules); the names come from the
    // entity tables, not from search_term.
    auto expected_rows = reference.Query(R"sql(
      SELECT CASE s.kind WHEN 1 THEN 'ANIME' WHEN 2 THEN 'CHARACTER' ELSE 'COMPANY' END || '|' ||
             s.term || '|' || (ARRAY['EXACT', 'PREFIX', 'FUZZY'])[s.class + 1] || '|' ||
             CASE s.kind WHEN 1 THEN 'Anime' WHEN 2 THEN 'Character' ELSE 'Company' END || '|' ||
             s.entity_id || '|' || coalesce(a.title, c.name, co.name)
        FROM psvc_search(btrim($1), $2::smallint[], $3::int) WITH ORDINALITY s
        LEFT JOIN anime a ON s.kind = 1 AND a.id = s.entity_id
        LEFT JOIN character c ON s.kind = 2 AND c.id = s.entity_id
        LEFT JOIN company co ON s.kind = 3 AND co.id = s.entity_id
       ORDER BY s.ordinality)sql",
                                         {c.query, c.sql_kinds, std::to_string(c.limit)});
    std::string expected;
    for (int i = 0; i < expected_rows.rows(); ++i)
      expected += std::string(expected_rows.Get(i, 0)) + "\n";
    EXPECT_EQ(actual, expected) << "query '" << c.query << "' kinds " << c.kinds;
  }
  EXPECT_GT(hits, 60);
  // The data is as crowded as meant: entities with several "kan" names within a window.
  EXPECT_GT(std::stoi(std::string(
                reference
                    .Exec("SELECT count(*) FROM (SELECT entity_id FROM search_term WHERE "
                          "left(norm, 3) = 'kan' GROUP BY 1 HAVING count(*) > 2) x")
                    .Get(0, 0))),
            30);

  // Any other field of `node` gets the whole entity, however the selection is spelled: a
  // second `search` merged under the same key asks for `year`.
  GraphqlResponse merged =
      run("{ s: search(query: \"kan\", kinds: [ANIME]) { node { ... on Anime { id } } } "
          "s: search(query: \"kan\", kinds: [ANIME]) { node { ...Y } } } "
          "fragment Y on Anime { title year }");
  EXPECT_EQ(merged.statements, 1u);
  EXPECT_EQ(merged.search_statement, "gql.search");
  EXPECT_EQ(merged.json.find("\"errors\""), std::string::npos) << merged.json;
  EXPECT_NE(merged.json.find("\"year\":null"), std::string::npos) << merged.json;
  EXPECT_EQ(merged.json.find("\"year\":2"), std::string::npos) << merged.json;
  tdb_.Connect().Exec("UPDATE anime SET year = 2001 WHERE title LIKE 'Kanata %'");
  merged = api.Execute(
      {.query = "{ s: search(query: \"kanata\", kinds: [ANIME]) { node { ... on Anime { id } } } "
                "s: search(query: \"kanata\", kinds: [ANIME]) { node { ...Y } } } "
                "fragment Y on Anime { title year }"});
  EXPECT_NE(merged.json.find("\"year\":2001"), std::string::npos) << merged.json;
  EXPECT_EQ(merged.json.find("\"year\":null"), std::string::npos) << merged.json;

  // A title too long to keep as a label (over 600 bytes, 0018) is read from the entity: one
  // more statement, the whole title.
  std::string long_title = "Zanzibar";
  for (int i = 0; i < 300; ++i) long_title += "\xc4\x81";  // ā
  tdb_.Connect().Query("INSERT INTO anime (id, title) VALUES (gen_random_uuid(), $1)",
                       {long_title});
  GraphqlResponse zan = run("{ search(query: \"zan\") { node { ... on Anime { title } } } }");
  EXPECT_EQ(zan.statements, 2u);
  EXPECT_EQ(zan.search_statement, "gql.search_prefix3");
  std::string why;
  auto zan_json = graphql::ParseJson(zan.json, &why);
  ASSERT_TRUE(zan_json) << zan.json;
  EXPECT_EQ(Str(At(*zan_json, "data.search.0.node.title")), long_title) << zan.json;
}

TEST_F(GraphqlApiTest, SearchRanksExactThenPrefixThenFuzzyWithPopularityBreakingTies) {
  auto hits = [&](const std::string& q, const std::string& extra = "") { return Search(q, extra); };
  // Exact (case-insensitive) first, then the other prefix match.
  EXPECT_EQ(hits("fullmetal alchemist"),
            (std::vector<std::string>{"EXACT Anime Fullmetal Alchemist",
                                      "PREFIX Anime Fullmetal Alchemist: Brotherhood"}));
  // Prefix matches ordered by popularity (views): Brotherhood (500) before FMA (100).
  EXPECT_EQ(hits("Fullm"),
            (std::vector<std::string>{"PREFIX Anime Fullmetal Alchemist: Brotherhood",
                                      "PREFIX Anime Fullmetal Alchemist"}));
  // Accent-insensitive, both ways.
  EXPECT_EQ(hits("pokemon"), (std::vector<std::string>{"EXACT Anime Pokémon"}));
  EXPECT_EQ(hits("POKÉ"), (std::vector<std::string>{"PREFIX Anime Pokémon"}));
  // Synonyms and other-language titles.
  EXPECT_EQ(hits("hagane"),
            (std::vector<std::string>{"PREFIX Anime Fullmetal Alchemist: Brotherhood"}));
  EXPECT_EQ(hits("attack on"), (std::vector<std::string>{"PREFIX Anime Shingeki no Kyojin"}));
  EXPECT_EQ(hits("進撃"), (std::vector<std::string>{"PREFIX Anime Shingeki no Kyojin"}));
  // Typos: fuzzy.
  EXPECT_EQ(hits("fulmetal alchemst").at(0).substr(0, 11), "FUZZY Anime");
  // A later word of a name matches fuzzily; favourites break the tie between the Elrics.
  EXPECT_EQ(
      hits("elric", ", kinds: [CHARACTER]"),
      (std::vector<std::string>{"FUZZY Character Edward Elric", "FUZZY Character Alphonse Elric"}));
  // Studios, and the kinds filter.
  EXPECT_EQ(hits("bon"), (std::vector<std::string>{"PREFIX Company Bones"}));
  EXPECT_TRUE(hits("bon", ", kinds: [ANIME]").empty());
  // The matched name is reported as written.
  Value d = Data(R"({ search(query: "FMA:") { matched } })");
  EXPECT_EQ(Str(At(d, "search.0.matched")), "FMA:B");
  // Too short: nothing, without a query. Wildcards are literal.
  EXPECT_TRUE(hits("f").empty());
  EXPECT_TRUE(hits("  ").empty());
  EXPECT_TRUE(hits("%%%").empty());
  EXPECT_TRUE(hits("__").empty());
  EXPECT_EQ(hits("e", ", limit: 3").size(), 0u);
  EXPECT_EQ(hits("fullmetal", ", limit: 1").size(), 1u);
  EXPECT_NE(FirstError(R"({ search(query: "abc", limit: 500) { matched } })")
                .find("limit must be between 1 and 50"),
            std::string::npos);
}

TEST_F(GraphqlApiTest, SearchNeverListsMergedOrHiddenAnime) {
  using V = std::vector<std::string>;
  auto c = tdb_.Connect();
  ASSERT_EQ(Search("fullm"), (V{"PREFIX Anime Fullmetal Alchemist: Brotherhood",
                                "PREFIX Anime Fullmetal Alchemist"}));
  // RemoveAnime step (a): hidden at once, from every lane (titles and synonyms), no null nodes.
  c.Query("UPDATE anime SET hidden_at = now() WHERE id = $1", {kFmab});
  EXPECT_EQ(Search("fullm"), (V{"PREFIX Anime Fullmetal Alchemist"}));
  EXPECT_EQ(Search("hagane"), V{});
  EXPECT_EQ(Search("FMA:B"), V{});
  // Its compensation: back, with its popularity.
  c.Query("UPDATE anime SET hidden_at = NULL WHERE id = $1", {kFmab});
  EXPECT_EQ(Search("fullm"), (V{"PREFIX Anime Fullmetal Alchemist: Brotherhood",
                                "PREFIX Anime Fullmetal Alchemist"}));
  EXPECT_EQ(Search("FMA:B"), (V{"EXACT Anime Fullmetal Alchemist: Brotherhood"}));
  // MergeAnime step (a): the duplicate leaves the lane while the merge awaits confirmation (its
  // id would resolve to the survivor, which the survivor's own names already find).
  c.Query("UPDATE anime SET merged_into = $2 WHERE id = $1", {kFma, kFmab});
  EXPECT_EQ(Search("fullmetal alchemist"), (V{"PREFIX Anime Fullmetal Alchemist: Brotherhood"}));
  EXPECT_EQ(Search("鋼の"), V{});
  // A purged anime leaves no terms either.
  c.Exec("DELETE FROM anime WHERE id = '" + std::string(kPokemon) + "'");
  EXPECT_EQ(Search("pokemon"), V{});
  EXPECT_EQ(c.Query("SELECT count(*) FROM search_term WHERE entity_id = ANY($1::uuid[])",
                    {"{" + std::string(kFma) + "," + kPokemon + "}"})
                .GetInt64(0, 0),
            0);
}

TEST_F(GraphqlApiTest, CompanyPopularityIsTheViewsOfItsMostViewedVisibleAnime) {
  using V = std::vector<std::string>;
  auto c = tdb_.Connect();
  c.Exec("INSERT INTO company (id, name) VALUES ('b0000000-0000-4000-8000-000000000004', 'Bonaa')");
  auto popularity = [&](const char* name) {
    return c.Query("SELECT popularity FROM search_term WHERE kind = 3 AND term = $1", {name})
        .GetInt64(0, 0);
  };
  // Not refreshed yet (the fixture was loaded after the migration): all 0, the name decides.
  EXPECT_EQ(Search("bon"), (V{"PREFIX Company Bonaa", "PREFIX Company Bones"}));
  EXPECT_EQ(RefreshSearchPopularity(write_pool_), 3);  // Bones, Wit Studio, Aniplex
  EXPECT_EQ(popularity("Bones"), 500);                 // FMA:B (500) beats FMA (100)
  EXPECT_EQ(popularity("Wit Studio"), 1000);           // Attack on Titan
  EXPECT_EQ(popularity("Aniplex"), 500);               // producer credits count too
  EXPECT_EQ(popularity("Bonaa"), 0);                   // no credits
  EXPECT_EQ(Search("bon"), (V{"PREFIX Company Bones", "PREFIX Company Bonaa"}));
  EXPECT_EQ(RefreshSearchPopularity(write_pool_), 0);  // nothing changed, nothing written
  // Hidden anime do not count; a rename keeps the popularity.
  c.Query("UPDATE anime SET hidden_at = now() WHERE id = $1", {kFmab});
  EXPECT_EQ(RefreshSearchPopularity(write_pool_), 2);
  EXPECT_EQ(popularity("Bones"), 100);
  EXPECT_EQ(popularity("Aniplex"), 0);
  c.Query("UPDATE company SET name = 'Studio Bones' WHERE id = $1", {kBones});
  EXPECT_EQ(popularity("Studio Bones"), 100);
  // Companies and anime share one scale (views): Wit Studio sits with Attack on Titan's views,
  // above a less viewed anime with the same prefix.
  c.Exec(
      "INSERT INTO anime (id, title, view_count) VALUES "
      "('a0000000-0000-4000-8000-000000000005', 'Witch Hunter', 20)");
  EXPECT_EQ(Search("wit"), (V{"PREFIX Company Wit Studio", "PREFIX Anime Witch Hunter"}));
}

TEST_F(GraphqlApiTest, ConcurrentRecordViewsAllCount) {
  constexpr int kCalls = 24;
  auto outbox = [&] {
    return tdb_.Connect().Query("SELECT count(*) FROM qdrant_outbox").GetInt64(0, 0);
  };
  int64_t outbox_before = outbox();
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < kCalls; ++i) {
    threads.emplace_back([&] {
      HttpResult r = Post(std::string(R"(mutation { recordView(animeId: ")") + kPokemon +
                          R"(") { animeId viewCount version } })");
      if (r.status == 200 && Errors(r.json).empty()) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kCalls);
  EXPECT_EQ(views_.Flush(), kCalls);  // serve flushes every --view-flush-ms
  Value d = Data(std::string(R"({ anime(id: ")") + kPokemon + R"(") { viewCount } })");
  EXPECT_EQ(At(d, "anime.viewCount").AsInt(), 50 + kCalls);
  EXPECT_EQ(outbox() - outbox_before, 1);  // one coalesced AnimeViewed per anime per flush
  // The search lane's popularity follows the views.
  EXPECT_EQ(tdb_.Connect()
                .Query("SELECT popularity FROM search_term WHERE entity_id = $1", {kPokemon})
                .GetInt64(0, 0),
            50 + kCalls);

  EXPECT_EQ(FirstError(std::string(R"(mutation { recordView(animeId: ")") + kUnknown +
                       R"(") { viewCount } })"),
            "No anime with this id.");
}

TEST_F(GraphqlApiTest, RecordViewWithAViewIdCountsARetryOnce) {
  auto view = [&](const std::string& view_id) {
    return Data(std::string(R"(mutation { recordView(animeId: ")") + kPokemon + R"(", viewId: ")" +
                view_id + R"(") { viewCount } })");
  };
  EXPECT_EQ(At(view("page-1"), "recordView.viewCount").AsInt(), 51);
  EXPECT_EQ(At(view("page-1"), "recordView.viewCount").AsInt(), 51);  // the retry
  EXPECT_EQ(At(view("page-2"), "recordView.viewCount").AsInt(), 52);
  views_.Flush();
  EXPECT_EQ(
      tdb_.Connect().Query("SELECT view_count FROM anime WHERE id = $1", {kPokemon}).GetInt64(0, 0),
      52);
  EXPECT_EQ(FirstError(std::string(R"(mutation { recordView(animeId: ")") + kPokemon +
                       R"(", viewId: "") { viewCount } })"),
            "Invalid input: viewId must be 1 to 128 characters");
}

// The rule for merged ids (docs/graphql.md): queries follow the redirect to the survivor,
// mutations do not and name the survivor in their error; a removed id is not found.
TEST_F(GraphqlApiTest, MutationsNamingAMergedAnimeAreRefusedWithTheSurvivorsId) {
  const std::string dup = "dddddddd-0000-4000-8000-000000000003";
  const std::string removed = "dddddddd-0000-4000-8000-000000000004";
  auto c = tdb_.Connect();
  c.Query("INSERT INTO anime_redirect (from_id, to_id, saga_id) VALUES ($1, $2, $1)", {dup, kAot});
  c.Query("INSERT INTO anime_tombstone (anime_id, reason, saga_id) VALUES ($1, 'gone', $1)",
          {removed});
  auto state = [&] {
    auto r = c.Query("SELECT view_count, version, title FROM anime WHERE id = $1", {kAot});
    return std::string(r.Get(0, 0)) + "|" + std::string(r.Get(0, 1)) + "|" +
           std::string(r.Get(0, 2));
  };
  const std::string before = state();
  EXPECT_EQ(Str(At(Data("{ anime(id: \"" + dup + "\") { id } }"), "anime.id")), kAot);

  const std::string merged = "This anime was merged into " + std::string(kAot) +
                             "; nothing was changed: send the mutation for " + kAot + ".";
  EXPECT_EQ(FirstError("mutation { recordView(animeId: \"" + dup + "\") { viewCount } }"), merged);
  std::string update = "mutation { updateAnime(id: \"" + dup +
                       "\", input: {title: \"X\"}, expectedVersion: 1) { version } }";
  EXPECT_EQ(FirstError(update), merged);
  EXPECT_EQ(state(), before);

  EXPECT_EQ(FirstError("mutation { recordView(animeId: \"" + removed + "\") { viewCount } }"),
            "No anime with this id.");
  update = "mutation { updateAnime(id: \"" + removed +
           "\", input: {title: \"X\"}, expectedVersion: 1) { version } }";
  EXPECT_EQ(FirstError(update), "No anime with this id.");
  EXPECT_EQ(c.Query("SELECT count(*) FROM anime WHERE id = ANY($1::uuid[])",
                    {"{" + dup + "," + removed + "}"})
                .Get(0, 0),
            "0");
}

// A removal awaiting its confirmation hides the anime from reads but not from writes: the
// removal may be reverted, and a write it swallowed would be lost (docs/sagas.md).
TEST_F(GraphqlApiTest, MutationsApplyToAnAnimeHiddenByAPendingRemoval) {
  auto c = tdb_.Connect();
  c.Query("UPDATE anime SET hidden_at = now() WHERE id = $1", {kPokemon});
  Value d = Data("mutation { recordView(animeId: \"" + std::string(kPokemon) +
                 "\") { viewCount } updateAnime(id: \"" + kPokemon +
                 "\", input: {titleEnglish: \"Pocket Monsters\"}, expectedVersion: 1) "
                 "{ version anime { id } } }");
  EXPECT_EQ(At(d, "recordView.viewCount").AsInt(), 51);
  EXPECT_EQ(At(d, "updateAnime.version").AsInt(), 2);
  EXPECT_TRUE(At(d, "updateAnime.anime").IsNull());
  EXPECT_TRUE(
      At(Data("{ anime(id: \"" + std::string(kPokemon) + "\") { id } }"), "anime").IsNull());
  EXPECT_EQ(c.Query("SELECT title_english FROM anime WHERE id = $1", {kPokemon}).Get(0, 0),
            "Pocket Monsters");
}

TEST_F(GraphqlApiTest, UpdateAnimeAppliesAtTheExpectedVersionAndRefusesStaleOnes) {
  auto outbox = [&] {
    return tdb_.Connect().Query("SELECT count(*) FROM qdrant_outbox").GetInt64(0, 0);
  };
  int64_t before = outbox();
  std::string m = R"(mutation($v: Int!, $input: UpdateAnimeInput!) {
      updateAnime(id: ")" +
                  std::string(kAot) + R"(", input: $input, expectedVersion: $v) {
        version anime { title titleEnglish score synonyms version } } })";
  Value d = Data(
      m,
      R"j({"v": 1, "input": {"titleEnglish": "Attack on Titan (TV)", "score": 8.7, "synonyms": ["AoT"]}})j");
  EXPECT_EQ(At(d, "updateAnime.version").AsInt(), 2);
  EXPECT_EQ(Str(At(d, "updateAnime.anime.titleEnglish")), "Attack on Titan (TV)");
  EXPECT_EQ(Str(At(d, "updateAnime.anime.title")), "Shingeki no Kyojin");  // untouched
  EXPECT_EQ(Str(At(d, "updateAnime.anime.synonyms.0")), "AoT");
  EXPECT_EQ(outbox() - before, 1);
  // The search lane sees the new names.
  EXPECT_EQ(At(Data(R"({ search(query: "aot") { match } })"), "search").AsList().size(), 1u);

  // Based on version 1 again: stale, nothing written.
  HttpResult stale = Post(m, R"({"v": 1, "input": {"title": "Changed"}})");
  EXPECT_EQ(Str(At(stale.json, "errors.0.message")).rfind("stale version: ", 0), 0u) << stale.body;
  EXPECT_EQ(Str(At(stale.json, "errors.0.path.0")), "updateAnime");
  EXPECT_EQ(tdb_.Connect().Query("SELECT title FROM anime WHERE id = $1", {kAot}).Get(0, 0),
            "Shingeki no Kyojin");
  EXPECT_EQ(outbox() - before, 1);

  // Invalid input: clear errors, nothing written.
  EXPECT_EQ(FirstError(m, R"({"v": 2, "input": {}})"), "input: name at least one field to update");
  EXPECT_EQ(FirstError(m, R"({"v": 2, "input": {"title": null}})"), "input.title cannot be null");
  std::string score_error = FirstError(m, R"({"v": 2, "input": {"score": 11}})");
  EXPECT_EQ(score_error.rfind("Invalid input: input.score", 0), 0u) << score_error;
  EXPECT_EQ(outbox() - before, 1);
}

TEST_F(GraphqlApiTest, HttpFollowsGraphqlOverHttp) {
  uint16_t port = server_->port();
  // GET runs queries, refuses mutations with 405 and Allow: POST.
  auto get = Exchange(port, bhttp::verb::get, "/graphql?query=%7B__typename%7D", "", "", "");
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get.body, R"({"data":{"__typename":"Query"}})");
  auto mut =
      Exchange(port, bhttp::verb::get,
               "/graphql?query=mutation%20%7BrecordView(animeId%3A%22x%22)%7BviewCount%7D%7D", "",
               "", "application/graphql-response+json");
  EXPECT_EQ(mut.status, 405);
  EXPECT_EQ(mut.allow, "POST");
  // Media types.
  auto grj = Post("{ __typename }", "{}", "application/graphql-response+json");
  EXPECT_EQ(grj.content_type, "application/graphql-response+json; charset=utf-8");
  auto invalid = Post("{ nope }", "{}", "application/graphql-response+json");
  EXPECT_EQ(invalid.status, 400);
  EXPECT_EQ(invalid.json.Find("data"), nullptr);
  EXPECT_EQ(Post("{ nope }").status, 200);  // legacy application/json
  // A subscription needs the WebSocket: a request error over HTTP (POST and GET), nothing runs.
  const std::string over_http =
      "Subscriptions are served over WebSocket (graphql-transport-ws) at this path, not over HTTP.";
  auto sub =
      Post("subscription { catalogueChanged { kind } }", "{}", "application/graphql-response+json");
  EXPECT_EQ(sub.status, 400);
  EXPECT_EQ(sub.json.Find("data"), nullptr);
  EXPECT_EQ(Str(At(sub.json, "errors.0.message")), over_http) << sub.body;
  auto sub_get =
      Exchange(port, bhttp::verb::get,
               "/graphql?query=subscription%7BcatalogueChanged%7Bkind%7D%7D", "", "", "");
  EXPECT_EQ(sub_get.status, 200);  // application/json
  EXPECT_EQ(sub_get.body, R"({"errors":[{"message":")" + over_http + R"("}]})");
  EXPECT_EQ(Exchange(port, bhttp::verb::post, "/graphql", "{}", "text/plain", "").status, 415);
  EXPECT_EQ(
      Exchange(port, bhttp::verb::post, "/graphql", "{\"query\":", "application/json", "").status,
      400);
  EXPECT_EQ(
      Exchange(port, bhttp::verb::post, "/graphql", "{\"query\":1}", "application/json", "").status,
      400);
  EXPECT_EQ(Exchange(port, bhttp::verb::post, "/graphql", "{\"query\":\"{__typename}\"}",
                     "application/json", "text/csv")
                .status,
            406);
}

TEST_F(GraphqlApiTest, LimitsAndInternalErrorsStaySafe) {
  std::string deep = std::string(R"({ anime(id: ")") + kFma + "\") { ";
  for (int i = 0; i < 8; ++i) deep += "relations { target { ";
  deep += "title" + std::string(16, '}') + " } }";
  EXPECT_NE(FirstError(deep).find("depth"), std::string::npos) << FirstError(deep);
  // Introspection can be switched off.
  GraphqlApiOptions o{.read_pool = *read_pool_, .applier = applier_};
  EXPECT_EQ(At(Data("{ __schema { queryType { name } } }"), "__schema.queryType.name").AsString(),
            "Query");
  o.introspection = false;
  Start(o);
  EXPECT_NE(FirstError("{ __schema { queryType { name } } }").find("__schema"), std::string::npos);
  // A database failure says what kind of failure, never the SQL or the server's text.
  tdb_.Connect().Exec("ALTER TABLE episode RENAME TO episode_gone");
  HttpResult r =
      Post(std::string(R"({ anime(id: ")") + kFmab + R"(") { title episodes { nodes { id } } } })");
  EXPECT_EQ(Str(At(r.json, "errors.0.message")), "Internal error.");
  EXPECT_EQ(r.body.find("episode"), r.body.find("episodes"));  // only the field name appears
  EXPECT_EQ(r.body.find("SELECT"), std::string::npos);
  // episodes is non-null, so the error nulls its nullable parent (spec §6.4.4).
  EXPECT_TRUE(At(r.json, "data.anime").IsNull()) << r.body;
  EXPECT_EQ(Str(At(r.json, "errors.0.path.1")), "episodes");
}

TEST_F(GraphqlApiTest, DocsSchemaIsInSync) {
  std::string path = std::string(PSVC_SOURCE_DIR) + "/docs/schema.graphql";
  std::string sdl = api_->Sdl();
  if (std::getenv("PSVC_UPDATE_SCHEMA")) std::ofstream(path) << sdl;
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), sdl) << "docs/schema.graphql is out of date: run this test with "
                              "PSVC_UPDATE_SCHEMA=1 to rewrite it";
}

// Automatic persisted queries (the Apollo protocol) and the allowlist mode.
class PersistedQueryTest : public GraphqlApiTest {
 protected:
  void StartWith(GraphqlHttpOptions http_options) {
    if (server_) server_->Stop();
    api_ = std::make_shared<GraphqlApi>(
        GraphqlApiOptions{.read_pool = *read_pool_, .applier = applier_});
    server_ = std::make_unique<http::Server>(http::ServerOptions{.threads = 4});
    http_options.graphiql = false;
    RegisterGraphqlRoutes(*server_, api_, http_options);
    server_->Start();
  }
  // POST a body with extensions.persistedQuery; `query` empty: none sent.
  HttpResult PostPersisted(const std::string& hash, const std::string& query,
                           const std::string& accept = "application/json") {
    std::string body = "{";
    if (!query.empty()) {
      body += "\"query\":";
      json::AppendQuoted(body, query);
      body += ",";
    }
    body += "\"extensions\":{\"persistedQuery\":{\"version\":1,\"sha256Hash\":\"" + hash + "\"}}}";
    return Exchange(server_->port(), bhttp::verb::post, "/graphql", body, "application/json",
                    accept);
  }
  HttpResult GetPersisted(const std::string& hash, const std::string& query_param = "") {
    std::string target =
        "/graphql?extensions=%7B%22persistedQuery%22%3A%7B%22version%22%3A1%2C"
        "%22sha256Hash%22%3A%22" +
        hash + "%22%7D%7D" + query_param;
    return Exchange(server_->port(), bhttp::verb::get, target, "", "", "application/json");
  }
};

constexpr const char* kPersistedQuery =
    "{ anime(id: \"a0000000-0000-4000-8000-000000000004\") { title } }";

TEST_F(PersistedQueryTest, UnknownHashThenRegisterThenHashOnly) {
  StartWith({});
  const std::string hash = Sha256Hex(kPersistedQuery);
  // Known answer: SHA-256 of "abc" (FIPS 180-2, appendix B.1).
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

  HttpResult miss = PostPersisted(hash, "");
  EXPECT_EQ(miss.status, 200);
  EXPECT_EQ(Str(At(miss.json, "errors.0.message")), "PersistedQueryNotFound");
  EXPECT_EQ(Str(At(miss.json, "errors.0.extensions.code")), "PERSISTED_QUERY_NOT_FOUND");
  EXPECT_EQ(PostPersisted(hash, "", "application/graphql-response+json").status, 400);

  HttpResult registered = PostPersisted(hash, kPersistedQuery);
  EXPECT_EQ(Str(At(registered.json, "data.anime.title")), "Shingeki no Kyojin") << registered.body;
  uint64_t prepared = api_->documents_prepared();
  for (int i = 0; i < 5; ++i) {
    HttpResult hit = PostPersisted(hash, "");
    EXPECT_EQ(Str(At(hit.json, "data.anime.title")), "Shingeki no Kyojin") << hit.body;
  }
  // A hit runs the document prepared at registration: nothing is parsed or validated again.
  EXPECT_EQ(api_->documents_prepared(), prepared);
  // Hex case does not matter; GET works the same way.
  std::string upper = hash;
  for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  EXPECT_EQ(Str(At(PostPersisted(upper, "").json, "data.anime.title")), "Shingeki no Kyojin");
  HttpResult get = GetPersisted(hash);
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(Str(At(get.json, "data.anime.title")), "Shingeki no Kyojin") << get.body;
  EXPECT_EQ(api_->documents_prepared(), prepared);
}

TEST_F(PersistedQueryTest, RegistrationOverGetAndMismatchesAndBadExtensions) {
  StartWith({});
  const std::string query = "{ animes(ids: [\"a0000000-0000-4000-8000-000000000001\"]) { title } }";
  const std::string hash = Sha256Hex(query);
  EXPECT_EQ(Str(At(GetPersisted(hash).json, "errors.0.message")), "PersistedQueryNotFound");
  std::string encoded;
  for (unsigned char ch : query) {
    char buf[4];
    std::snprintf(buf, sizeof buf, "%%%02X", ch);
    encoded += buf;
  }
  HttpResult reg = GetPersisted(hash, "&query=" + encoded);
  EXPECT_EQ(Str(At(reg.json, "data.animes.0.title")), "Fullmetal Alchemist") << reg.body;
  EXPECT_EQ(Str(At(PostPersisted(hash, "").json, "data.animes.0.title")), "Fullmetal Alchemist");

  // The hash must be the text's: nothing runs and nothing is registered otherwise.
  const std::string other = Sha256Hex("{ __typename }");
  HttpResult mismatch = PostPersisted(other, query);
  EXPECT_EQ(mismatch.status, 400);
  EXPECT_NE(Str(At(mismatch.json, "errors.0.message"))
                .find("extensions.persistedQuery.sha256Hash is not the SHA-256 of `query`"),
            std::string::npos)
      << mismatch.body;
  EXPECT_EQ(Str(At(PostPersisted(other, "").json, "errors.0.message")), "PersistedQueryNotFound");

  auto post = [&](const std::string& body) {
    return Exchange(server_->port(), bhttp::verb::post, "/graphql", body, "application/json",
                    "application/json");
  };
  HttpResult v2 =
      post(R"({"extensions":{"persistedQuery":{"version":2,"sha256Hash":")" + hash + R"("}}})");
  EXPECT_EQ(v2.status, 400);
  EXPECT_EQ(Str(At(v2.json, "errors.0.message")),
            "extensions.persistedQuery: only version 1 is supported.");
  HttpResult short_hash =
      post(R"({"extensions":{"persistedQuery":{"version":1,"sha256Hash":"ab"}}})");
  EXPECT_EQ(short_hash.status, 400);
  EXPECT_EQ(Str(At(short_hash.json, "errors.0.message")),
            "extensions.persistedQuery.sha256Hash must be 64 hexadecimal digits.");
  // A document that does not validate is answered as usual and not kept under its hash.
  const std::string invalid = "{ nope }";
  HttpResult bad = PostPersisted(Sha256Hex(invalid), invalid);
  EXPECT_NE(Str(At(bad.json, "errors.0.message")).find("nope"), std::string::npos) << bad.body;
  EXPECT_EQ(Str(At(PostPersisted(Sha256Hex(invalid), "").json, "errors.0.message")),
            "PersistedQueryNotFound");
}

TEST_F(PersistedQueryTest, TheStoreKeepsTheMostRecentlyUsed) {
  StartWith({.persisted_query_entries = 2});
  auto q = [](int i) { return "{ a" + std::to_string(i) + ": __typename }"; };
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Str(At(PostPersisted(Sha256Hex(q(i)), q(i)).json, "data.a" + std::to_string(i))),
              "Query");
    if (i == 1) PostPersisted(Sha256Hex(q(0)), "");  // 0 used again: 1 is the oldest now
  }
  EXPECT_EQ(Str(At(PostPersisted(Sha256Hex(q(0)), "").json, "data.a0")), "Query");
  EXPECT_EQ(Str(At(PostPersisted(Sha256Hex(q(1)), "").json, "errors.0.message")),
            "PersistedQueryNotFound");
  EXPECT_EQ(Str(At(PostPersisted(Sha256Hex(q(2)), "").json, "data.a2")), "Query");
}

TEST_F(PersistedQueryTest, AllowlistModeRefusesAdHocDocuments) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("psvc-persisted-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "anime_title.graphql") << kPersistedQuery;
  StartWith({.persisted_dir = dir.string(), .persisted_only = true});
  const std::string hash = Sha256Hex(kPersistedQuery);

  EXPECT_EQ(Str(At(PostPersisted(hash, "").json, "data.anime.title")), "Shingeki no Kyojin");
  EXPECT_EQ(Str(At(GetPersisted(hash).json, "data.anime.title")), "Shingeki no Kyojin");
  // The allowed text itself is not ad hoc.
  EXPECT_EQ(Str(At(Data(kPersistedQuery), "anime.title")), "Shingeki no Kyojin");

  const std::string adhoc = "{ __typename }";
  const std::string refusal =
      "This server runs only persisted documents: send the sha256Hash of an allowed document in "
      "extensions.persistedQuery.";
  HttpResult plain = Post(adhoc);
  EXPECT_EQ(Str(At(plain.json, "errors.0.message")), refusal) << plain.body;
  EXPECT_EQ(Str(At(plain.json, "errors.0.extensions.code")), "PERSISTED_QUERY_ONLY");
  EXPECT_FALSE(plain.json.Find("data"));
  EXPECT_EQ(Post(adhoc, "{}", "application/graphql-response+json").status, 400);
  // Registering is refused too, and leaves nothing behind.
  EXPECT_EQ(Str(At(PostPersisted(Sha256Hex(adhoc), adhoc).json, "errors.0.message")), refusal);
  EXPECT_EQ(Str(At(PostPersisted(Sha256Hex(adhoc), "").json, "errors.0.message")),
            "PersistedQueryNotFound");

  // A document of the folder that does not validate stops start-up, naming the file.
  std::ofstream(dir / "broken.graphql") << "{ nope }";
  try {
    http::Server unstarted(http::ServerOptions{.threads = 1});
    RegisterGraphqlRoutes(
        unstarted, api_,
        {.graphiql = false, .persisted_dir = dir.string(), .persisted_only = true});
    ADD_FAILURE() << "a broken allowlisted document was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("broken.graphql"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace psvc::api

#include "graphql/executor.h"

#include <gtest/gtest.h>

#include "graphql/engine.h"
#include "graphql/testing/anime_schema.h"

namespace psvc::graphql {
namespace {

class AnimeEngineTest : public ::testing::Test {
 protected:
  AnimeEngineTest()
      : schema_(testing::BuildAnimeSchema()),
        data_(testing::LoadAnimeData(testing::DefaultAnimeDataPath())) {}

  std::string Run(std::string_view query, std::string_view variables = {},
                  EngineOptions options = {}) {
    Engine engine(std::shared_ptr<const Schema>(schema_.get(), [](const Schema*) {}), options);
    EngineRequest req;
    req.query = query;
    req.variables_json = variables;
    req.context = data_.get();
    return engine.Execute(req).json;
  }

  std::unique_ptr<Schema> schema_;
  std::unique_ptr<testing::AnimeData> data_;
};

TEST_F(AnimeEngineTest, ResolvesOneBatchPerFieldAndLevel) {
  std::string out = Run("{ allAnime { characters { appearsIn { studios { name } } } } }");
  EXPECT_EQ(out.find("errors"), std::string::npos) << out;
  EXPECT_EQ(data_->resolver_calls["Query.allAnime"], 1);
  EXPECT_EQ(data_->resolver_calls["Anime.characters"], 1);
  EXPECT_EQ(data_->resolver_calls["Character.appearsIn"], 1);
  EXPECT_EQ(data_->resolver_calls["Anime.studios"], 1);
}

TEST_F(AnimeEngineTest, ScalarsAliasesAndTypename) {
  EXPECT_EQ(Run(R"({ a: anime(id: "a1") { __typename title n: episodes score airing type } })"),
            R"({"data":{"a":{"__typename":"Anime","title":"Cowboy Bebop","n":26,"score":8.75,)"
            R"("airing":false,"type":"TV"}}})");
}

TEST_F(AnimeEngineTest, ErrorsHavePathAndLocationAndNullPropagates) {
  // c8 has role BROKEN: Character.role is non-null, characters items are non-null, so the
  // error nulls the nullable `anime` field.
  EXPECT_EQ(Run("{ anime(id: \"a6\") { characters { role } } legacy }"),
            R"({"errors":[{"message":"Enum \"Role\" cannot represent value: \"BROKEN\"",)"
            R"("locations":[{"line":1,"column":34}],"path":["anime","characters",0,"role"]}],)"
            R"("data":{"anime":null,"legacy":"old"}})");
  EXPECT_EQ(
      Run("{ nonNullFailing legacy }"),
      R"({"errors":[{"message":"Cannot return null for non-nullable field Query.nonNullFailing.",)"
      R"("locations":[{"line":1,"column":3}],"path":["nonNullFailing"]}],"data":null})");
  EXPECT_EQ(
      Run("{ failing }"),
      R"({"errors":[{"message":"boom","locations":[{"line":1,"column":3}],"path":["failing"]}],)"
      R"("data":{"failing":null}})");
}

TEST_F(AnimeEngineTest, VariablesAreCoercedFromJson) {
  EXPECT_EQ(
      Run("query ($n: Int, $k: AnimeType, $l: [Int]) { echo(num: $n, kind: $k, list: $l) }",
          R"({"n": 3, "k": "OVA", "l": 4})"),
      R"({"data":{"echo":"{\"num\":3,\"kind\":\"OVA\",\"list\":[4],\"text2\":\"default \\\"quoted\\\"\"}"}})");
  EXPECT_EQ(
      Run("query ($n: Int) { echo(num: $n) }", R"({"n": "x"})"),
      R"({"errors":[{"message":"Variable \"$n\" got invalid value \"x\"; Int cannot represent non-integer value: \"x\"",)"
      R"("locations":[{"line":1,"column":8}]}]})");
  EXPECT_EQ(
      Run("query ($n: Int!) { echo(num: $n) }", "{}"),
      R"({"errors":[{"message":"Variable \"$n\" of required type \"Int!\" was not provided.",)"
      R"("locations":[{"line":1,"column":8}]}]})");
  EXPECT_EQ(Run("{ legacy }", "[1]"),
            R"({"errors":[{"message":"Variables must be a JSON object."}]})");
}

TEST_F(AnimeEngineTest, SkipIncludeAndFragments) {
  EXPECT_EQ(
      Run(R"(query ($s: Boolean!) { anime(id: "a1") { id @skip(if: $s) ...F ... on Node @include(if: $s) { id } } }
                   fragment F on Anime { title })",
          R"({"s": true})"),
      R"({"data":{"anime":{"title":"Cowboy Bebop","id":"a1"}}})");
}

TEST_F(AnimeEngineTest, AbstractTypesResolveFromTypename) {
  EXPECT_EQ(Run(R"({ search(term: "sun") { __typename ... on Studio { name } } })"),
            R"({"data":{"search":[{"__typename":"Studio","name":"Sunrise"}]}})");
}

TEST_F(AnimeEngineTest, MutationsRunSerially) {
  EXPECT_EQ(Run(R"(mutation { a: recordView(id: "a5") b: recordView(id: "a5") })"),
            R"({"data":{"a":1,"b":2}})");
}

TEST_F(AnimeEngineTest, ValidationErrorsAreRequestErrors) {
  EXPECT_EQ(Run("{ nope }"),
            R"({"errors":[{"message":"Cannot query field \"nope\" on type \"Query\".",)"
            R"("locations":[{"line":1,"column":3}]}]})");
  EXPECT_EQ(Run("{ a"), R"({"errors":[{"message":"Syntax Error: Expected Name, found <EOF>.",)"
                        R"("locations":[{"line":1,"column":4}]}]})");
}

TEST_F(AnimeEngineTest, IntrospectionCanBeSwitchedOff) {
  EngineOptions off;
  off.validation.introspection = false;
  EXPECT_NE(Run("{ __schema { queryType { name } } }", {}, off)
                .find(R"(Cannot query field \"__schema\")"),
            std::string::npos);
  EXPECT_EQ(Run("{ __typename }", {}, off), R"({"data":{"__typename":"Query"}})");
  EXPECT_EQ(
      Run("{ __type(name: \"Role\") { kind enumValues { name } } }"),
      R"({"data":{"__type":{"kind":"ENUM","enumValues":[{"name":"MAIN"},{"name":"SUPPORTING"}]}}})");
}

TEST_F(AnimeEngineTest, LimitsAreConfigurable) {
  EngineOptions tight;
  tight.validation.max_depth = 2;
  tight.validation.max_aliases = 1;
  tight.validation.max_cost = 3;
  std::string out = Run(R"({ a: anime(id: "a1") { b: characters { name } } })", {}, tight);
  EXPECT_NE(out.find("Query depth 3 exceeds the maximum of 2."), std::string::npos) << out;
  EXPECT_NE(out.find("Query uses 2 aliases, more than the maximum of 1."), std::string::npos);
  EXPECT_NE(out.find("exceeds the budget of 3."), std::string::npos);
}

// A schema over opaque C++ objects with batched resolvers, as the API layer would write it.
struct Author {
  std::string name;
};
struct Book {
  std::string title;
  int author_index;
};

TEST(ExecutorTest, OpaqueObjectsAndBatchedResolvers) {
  static const std::vector<Author> kAuthors{{"Ann"}, {"Bob"}};
  static const std::vector<Book> kBooks{{"One", 0}, {"Two", 1}, {"Three", 0}};
  int author_batches = 0;
  SchemaBuilder b;
  b.Object("Author").Field("name", "String!",
                           PerParent<Author>([](const Author& a, const ResolveParams&) {
                             return Value(StringRef{a.name});
                           }));
  b.Object("Book").Field("title", "String!",
                         PerParent<Book>([](const Book& x, const ResolveParams&) {
                           return Value(StringRef{x.title});
                         }));
  b.Get("Book").Field("author", "Author", [&](const ResolveParams& p) {
    ++author_batches;  // a data loader would issue one query for all parents here
    std::vector<Value> out;
    for (const Value* parent : p.parents) {
      out.push_back(Value::Borrowed(&kAuthors[parent->As<Book>().author_index]));
    }
    return out;
  });
  b.Object("Query").Field("books", "[Book!]!", [](const ResolveParams& p) {
    ValueList list;
    for (const Book& book : kBooks) list.push_back(Value::Borrowed(&book));
    return std::vector<Value>(p.parents.size(), Value(std::move(list)));
  });
  b.Get("Query").Field("broken", "[Int]", [](const ResolveParams&) {
    return std::vector<Value>{};  // wrong number of results
  });
  auto built = std::move(b).Build();
  ASSERT_TRUE(built.schema) << built.error;
  Engine engine(std::move(built.schema));
  EngineRequest req;
  req.query = "{ books { title author { name } } broken }";
  EngineResponse resp = engine.Execute(req);
  EXPECT_TRUE(resp.has_data);
  EXPECT_EQ(
      resp.json,
      R"({"errors":[{"message":"Resolver for \"Query.broken\" returned 0 results for 1 parents.",)"
      R"("locations":[{"line":1,"column":35}],"path":["broken"]}],)"
      R"("data":{"books":[{"title":"One","author":{"name":"Ann"}},)"
      R"({"title":"Two","author":{"name":"Bob"}},{"title":"Three","author":{"name":"Ann"}}],)"
      R"("broken":null}})");
  EXPECT_EQ(author_batches, 1);
}

TEST(ExecutorTest, LookAheadSeesWhatTheExecutorWillCollect) {
  // A resolver sees every field node merged under its key and can collect their
  // sub-selections per concrete type: aliases, fragments (inline and named, on the member or
  // on the union) and @skip/@include as the executor will apply them.
  std::vector<std::string> seen;
  SchemaBuilder b;
  auto cat = b.Object("Cat");
  cat.Field("id", "ID!");
  cat.Field("name", "String");
  cat.Field("lives", "Int");
  auto dog = b.Object("Dog");
  dog.Field("id", "ID!");
  dog.Field("name", "String");
  b.Union("Pet", "").Member("Cat").Member("Dog");
  b.Object("Query").Field("pet", "Pet", [&](const ResolveParams& p) {
    for (const char* type : {"Cat", "Dog"}) {
      std::string line = std::string(type) + ":";
      for (const auto& [key, nodes] : p.look_ahead.Collect(type, p.nodes)) {
        line += " " + std::string(key) + "=" + std::string(nodes.front()->name) + "x" +
                std::to_string(nodes.size());
      }
      seen.push_back(line);
    }
    return std::vector<Value>(p.parents.size(), Value());
  });
  auto built = std::move(b).Build();
  ASSERT_TRUE(built.schema) << built.error;
  Engine engine(std::move(built.schema));
  EngineRequest req;
  req.query =
      "query($no: Boolean!) { pet { ... on Cat { id n: name } ...D } "
      "pet { ... on Pet { __typename } ... on Cat { id lives @include(if: $no) } } "
      "pet @include(if: $no) { ... on Dog { name } } } "
      "fragment D on Dog { id ... on Dog { name } }";
  req.variables_json = R"({"no": false})";
  EngineResponse resp = engine.Execute(req);
  ASSERT_TRUE(resp.has_data) << resp.json;
  EXPECT_EQ(seen, (std::vector<std::string>{"Cat: id=idx2 n=namex1 __typename=__typenamex1",
                                            "Dog: id=idx1 name=namex1 __typename=__typenamex1"}))
      << resp.json;
}

}  // namespace
}  // namespace psvc::graphql

#include "graphql/schema.h"

#include <gtest/gtest.h>

#include "graphql/testing/anime_schema.h"

namespace psvc::graphql {
namespace {

TEST(SchemaTest, PrintsSdlLikeGraphqlJs) {
  SchemaBuilder b;
  b.Scalar("Date").SpecifiedBy("https://example.com/date");
  b.Enum("Color", "Colours.\nTwo lines.")
      .AddValue("RED")
      .AddValue("BLUE", "", std::string("No longer supported"));
  b.Input("In").InputField("c", "Color", "RED").InputField("n", "[Int!]", "[1, 2]");
  b.Object("Query", "  leading space")
      .Field("a", "String")
      .Arg("x", "In", "{c: BLUE}")
      .Arg("s", "String", "\"q\\\"\"")
      .Deprecated("gone");
  b.QueryType("Query");
  auto r = std::move(b).Build();
  ASSERT_TRUE(r.schema) << r.error;
  EXPECT_EQ(r.schema->PrintSdl(),
            "scalar Date @specifiedBy(url: \"https://example.com/date\")\n\n"
            "\"\"\"\nColours.\nTwo lines.\n\"\"\"\n"
            "enum Color {\n  RED\n  BLUE @deprecated\n}\n\n"
            "input In {\n  c: Color = RED\n  n: [Int!] = [1, 2]\n}\n\n"
            "\"\"\"  leading space\"\"\"\n"
            "type Query {\n  a(x: In = {c: BLUE, n: [1, 2]}, s: String = \"q\\\"\"): String "
            "@deprecated(reason: \"gone\")\n}");
}

TEST(SchemaTest, CustomRootNamesPrintSchemaBlock) {
  SchemaBuilder b;
  b.Object("Root").Field("a", "Int");
  b.QueryType("Root");
  auto r = std::move(b).Build();
  ASSERT_TRUE(r.schema) << r.error;
  EXPECT_EQ(r.schema->PrintSdl(), "schema {\n  query: Root\n}\n\ntype Root {\n  a: Int\n}");
}

TEST(SchemaTest, BuildRejectsBadDefinitions) {
  auto error_of = [](auto define) {
    SchemaBuilder b;
    define(b);
    return std::move(b).Build().error;
  };
  EXPECT_NE(
      error_of([](SchemaBuilder& b) { b.Object("Query").Field("a", "Nope"); }).find("unknown type"),
      std::string::npos);
  EXPECT_NE(error_of([](SchemaBuilder& b) {
              b.Object("Query").Field("a", "Int");
              b.Object("Query").Field("b", "Int");
            }).find("more than once"),
            std::string::npos);
  EXPECT_NE(error_of([](SchemaBuilder& b) {
              b.Input("In").InputField("x", "Int");
              b.Object("Query").Field("a", "In");
            }).find("not an output type"),
            std::string::npos);
  EXPECT_NE(error_of([](SchemaBuilder& b) {
              b.Interface("Node").Field("id", "ID!");
              b.Object("Query").Implements("Node").Field("a", "Int");
            }).find("does not provide"),
            std::string::npos);
  EXPECT_NE(error_of([](SchemaBuilder& b) {
              b.Object("Query").Field("a", "Int").Arg("x", "Int", "\"s\"");
            }).find("bad default"),
            std::string::npos);
  EXPECT_NE(
      error_of([](SchemaBuilder& b) { b.Object("Other").Field("a", "Int"); }).find("\"Query\""),
      std::string::npos);
}

TEST(SchemaTest, TypeOrderFollowsGraphqlJs) {
  auto schema = testing::BuildAnimeSchema();
  std::vector<std::string> names;
  for (const Type* t : schema->types()) names.push_back(t->name);
  ASSERT_GE(names.size(), 7u);
  EXPECT_EQ(names[0], "Node");
  EXPECT_EQ(names[1], "ID");
  EXPECT_EQ(names[2], "UUID");
  EXPECT_EQ(names.back(), "__DirectiveLocation");
}

TEST(SchemaTest, LookupsAndWrappers) {
  auto schema = testing::BuildAnimeSchema();
  const Type* anime = schema->FindType("Anime");
  ASSERT_TRUE(anime);
  EXPECT_EQ(anime->FindField("characters")->type->ToString(), "[Character!]!");
  EXPECT_EQ(anime->FindField("characters")->FindArg("first")->default_value, Value(int64_t{10}));
  EXPECT_TRUE(schema->FindType("Node")->IsPossibleType(anime));
  EXPECT_TRUE(schema->FindType("SearchResult")->IsPossibleType(anime));
  EXPECT_FALSE(schema->FindType("SearchResult")->IsPossibleType(schema->FindType("Query")));
  EXPECT_TRUE(schema->FindField(schema->query_type(), "__schema", true));
  EXPECT_FALSE(schema->FindField(schema->query_type(), "__schema", false));
  EXPECT_FALSE(schema->FindField(anime, "__schema", true));
  EXPECT_TRUE(schema->FindField(anime, "__typename", false));
}

TEST(SchemaTest, PrintLiteral) {
  auto schema = testing::BuildAnimeSchema();
  const Type* id = schema->FindType("ID");
  EXPECT_EQ(PrintLiteral(Value("12"), id), "12");
  EXPECT_EQ(PrintLiteral(Value("012"), id), "\"012\"");
  EXPECT_EQ(PrintLiteral(Value(1.5), schema->FindType("Float")), "1.5");
  EXPECT_EQ(PrintStringLiteral("a\"\n\x01"), "\"a\\\"\\n\\u0001\"");
}

}  // namespace
}  // namespace psvc::graphql

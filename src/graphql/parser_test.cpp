#include "graphql/parser.h"

#include <gtest/gtest.h>

namespace psvc::graphql {
namespace {

TEST(ParserTest, OperationsVariablesAndSelections) {
  auto r = Parse(R"(
    query Q($id: ID! = "x", $list: [[Int!]]) @dir {
      alias: field(a: $id, b: [1, 2.5, "s", true, null, ENUM, {k: $list}]) @skip(if: false) {
        ...Frag
        ... on T { x }
        ... @include(if: true) { y }
      }
    }
    fragment Frag on T { z }
    mutation { m }
    subscription S { s }
  )");
  ASSERT_FALSE(r.error) << r.error->message;
  const Document& d = *r.document;
  ASSERT_EQ(d.operations.size(), 3u);
  ASSERT_EQ(d.fragments.size(), 1u);
  EXPECT_EQ(d.order, (std::vector<int32_t>{0, ~0, 1, 2}));
  const OperationNode& q = d.operations[0];
  EXPECT_EQ(q.name, "Q");
  EXPECT_EQ(q.loc, (SourceLocation{2, 5}));
  ASSERT_EQ(q.variables.size(), 2u);
  EXPECT_EQ(q.variables[0].type.kind, TypeNode::Kind::kNonNull);
  EXPECT_EQ(q.variables[0].default_value->string, "x");
  EXPECT_EQ(q.variables[1].type.kind, TypeNode::Kind::kList);
  EXPECT_EQ(q.variables[1].type.of->of->of->name, "Int");
  const SelectionNode& f = q.selections[0];
  EXPECT_EQ(f.alias, "alias");
  EXPECT_EQ(f.name, "field");
  EXPECT_EQ(f.ResponseKey(), "alias");
  ASSERT_EQ(f.arguments.size(), 2u);
  const ValueNode& list = f.arguments[1].value;
  ASSERT_EQ(list.list.size(), 7u);
  EXPECT_EQ(list.list[0].kind, ValueNodeKind::kInt);
  EXPECT_EQ(list.list[1].kind, ValueNodeKind::kFloat);
  EXPECT_EQ(list.list[2].kind, ValueNodeKind::kString);
  EXPECT_EQ(list.list[3].kind, ValueNodeKind::kBoolean);
  EXPECT_EQ(list.list[4].kind, ValueNodeKind::kNull);
  EXPECT_EQ(list.list[5].kind, ValueNodeKind::kEnum);
  EXPECT_EQ(list.list[6].fields[0].value.kind, ValueNodeKind::kVariable);
  ASSERT_EQ(f.selections.size(), 3u);
  EXPECT_EQ(f.selections[0].kind, SelectionNode::Kind::kFragmentSpread);
  EXPECT_EQ(f.selections[1].type_condition, "T");
  EXPECT_EQ(f.selections[2].type_condition, "");
  EXPECT_EQ(f.selections[2].directives[0].name, "include");
  EXPECT_EQ(d.operations[1].operation, OperationType::kMutation);
  EXPECT_EQ(d.operations[2].operation, OperationType::kSubscription);
}

TEST(ParserTest, SyntaxErrorsHaveLocations) {
  struct Case {
    const char* src;
    const char* message;
    SourceLocation loc;
  };
  for (const Case& c : {
           Case{"{ a", "Syntax Error: Expected Name, found <EOF>.", {1, 4}},
           Case{"", "Syntax Error: Unexpected <EOF>.", {1, 1}},
           Case{"{ a(b) }", "Syntax Error: Expected \":\", found \")\".", {1, 6}},
           Case{"query ($a: Int = $b) { a }",
                "Syntax Error: Unexpected variable \"$b\" in constant value.",
                {1, 18}},
           Case{"fragment on on T { a }", "Syntax Error: Unexpected Name \"on\".", {1, 10}},
           Case{"fragment F T { a }", "Syntax Error: Expected \"on\", found Name \"T\".", {1, 12}},
           Case{"type T { a: Int }",
                "Syntax Error: The \"type\" definition is not executable.",
                {1, 1}},
           Case{"{ }", "Syntax Error: Expected Name, found \"}\".", {1, 3}},
       }) {
    auto r = Parse(c.src);
    ASSERT_TRUE(r.error) << c.src;
    EXPECT_EQ(r.error->message, c.message) << c.src;
    EXPECT_EQ(r.error->locations[0], c.loc) << c.src;
  }
}

TEST(ParserTest, NestingLimitStopsDeepDocuments) {
  std::string deep(200, '[');
  auto r = Parse("{ a(x: " + deep + ") }");
  ASSERT_TRUE(r.error);
  EXPECT_NE(r.error->message.find("nesting"), std::string::npos);
  std::string sel;
  for (int i = 0; i < 200; ++i) sel += "{ a ";
  r = Parse(sel);
  ASSERT_TRUE(r.error);
}

TEST(ParserTest, TokenLimitIsConfigurable) {
  ParseOptions options;
  options.lexer.max_tokens = 5;
  auto r = Parse("{ a b c d e f }", options);
  ASSERT_TRUE(r.error);
  EXPECT_NE(r.error->message.find("more than 5 tokens"), std::string::npos);
}

TEST(ParserTest, ConstValueAndTypeHelpers) {
  auto v = ParseConstValue("{a: [1, \"x\"]}");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->node.fields[0].value.list.size(), 2u);
  EXPECT_FALSE(ParseConstValue("$x"));
  auto t = ParseTypeReference("[ID!]!");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->node.kind, TypeNode::Kind::kNonNull);
  EXPECT_FALSE(ParseTypeReference("[ID"));
}

TEST(ParserTest, DocumentOwnsItsSource) {
  ParseResult r;
  {
    std::string src = "{ shortName }";
    r = Parse(src);
    src.assign("xxxxxxxxxxxxx");
  }
  auto doc = std::move(r.document);
  EXPECT_EQ(doc->operations[0].selections[0].name, "shortName");
}

}  // namespace
}  // namespace psvc::graphql

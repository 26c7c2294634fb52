// The JSON reader and the GraphQL-over-HTTP parameter decoder: bounded depth without
// recursion, linear cost, JSON.parse's duplicate-key rule, nothing accepted after the document.
#include "graphql/request_params.h"

#include <gtest/gtest.h>

#include <string>

#include "graphql/json.h"

namespace psvc::graphql {
namespace {

std::string Json(const Value& v) {
  std::string out;
  AppendJson(out, v);
  return out;
}

std::string Error(std::string_view text) {
  std::string why;
  auto v = ParseJson(text, &why);
  EXPECT_FALSE(v.has_value()) << text.substr(0, 80);
  return why;
}

TEST(ParseJson, ReadsEveryKindOfValue) {
  std::string why;
  auto v = ParseJson(R"({"a":[1,-2,3.5,true,false,null,"x\u00e9\n"],"b":{}})", &why);
  ASSERT_TRUE(v) << why;
  EXPECT_EQ(Json(*v), R"({"a":[1,-2,3.5,true,false,null,"xé\n"],"b":{}})");
  // Integers beyond int64 become doubles; int64's extremes stay exact.
  v = ParseJson("[9223372036854775807,-9223372036854775808,18446744073709551615]", &why);
  ASSERT_TRUE(v) << why;
  EXPECT_EQ(v->AsList()[0].storage().index(), Value(int64_t{1}).storage().index());
  EXPECT_EQ(Json(v->AsList()[0]), "9223372036854775807");
  EXPECT_EQ(Json(v->AsList()[1]), "-9223372036854775808");
  EXPECT_EQ(Json(v->AsList()[2]), "18446744073709552000");
  // A zero significand with any exponent is zero.
  v = ParseJson("[0e99,-0e-400,0.0e+5,0E0]", &why);
  ASSERT_TRUE(v) << why;
  for (const Value& zero : v->AsList()) EXPECT_EQ(Json(zero), "0");
  // Doubles are correctly rounded; underflow is zero, overflow an error (as before).
  v = ParseJson("[0.1,1e-400,2.2250738585072014e-308,1.7976931348623157e308,123456789012345678901]",
                &why);
  ASSERT_TRUE(v) << why;
  EXPECT_EQ(Json(*v),
            "[0.1,0,2.2250738585072014e-308,1.7976931348623157e+308,123456789012345680000]");
  EXPECT_NE(Error("[1e400]").find("too big"), std::string::npos);
  // Whitespace around the document is fine.
  EXPECT_TRUE(ParseJson(" \n\t{} \r\n", &why)) << why;
}

TEST(ParseJson, DuplicateKeysKeepTheFirstPositionAndTheLastValueLikeJsonParse) {
  std::string why;
  auto small = ParseJson(R"({"a":1,"b":2,"a":3})", &why);
  ASSERT_TRUE(small) << why;
  EXPECT_EQ(Json(*small), R"({"a":3,"b":2})");
  // Larger objects take the hashed path; same rule.
  std::string text = "{";
  for (int i = 0; i < 50; ++i)
    text += "\"k" + std::to_string(i % 20) + "\":" + std::to_string(i) + ",";
  text += "\"last\":true}";
  auto big = ParseJson(text, &why);
  ASSERT_TRUE(big) << why;
  const ValueMap& m = big->AsMap();
  ASSERT_EQ(m.size(), 21u);
  for (int k = 0; k < 20; ++k) {
    EXPECT_EQ(m[k].first, "k" + std::to_string(k));
    EXPECT_EQ(Json(m[k].second), std::to_string(k + (k < 10 ? 40 : 20)));
  }
  EXPECT_EQ(m[20].first, "last");
  // A key that is empty or contains a NUL is a key like any other.
  auto odd =
      ParseJson(R"({"":1,"a\u0000b":2,"":3,"a\u0000b":4,"c":5,"d":6,"e":7,"f":8,"g":9})", &why);
  ASSERT_TRUE(odd) << why;
  EXPECT_EQ(odd->AsMap().size(), 7u);
  EXPECT_EQ(Json(odd->AsMap()[0].second), "3");
  EXPECT_EQ(odd->AsMap()[1].first, std::string("a\0b", 3));
}

TEST(ParseJson, NestingIsBoundedWithoutRecursion) {
  std::string ok(64, '[');
  ok += std::string(64, ']');
  std::string why;
  EXPECT_TRUE(ParseJson(ok, &why)) << why;
  std::string over(65, '[');
  over += std::string(65, ']');
  EXPECT_NE(Error(over).find("nests deeper than 64"), std::string::npos);
  // Far deeper than any call stack could recurse: refused the same way, quickly.
  std::string deep(1 << 20, '[');
  EXPECT_NE(Error(deep).find("nests deeper than 64"), std::string::npos);
  std::string objects;
  for (int i = 0; i < 200000; ++i) objects += "{\"a\":";
  EXPECT_NE(Error(objects).find("nests deeper than 64"), std::string::npos);
}

TEST(ParseJson, RefusesWhatJsonParseRefusesAndJunkAfterTheDocument) {
  EXPECT_NE(Error(R"({"query":"{ __typename }"} xyz)").find("Invalid JSON"), std::string::npos);
  EXPECT_NE(Error("{}{}").find("Invalid JSON"), std::string::npos);
  EXPECT_NE(Error("").find("Invalid JSON"), std::string::npos);
  EXPECT_NE(Error("{\"a\":1,}").find("Invalid JSON"), std::string::npos);
  EXPECT_NE(Error("[1,2").find("Invalid JSON"), std::string::npos);
  EXPECT_NE(Error("\"\xff\"").find("Invalid JSON"), std::string::npos);     // not UTF-8
  EXPECT_NE(Error("\"\\ud800\"").find("Invalid JSON"), std::string::npos);  // lone surrogate
  EXPECT_NE(Error("NaN").find("Invalid JSON"), std::string::npos);
  EXPECT_NE(Error("{'a':1}").find("Invalid JSON"), std::string::npos);
}

TEST(ParseJson, ValuesAreCountedAgainstTheLimit) {
  std::string why;
  EXPECT_TRUE(ParseJson("[1,[2,3],{\"a\":4}]", &why, JsonLimits{.max_values = 7})) << why;
  EXPECT_FALSE(ParseJson("[1,[2,3],{\"a\":4}]", &why, JsonLimits{.max_values = 6}));
  EXPECT_NE(why.find("holds more than 6 values"), std::string::npos) << why;
  std::string many = "{\"query\":\"{ a }\",\"variables\":{\"v\":[0";
  for (size_t i = 1; i < kMaxRequestJsonValues; ++i) many += ",0";
  many += "]}}";
  EXPECT_NE(DecodeJsonBody(many).error.find("holds more than 20000 values"), std::string::npos);
  std::string wide = "{\"query\":\"{ a }\"";
  for (int i = 0; i < 100000; ++i) wide += ",\"k" + std::to_string(i) + "\":1";
  EXPECT_NE(DecodeJsonBody(wide + "}").error.find("holds more than 20000 values"),
            std::string::npos);
}

TEST(DecodeJsonBody, ChecksTheParameters) {
  auto p = DecodeJsonBody(R"({"query":"{ a }","operationName":"Q","variables":{"x":1},
                             "extensions":{"tracing":true}})");
  EXPECT_EQ(p.error, "");
  EXPECT_EQ(Json(*p.extensions), R"({"tracing":true})");
  EXPECT_EQ(p.persisted_query_hash, "");
  EXPECT_EQ(*p.query, "{ a }");
  EXPECT_EQ(p.operation_name, "Q");
  EXPECT_EQ(Json(*p.variables), R"({"x":1})");
  EXPECT_EQ(DecodeJsonBody("").error, "The request body is empty.");
  EXPECT_EQ(DecodeJsonBody("[]").error, "The request body must be a JSON object.");
  EXPECT_EQ(DecodeJsonBody("{}").error, "The request has no `query` parameter.");
  EXPECT_EQ(DecodeJsonBody(R"({"query":1})").error, "The `query` parameter must be a string.");
  EXPECT_EQ(DecodeJsonBody(R"({"query":"","operationName":1})").error,
            "The `operationName` parameter must be a string or null.");
  EXPECT_EQ(DecodeJsonBody(R"({"query":"","variables":[]})").error,
            "The `variables` parameter must be an object or null.");
  EXPECT_EQ(DecodeJsonBody(R"({"query":"","extensions":"x"})").error,
            "The `extensions` parameter must be an object or null.");
  EXPECT_NE(DecodeJsonBody(R"({"query":"{ a }"} x)").error.find("not valid JSON"),
            std::string::npos);
  auto nulls = DecodeJsonBody(R"({"query":"{ a }","operationName":null,"variables":null})");
  EXPECT_EQ(nulls.error, "");
  EXPECT_FALSE(nulls.variables);
}

TEST(DecodeJsonBody, ReadsAPersistedQueryReference) {
  const std::string hash(64, 'A');
  auto only_hash = DecodeJsonBody(R"({"extensions":{"persistedQuery":{"version":1,"sha256Hash":")" +
                                  hash + R"("}}})");
  EXPECT_EQ(only_hash.error, "");  // no `query` needed with a hash
  EXPECT_FALSE(only_hash.query);
  EXPECT_EQ(only_hash.persisted_query_hash, std::string(64, 'a'));
  auto both = DecodeJsonBody(
      R"({"query":"{ a }","extensions":{"persistedQuery":{"version":1,"sha256Hash":")" + hash +
      R"("}}})");
  EXPECT_EQ(*both.query, "{ a }");
  EXPECT_EQ(both.persisted_query_hash, std::string(64, 'a'));
  EXPECT_EQ(DecodeJsonBody(R"({"extensions":{"persistedQuery":{}}})").error,
            "extensions.persistedQuery: only version 1 is supported.");
  EXPECT_EQ(
      DecodeJsonBody(R"({"extensions":{"persistedQuery":{"version":1,"sha256Hash":"xyz"}}})").error,
      "extensions.persistedQuery.sha256Hash must be 64 hexadecimal digits.");
  EXPECT_EQ(DecodeJsonBody(R"({"extensions":{"other":1}})").error,
            "The request has no `query` parameter.");
  auto get = DecodeQueryString(
      "extensions=%7B%22persistedQuery%22%3A%7B%22version%22%3A1%2C%22sha256Hash%22%3A%22" + hash +
      "%22%7D%7D");
  EXPECT_EQ(get.error, "");
  EXPECT_EQ(get.persisted_query_hash, std::string(64, 'a'));
  EXPECT_EQ(DecodeQueryString("query=a&extensions=%7B%22persistedQuery%22%3A1%7D").error,
            "extensions.persistedQuery: only version 1 is supported.");
}

TEST(DecodeQueryString, DecodesFormEncodingAndBoundsItsJson) {
  auto p = DecodeQueryString("query=%7B+a+%7D&operationName=Q&variables=%7B%22x%22%3A1%7D");
  EXPECT_EQ(p.error, "");
  EXPECT_EQ(*p.query, "{ a }");
  EXPECT_EQ(p.operation_name, "Q");
  EXPECT_EQ(Json(*p.variables), R"({"x":1})");
  // The first of a repeated parameter counts.
  auto twice = DecodeQueryString("query=a&query=b&operationName=X&operationName=Y");
  EXPECT_EQ(*twice.query, "a");
  EXPECT_EQ(twice.operation_name, "X");
  EXPECT_EQ(DecodeQueryString("variables=%7B%7D").error, "The request has no `query` parameter.");
  EXPECT_FALSE(DecodeQueryString("").query);
  EXPECT_NE(DecodeQueryString("query=a&variables=%5B1%5D").error.find("must be a JSON object"),
            std::string::npos);
  std::string deep = "query=a&extensions=";
  for (int i = 0; i < 1000; ++i) deep += "%5B";
  EXPECT_NE(DecodeQueryString(deep).error.find("nests deeper than 64"), std::string::npos);
  EXPECT_EQ(DecodeQueryString("query=a&variables=&extensions=null").error, "");
}

}  // namespace
}  // namespace psvc::graphql

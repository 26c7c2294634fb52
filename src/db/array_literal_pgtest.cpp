#include "db/array_literal.h"

#include <gtest/gtest.h>

#include "testing/test_database.h"

namespace psvc::db {
namespace {

TEST(ArrayLiteral, EveryTextRoundTripsThroughPostgres) {
  testing::TestDatabase tdb;
  auto conn = tdb.Connect();
  std::vector<std::optional<std::string>> items = {
      "plain", "with,comma", "quote\"inside", "back\\slash", "{braces}", "", " spaced ",
      "NULL", std::nullopt, "日本語", "'; DROP TABLE anime; --"};
  auto r = conn.Query("SELECT x, x IS NULL FROM unnest($1::text[]) WITH ORDINALITY AS t(x, i) ORDER BY i",
                      {ArrayLiteral(items)});
  ASSERT_EQ(r.rows(), static_cast<int>(items.size()));
  for (int i = 0; i < r.rows(); ++i) {
    if (items[i]) {
      EXPECT_FALSE(r.GetBool(i, 1)) << i;
      EXPECT_EQ(r.Get(i, 0), *items[i]) << i;
    } else {
      EXPECT_TRUE(r.GetBool(i, 1)) << i;
    }
  }
  EXPECT_EQ(conn.Query("SELECT cardinality($1::text[])", {ArrayLiteral(std::vector<std::string>{})})
                .GetInt64(0, 0),
            0);
}

}  // namespace
}  // namespace psvc::db

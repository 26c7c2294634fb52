#include "ids/uuid.h"

#include <gtest/gtest.h>

namespace psvc::ids {
namespace {

TEST(CanonicalUuid, AcceptsCanonicalAndUpperCase) {
  EXPECT_EQ(CanonicalUuid("123e4567-e89b-12d3-a456-426614174000"),
            "123e4567-e89b-12d3-a456-426614174000");
  EXPECT_EQ(CanonicalUuid("123E4567-E89B-12D3-A456-426614174000"),
            "123e4567-e89b-12d3-a456-426614174000");
}

TEST(CanonicalUuid, RejectsEverythingElse) {
  for (const char* bad :
       {"", "abc", "123e4567e89b12d3a456426614174000", "{123e4567-e89b-12d3-a456-426614174000}",
        " 123e4567-e89b-12d3-a456-42661417400", "123e4567-e89b-12d3-a456-42661417400g",
        "123e4567-e89b-12d3-a456_426614174000", "'; DROP TABLE anime; --",
        "123e4567-e89b-12d3-a456-4266141740000"}) {
    EXPECT_FALSE(CanonicalUuid(bad).has_value()) << bad;
  }
  EXPECT_FALSE(CanonicalUuid(std::string_view("123e4567-e89b-12d3-a456-42661417400\0", 36)));
}

TEST(QuoteForMessage, EscapesAndTruncates) {
  EXPECT_EQ(QuoteForMessage("a'b\n"), "'a\\x27b\\x0a'");
  EXPECT_EQ(QuoteForMessage(std::string(50, 'x'), 4), "'xxxx...'");
}

TEST(RandomUuid, IsCanonicalVersion4AndDoesNotRepeat) {
  const std::string a = RandomUuid(), b = RandomUuid();
  EXPECT_EQ(CanonicalUuid(a), a);
  EXPECT_EQ(a[14], '4');
  EXPECT_NE(std::string("89ab").find(a[19]), std::string::npos) << a;
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace psvc::ids

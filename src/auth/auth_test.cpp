#include "auth/auth.h"

#include <gtest/gtest.h>

namespace psvc::api {
namespace {

TEST(BearerTokens, AcceptsOnlyAConfiguredTokenWithTheBearerScheme) {
  BearerTokens t({"0123456789abcdef", "fedcba9876543210-second"});
  EXPECT_TRUE(t.enabled());
  EXPECT_TRUE(t.Accepts("Bearer 0123456789abcdef"));
  EXPECT_TRUE(t.Accepts("bearer fedcba9876543210-second"));
  EXPECT_FALSE(t.Accepts("Bearer 0123456789abcde"));    // prefix
  EXPECT_FALSE(t.Accepts("Bearer 0123456789abcdefX"));  // longer
  EXPECT_FALSE(t.Accepts("0123456789abcdef"));          // no scheme
  EXPECT_FALSE(t.Accepts("Basic 0123456789abcdef"));
  EXPECT_FALSE(t.Accepts(""));
  EXPECT_FALSE(t.Accepts("Bearer "));
  EXPECT_FALSE(BearerTokens().enabled());
}

TEST(BearerTokens, WeakTokensAreRefusedAtStartUp) {
  EXPECT_THROW(BearerTokens({"short"}), std::invalid_argument);
  EXPECT_THROW(BearerTokens({"has a space in it ok"}), std::invalid_argument);
}

TEST(SplitTokens, TrimsAndDropsEmptyItems) {
  EXPECT_EQ(SplitTokens(" a , b,,c "), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(SplitTokens("").empty());
}

}  // namespace
}  // namespace psvc::api

#include "db/error.h"

#include <gtest/gtest.h>

namespace psvc::db {
namespace {

TEST(ClassifySqlState, MapsEachFamilyOnce) {
  EXPECT_EQ(ClassifySqlState("57014"), ErrorKind::kTimeout);
  EXPECT_EQ(ClassifySqlState("40001"), ErrorKind::kSerialization);
  EXPECT_EQ(ClassifySqlState("40P01"), ErrorKind::kSerialization);
  EXPECT_EQ(ClassifySqlState("23505"), ErrorKind::kConflict);
  EXPECT_EQ(ClassifySqlState("23514"), ErrorKind::kInvalidInput);  // check_violation
  EXPECT_EQ(ClassifySqlState("23503"), ErrorKind::kInvalidInput);  // foreign_key_violation
  EXPECT_EQ(ClassifySqlState("22P02"), ErrorKind::kInvalidInput);  // invalid_text_representation
  EXPECT_EQ(ClassifySqlState("08006"), ErrorKind::kUnavailable);
  EXPECT_EQ(ClassifySqlState("57P01"), ErrorKind::kUnavailable);
  EXPECT_EQ(ClassifySqlState("42P01"), ErrorKind::kInternal);  // undefined_table: a bug
  EXPECT_EQ(ClassifySqlState(""), ErrorKind::kInternal);
  EXPECT_EQ(ClassifySqlState("5701"), ErrorKind::kInternal);
}

TEST(ClassifySqlState, NamesAreStable) {
  EXPECT_EQ(ToString(ErrorKind::kTimeout), "timeout");
  EXPECT_EQ(ToString(ErrorKind::kPoolExhausted), "pool_exhausted");
}

}  // namespace
}  // namespace psvc::db

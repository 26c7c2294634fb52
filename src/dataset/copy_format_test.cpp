#include "dataset/copy_format.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace psvc::dataset {
namespace {

TEST(CopyLineBuilder, EscapesSpecialCharactersAndNulls) {
  CopyLineBuilder b;
  b.Text("tab\there");
  b.Text("new\nline\r");
  b.Text("back\\slash");
  b.Null();
  b.Text("\\N");  // the text "\N" is not NULL
  EXPECT_EQ(b.line(), "tab\\there\tnew\\nline\\r\tback\\\\slash\t\\N\t\\\\N");
}

TEST(CopyLineBuilder, NumbersAndDates) {
  CopyLineBuilder b;
  b.Int(-42);
  b.Fixed(705, 2);
  b.Fixed(1000, 2);
  b.Fixed(7, 2);
  b.Date(1998, 4, 3);
  EXPECT_EQ(b.line(), "-42\t7.05\t10.00\t0.07\t1998-04-03");
}

TEST(CopyLineBuilder, TextArrayQuotesElementsThenEscapesForCopy) {
  CopyLineBuilder b;
  const std::vector<std::string> values = {"plain", "with \"quote\"", "back\\slash", "a,b"};
  b.TextArray(values);
  // Array layer: {"plain","with \"quote\"","back\\slash","a,b"}; COPY doubles each backslash.
  EXPECT_EQ(b.line(), R"({"plain","with \\"quote\\"","back\\\\slash","a,b"})");
  b.Clear();
  b.TextArray({});
  EXPECT_EQ(b.line(), "{}");
}

TEST(ParseCopyLine, RoundTrips) {
  CopyLineBuilder b;
  b.Text("a\tb\\c\nd");
  b.Null();
  b.Text("");
  b.Text("Café ō");
  const auto fields = ParseCopyLine(b.line());
  ASSERT_EQ(fields.size(), 4u);
  EXPECT_EQ(fields[0], "a\tb\\c\nd");
  EXPECT_FALSE(fields[1].has_value());
  EXPECT_EQ(fields[2], "");
  EXPECT_EQ(fields[3], "Café ō");
}

}  // namespace
}  // namespace psvc::dataset

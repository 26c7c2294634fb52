#include "db/binary_copy.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace psvc::db {
namespace {

std::string Be16(int v) {
  return {static_cast<char>((v >> 8) & 0xFF), static_cast<char>(v & 0xFF)};
}
std::string Be32(int64_t v) {
  std::string out;
  for (int s = 24; s >= 0; s -= 8) out += static_cast<char>((v >> s) & 0xFF);
  return out;
}
std::string Header() { return std::string("PGCOPY\n\377\r\n\0", 11) + Be32(0) + Be32(0); }
std::string Field(const std::string& bytes) {
  return Be32(static_cast<int64_t>(bytes.size())) + bytes;
}

struct Seen {
  std::vector<std::string> text;
  std::vector<int32_t> ints;
  std::vector<bool> nulls;
};

// Two rows (an int4 and a text, then an int4 and a NULL) and the trailer, as PostgreSQL sends
// them: the header with the first row, the trailer alone.
std::vector<std::string> Chunks() {
  return {Header() + Be16(2) + Field(Be32(-7)) + Field("Bones"),
          Be16(2) + Field(Be32(2003)) + Be32(-1), Be16(-1)};
}

Seen ParseAll(const std::vector<std::string>& chunks) {
  Seen seen;
  BinaryCopyParser parser;
  for (const auto& c : chunks) {
    parser.Feed(c, [&](const BinaryRow& row) {
      EXPECT_EQ(row.fields, 2);
      seen.ints.push_back(row.Int32(0));
      seen.text.emplace_back(row.Text(1));
      seen.nulls.push_back(row.null[1]);
    });
  }
  parser.Finish();
  return seen;
}

TEST(BinaryCopyParser, ReadsRowsFieldsAndNulls) {
  auto seen = ParseAll(Chunks());
  EXPECT_EQ(seen.ints, (std::vector<int32_t>{-7, 2003}));
  EXPECT_EQ(seen.text, (std::vector<std::string>{"Bones", ""}));
  EXPECT_EQ(seen.nulls, (std::vector<bool>{false, true}));
}

TEST(BinaryCopyParser, PutsTogetherRowsSplitAnywhere) {
  std::string all;
  for (const auto& c : Chunks()) all += c;
  for (size_t cut = 1; cut < all.size(); ++cut) {
    auto seen = ParseAll({all.substr(0, cut), all.substr(cut)});
    EXPECT_EQ(seen.ints, (std::vector<int32_t>{-7, 2003})) << "cut at " << cut;
    EXPECT_EQ(seen.text, (std::vector<std::string>{"Bones", ""})) << "cut at " << cut;
  }
  std::vector<std::string> bytes;
  for (char c : all) bytes.emplace_back(1, c);
  EXPECT_EQ(ParseAll(bytes).ints, (std::vector<int32_t>{-7, 2003}));
}

TEST(BinaryCopyParser, RejectsTruncatedAndForeignData) {
  auto chunks = Chunks();
  chunks.pop_back();  // no trailer
  EXPECT_THROW(ParseAll(chunks), DbError);
  EXPECT_THROW(ParseAll({"a,b\n"}), DbError);  // text COPY output
  EXPECT_THROW(ParseAll({Header() + Be16(2) + Field(Be32(1)) + Field("abc") + Be16(-1) + "x"}),
               DbError);  // data after the trailer
}

TEST(BinaryRow, ChecksUuidAndIntWidths) {
  BinaryCopyParser parser;
  bool called = false;
  parser.Feed(Header() + Be16(2) + Field(std::string(16, 'u')) + Field("12345"),
              [&](const BinaryRow& row) {
                called = true;
                EXPECT_EQ(row.Uuid(0).size(), 16u);
                EXPECT_THROW(row.Uuid(1), DbError);
                EXPECT_THROW(row.Int32(1), DbError);
              });
  EXPECT_TRUE(called);
}

}  // namespace
}  // namespace psvc::db

#include "graph/labels.h"

#include <gtest/gtest.h>

namespace psvc::graph {
namespace {

/// True when `s` is well-formed UTF-8 (what protobuf string fields require).
bool ValidUtf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

TEST(BoundLabel, ShortTextIsKeptAndControlCharactersBecomeSpaces) {
  EXPECT_EQ(BoundLabel("Fullmetal Alchemist"), "Fullmetal Alchemist");
  EXPECT_EQ(BoundLabel("Line one\nline\ttwo\x7f"), "Line one line two ");
  EXPECT_EQ(BoundLabel(""), "");
  const std::string exact(kMaxLabelBytes, 'x');
  EXPECT_EQ(BoundLabel(exact), exact);
}

TEST(BoundLabel, LongTextIsCutAtACharacterBoundaryWithAnEllipsis) {
  const std::string ascii(300, 'a');
  auto cut = BoundLabel(ascii);
  EXPECT_EQ(cut.size(), kMaxLabelBytes);
  EXPECT_EQ(cut, std::string(kMaxLabelBytes - 3, 'a') + "\xE2\x80\xA6");

  // "鋼" is 3 bytes: 40 of them are exactly 120 bytes (kept), 41 are cut to 39 + "…".
  std::string kanji;
  for (int i = 0; i < 40; ++i) kanji += "\xE9\x8B\xBC";
  EXPECT_EQ(BoundLabel(kanji), kanji);
  auto cut_kanji = BoundLabel(kanji + "\xE9\x8B\xBC");
  EXPECT_EQ(cut_kanji, kanji.substr(0, 39 * 3) + "\xE2\x80\xA6");
  EXPECT_TRUE(ValidUtf8(cut_kanji));

  // Every cut point of a mixed text stays valid UTF-8 and within the bound.
  std::string mixed;
  for (int i = 0; i < 60; ++i) mixed += i % 3 ? "e\xCC\x81" : "\xF0\x9F\x8E\x8C";
  for (size_t len = 0; len <= mixed.size(); ++len) {
    auto b = BoundLabel(mixed.substr(0, len));
    EXPECT_LE(b.size(), kMaxLabelBytes);
    if (ValidUtf8(mixed.substr(0, len))) {
      EXPECT_TRUE(ValidUtf8(b)) << len;
    }
  }
}

TEST(AnimeTypeLabel, KnownTypesAsStoredAnythingElseIsUnknown) {
  EXPECT_EQ(AnimeTypeLabel("TV"), "TV");
  EXPECT_EQ(AnimeTypeLabel("MOVIE"), "MOVIE");
  EXPECT_EQ(AnimeTypeLabel("UNKNOWN"), "UNKNOWN");
  EXPECT_EQ(AnimeTypeLabel(""), "UNKNOWN");
  EXPECT_EQ(AnimeTypeLabel("tv"), "UNKNOWN");
}

TEST(DescribeAnime, TypeAndYearWhenKnown) {
  const std::string id = "de0a0000-0000-4000-8000-000000000001";
  EXPECT_EQ(DescribeAnime({"Fullmetal Alchemist", "TV", 2003}, id),
            "Fullmetal Alchemist (TV, 2003)");
  EXPECT_EQ(DescribeAnime({"Shamballa", "MOVIE", 0}, id), "Shamballa (MOVIE)");
  EXPECT_EQ(DescribeAnime({"Mystery", "UNKNOWN", 1999}, id), "Mystery (1999)");
  EXPECT_EQ(DescribeAnime({"Mystery", "UNKNOWN", 0}, id), "Mystery");
  EXPECT_EQ(DescribeAnime({}, id), "[" + id + "]");
}

TEST(ExplainStep, RelationsAsArrowsDerivedEdgesNameTheirHub) {
  AnimeLabel fma{"Fullmetal Alchemist", "TV", 2003}, fmab{"Brotherhood", "TV", 2009};
  EXPECT_EQ(ExplainStep(fma, "a", EdgeType::kAlternative, {}, fmab, "b"),
            "Fullmetal Alchemist (TV, 2003) \xE2\x86\x92 ALTERNATIVE \xE2\x86\x92 Brotherhood (TV, "
            "2009)");
  EXPECT_EQ(ExplainStep(fma, "a", EdgeType::kSameStudio, {"studio", "Bones"}, fmab, "b"),
            "Fullmetal Alchemist (TV, 2003) shares studio Bones with Brotherhood (TV, 2009)");
  EXPECT_EQ(ExplainStep(fma, "a", EdgeType::kCoAppears, {"character", "Edward Elric"}, fmab, "b"),
            "Fullmetal Alchemist (TV, 2003) shares character Edward Elric with Brotherhood (TV, "
            "2009)");
  EXPECT_EQ(ExplainStep(fma, "a", EdgeType::kAdaptedFrom, {"original work", ""}, {}, "b"),
            "Fullmetal Alchemist (TV, 2003) shares an original work with [b]");
}

TEST(HubKind, DerivedTypesHaveOneRelationsNone) {
  EXPECT_EQ(HubKindOf(EdgeType::kSameStudio), HubKind::kStudio);
  EXPECT_EQ(HubKindOf(EdgeType::kCoAppears), HubKind::kCharacter);
  EXPECT_EQ(HubKindOf(EdgeType::kAdaptedFrom), HubKind::kOriginalWork);
  EXPECT_FALSE(HubKindOf(EdgeType::kSequel));
  EXPECT_EQ(HubKindName(HubKind::kOriginalWork), "original work");
}

TEST(ApplyLabels, PathStepsGetLabelsHubsAndExplanations) {
  FetchedLabels labels;
  labels.AddRow("anime", "a1", "One", "TV", 2001);
  labels.AddRow("anime", "a2", "Two\nlines", "MOVIE", 0);
  labels.AddRow("studio", "s1", "Studio S", "", 0);
  PathResult r;
  r.found = r.from_found = r.to_found = true;
  r.steps = {{"a1", std::nullopt, "", {}, {}, ""},
             {"a2", EdgeType::kSameStudio, "s1", {}, {}, ""},
             {"a3", EdgeType::kSequel, "", {}, {}, ""}};
  ApplyLabels(r, labels);
  EXPECT_EQ(r.steps[0].node, (AnimeLabel{"One", "TV", 2001}));
  EXPECT_EQ(r.steps[0].explanation, "");
  EXPECT_EQ(r.steps[1].node, (AnimeLabel{"Two lines", "MOVIE", 0}));
  EXPECT_EQ(r.steps[1].via, (HubLabel{"studio", "Studio S"}));
  EXPECT_EQ(r.steps[1].explanation, "One (TV, 2001) shares studio Studio S with Two lines (MOVIE)");
  EXPECT_EQ(r.steps[2].node, AnimeLabel{});
  EXPECT_EQ(r.steps[2].via, HubLabel{});
  EXPECT_EQ(r.steps[2].explanation, "Two lines (MOVIE) \xE2\x86\x92 SEQUEL \xE2\x86\x92 [a3]");
  auto keys = KeysOf(r);
  EXPECT_EQ(keys.anime, (std::vector<std::string>{"a1", "a2", "a3"}));
  EXPECT_EQ(keys.hubs[static_cast<int>(HubKind::kStudio)], std::vector<std::string>{"s1"});
}

TEST(Uuid16, RoundTripsAndRejectsOtherText) {
  auto u = ParseUuid16("DE0A0000-0000-4000-8000-00000000000F");
  ASSERT_TRUE(u);
  EXPECT_EQ(FormatUuid16(*u), "de0a0000-0000-4000-8000-00000000000f");
  EXPECT_FALSE(ParseUuid16("de0a0000000040008000000000000000"));
  EXPECT_FALSE(ParseUuid16("de0a0000-0000-4000-8000-00000000000g"));
}

}  // namespace
}  // namespace psvc::graph

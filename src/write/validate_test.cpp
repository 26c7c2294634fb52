#include "write/validate.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>

namespace psvc::write {
namespace {

constexpr const char* kId = "11111111-1111-4111-8111-111111111111";
constexpr const char* kOther = "22222222-2222-4222-8222-222222222222";

Event Enriched() {
  Event e;
  e.event_id = "33333333-3333-4333-8333-333333333333";
  e.occurred_at_ms = 1700000000000;
  e.producer = "test";
  AnimeEnriched a;
  a.anime_id = kId;
  a.fields.title = "Title";
  a.characters.push_back({kOther, "Name", std::nullopt, "MAIN", 1});
  a.companies.push_back({kOther, "Studio", "studio"});
  a.relations.push_back({kOther, "SEQUEL"});
  a.original_works.push_back({kOther, "Work", "MANGA", std::nullopt});
  e.payload = a;
  return e;
}

AnimeEnriched& A(Event& e) { return std::get<AnimeEnriched>(e.payload); }

TEST(ValidateEvent, AcceptsAWellFormedEventAndCanonicalisesIds) {
  auto e = Enriched();
  A(e).anime_id = "11111111-1111-4111-8111-11111111111F";
  EXPECT_EQ(ValidateEvent(e), std::nullopt);
  EXPECT_EQ(A(e).anime_id, "11111111-1111-4111-8111-11111111111f");
}

struct Case {
  const char* name;
  std::function<void(Event&)> mutate;
  const char* expected_prefix;
};

TEST(ValidateEvent, NamesTheFieldOfEveryProblem) {
  std::vector<Case> cases = {
      {"bad event id", [](Event& e) { e.event_id = std::string(1, 'x'); }, "event_id: not a UUID"},
      {"no time", [](Event& e) { e.occurred_at_ms = 0; }, "occurred_at: required"},
      {"future", [](Event& e) { e.occurred_at_ms = 99999999999999; }, "occurred_at: more than a day"},
      {"bad anime id", [](Event& e) { A(e).anime_id = "nope"; }, "anime_enriched.anime_id: not a UUID"},
      {"blank title", [](Event& e) { A(e).fields.title = "  "; }, "anime_enriched.fields.title: required"},
      {"long title", [](Event& e) { A(e).fields.title = std::string(501, 'x'); },
       "anime_enriched.fields.title: too long"},
      {"nul", [](Event& e) { A(e).fields.title = std::string("a\0b", 3); },
       "anime_enriched.fields.title: contains a NUL"},
      {"type", [](Event& e) { A(e).fields.type = "SERIES"; }, "anime_enriched.fields.type: unknown value"},
      {"season without year", [](Event& e) { A(e).fields.season = "FALL"; },
       "anime_enriched.fields.season: requires year"},
      {"year", [](Event& e) { A(e).fields.year = 1800; }, "anime_enriched.fields.year: out of range"},
      {"negative episodes", [](Event& e) { A(e).fields.episode_count = -1; },
       "anime_enriched.fields.episode_count: out of range"},
      {"score", [](Event& e) { A(e).fields.score = 11; }, "anime_enriched.fields.score"},
      {"nan score", [](Event& e) { A(e).fields.score = std::nan(""); }, "anime_enriched.fields.score"},
      {"character id", [](Event& e) { A(e).characters[0].character_id = "1"; },
       "anime_enriched.characters[0].character_id: not a UUID"},
      {"character role", [](Event& e) { A(e).characters[0].role = "HERO"; },
       "anime_enriched.characters[0].role"},
      {"favorites", [](Event& e) { A(e).characters[0].favorites = -4; },
       "anime_enriched.characters[0].favorites"},
      {"duplicate character", [](Event& e) { A(e).characters.push_back(A(e).characters[0]); },
       "anime_enriched.characters[1].character_id: duplicate"},
      {"company role", [](Event& e) { A(e).companies[0].role = "director"; },
       "anime_enriched.companies[0].role"},
      {"self relation", [](Event& e) { A(e).relations[0].related_anime_id = kId; },
       "anime_enriched.relations[0].related_anime_id: an anime cannot be related to itself"},
      {"relation type", [](Event& e) { A(e).relations[0].relation_type = "sequel"; },
       "anime_enriched.relations[0].relation_type"},
      {"work kind", [](Event& e) { A(e).original_works[0].kind = "COMIC"; },
       "anime_enriched.original_works[0].kind"},
      {"episode number",
       [](Event& e) { e.payload = EpisodeAired{kId, kOther, -1, {}, {}, {}}; },
       "episode_aired.number: out of range"},
      {"episode date",
       [](Event& e) { e.payload = EpisodeAired{kId, kOther, 1, {}, "2023-02-30", {}}; },
       "episode_aired.aired_on: not a date"},
      {"episode duration",
       [](Event& e) { e.payload = EpisodeAired{kId, kOther, 1, {}, {}, 0}; },
       "episode_aired.duration_seconds"},
      {"empty mask",
       [](Event& e) { e.payload = AnimeUpdated{kId, {}, {}, 1}; },
       "anime_updated.field_mask: empty"},
      {"unknown mask field",
       [](Event& e) {
         AnimeFields f;
         f.title = "T";
         e.payload = AnimeUpdated{kId, {"title", "view_count"}, f, 1};
       },
       "anime_updated.field_mask[1]: unknown field"},
      {"version",
       [](Event& e) { e.payload = AnimeUpdated{kId, {"score"}, {}, 0}; },
       "anime_updated.expected_version"},
      {"masked field checked",
       [](Event& e) { e.payload = AnimeUpdated{kId, {"title"}, {}, 1}; },
       "anime_updated.fields.title: required"},
  };
  for (auto& c : cases) {
    auto e = Enriched();
    c.mutate(e);
    auto err = ValidateEvent(e);
    ASSERT_TRUE(err.has_value()) << c.name;
    EXPECT_EQ(err->rfind(c.expected_prefix, 0), 0u) << c.name << ": " << *err;
  }
}

TEST(ValidateEvent, UnmaskedFieldsOfAnUpdateAreNotChecked) {
  auto e = Enriched();
  AnimeUpdated u{kId, {"score"}, {}, 3};
  u.fields.score = 7.5;  // title left blank: not in the mask
  e.payload = u;
  EXPECT_EQ(ValidateEvent(e), std::nullopt);
}

}  // namespace
}  // namespace psvc::write

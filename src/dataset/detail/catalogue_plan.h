#pragma once
/// The plan of a synthetic catalogue: every entity's structure (franchises, relations, links,
/// popularity) decided before any row is written. Internal to the generator.

#include <cstdint>
#include <string_view>
#include <vector>

#include "dataset/detail/random.h"
#include "dataset/generator.h"

namespace psvc::dataset::plan {

using detail::Rng;
using detail::WeightedTable;

inline constexpr uint32_t kNone = UINT32_MAX;

enum class AnimeType : uint8_t { kTv, kMovie, kOva, kOna, kSpecial, kMusic };
inline constexpr std::string_view kTypeNames[] = {"TV", "MOVIE", "OVA", "ONA", "SPECIAL", "MUSIC"};

enum class Status : uint8_t { kFinished, kAiring, kUpcoming };
inline constexpr std::string_view kStatusNames[] = {"FINISHED", "AIRING", "UPCOMING"};

enum class Relation : uint8_t {
  kSequel,
  kPrequel,
  kSideStory,
  kAlternative,
  kSummary,
  kFullStory,
  kCharacter,
  kSpinOff,
  kAdaptation,
  kOther,
};
inline constexpr std::string_view kRelationNames[] = {
    "SEQUEL",     "PREQUEL",   "SIDE_STORY", "ALTERNATIVE", "SUMMARY",
    "FULL_STORY", "CHARACTER", "SPIN_OFF",   "ADAPTATION",  "OTHER"};

// The schema's reading of an edge seen from its other end (migrations/0001_catalogue.sql).
inline Relation Inverse(Relation r) {
  switch (r) {
    case Relation::kSequel:
      return Relation::kPrequel;
    case Relation::kPrequel:
      return Relation::kSequel;
    case Relation::kSideStory:
    case Relation::kSummary:
      return Relation::kFullStory;
    case Relation::kSpinOff:
      return Relation::kOther;
    default:
      return r;
  }
}

enum class Role : uint8_t { kMain, kSupporting, kBackground };
inline constexpr std::string_view kRoleNames[] = {"MAIN", "SUPPORTING", "BACKGROUND"};

inline constexpr std::string_view kSeasonNames[] = {"WINTER", "SPRING", "SUMMER", "FALL"};
inline constexpr std::string_view kWorkKinds[] = {
    "MANGA", "LIGHT_NOVEL", "NOVEL", "VISUAL_NOVEL", "GAME", "WEB_MANGA", "ORIGINAL", "OTHER"};

// Time is counted in seasons (year * 4 + season). "Now" is fixed so the output never depends
// on the clock: SUMMER 2025.
inline constexpr int32_t kNowSeason = 2025 * 4 + 2;
inline constexpr int32_t kFirstSeason = 1960 * 4;

// Kinds: separate UUID spaces and random streams, so adding randomness to one part of the
// catalogue does not reshuffle the others.
enum Kind : uint64_t {
  kKindAnime = 1,
  kKindCharacter,
  kKindCompany,
  kKindWork,
  kKindEpisode,
  kStreamFranchiseSizes = 100,
  kStreamStructure,
  kStreamEpisodes,
  kStreamRelations,
  kStreamStudios,
  kStreamProducers,
  kStreamWorks,
  kStreamLinkCounts,
  kStreamCharacters,
  kStreamCameos,
  kStreamFranchiseNames,
  kStreamAnimeRow,
  kStreamCharacterRow,
  kStreamCompanyRow,
  kStreamWorkRow,
  kStreamEpisodeRow,
  kStreamEpisodeAdjust,
  kStreamPopularity,
  kStreamRelationShape,
};

inline Rng EntityRng(uint64_t seed, Kind kind, uint64_t index) {
  return Rng(seed, detail::Mix(kind, index));
}

struct Anime {
  uint32_t franchise = 0;
  uint32_t entry = 0;       // position within its franchise (0 = the first main entry)
  uint32_t parent = kNone;  // the earlier anime this one hangs off
  Relation relation = Relation::kSequel;  // what this anime is to its parent
  AnimeType type = AnimeType::kTv;
  Status status = Status::kFinished;
  bool main_line = false;
  bool has_season = true;
  uint8_t segment = 0;         // studio segment: a franchise may change studio once
  int32_t time = 0;            // season index
  int32_t episode_count = -1;  // -1 = unknown (NULL)
  int32_t episode_rows = 0;
  int32_t score_centi = -1;  // hundredths, -1 = NULL
  int64_t view_count = 0;
  uint32_t link_count = 0;
};

struct Franchise {
  uint32_t first_anime = 0;
  uint32_t size = 0;
  uint32_t main_line = 0;
  uint32_t first_character = 0;
  uint32_t character_count = 0;
  uint32_t main_cast = 0;
  uint32_t base_work = kNone;
  uint32_t studio[2] = {0, 0};
  uint32_t producer = kNone;
  double popularity = 1;
};

struct CharacterLink {
  uint32_t character;
  Role role;
};

struct CompanyLink {
  uint32_t company;
  bool studio;
};

struct RelationRow {
  uint32_t from;
  uint32_t to;
  Relation type;
};

struct Work {
  uint32_t franchise;
  uint32_t anime;  // the single anime of an extra work; kNone for a franchise's base work
  uint8_t kind;
};

/// Everything decided before any row is written: small fixed-size records and index lists
/// (a few MB at SF1). Names and texts are derived from per-entity streams while writing.
struct Plan {
  CatalogueShape target;
  uint64_t seed = 0;
  std::vector<Franchise> franchises;
  std::vector<Anime> anime;
  std::vector<std::vector<CharacterLink>> character_links;  // per anime
  std::vector<uint32_t> character_franchise;                // per character
  std::vector<std::vector<CompanyLink>> company_links;      // per anime
  std::vector<RelationRow> relations;
  std::vector<Work> works;
  std::vector<std::vector<uint32_t>> extra_works;  // per anime
  uint32_t studios = 0;
  uint32_t companies = 0;
};

/// Plans the whole catalogue of `options` (deterministic in the seed).
Plan MakePlan(const GeneratorOptions& options);

}  // namespace psvc::dataset::plan

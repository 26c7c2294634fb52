#include "dataset/generator.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <queue>
#include <span>
#include <string>
#include <unordered_set>
#include <vector>

#include "dataset/copy_format.h"
#include "dataset/detail/catalogue_plan.h"
#include "dataset/detail/names.h"
#include "dataset/detail/random.h"

namespace psvc::dataset {

CatalogueShape TargetShape(double scale) {
  auto scaled = [scale](double sf1) {
    return static_cast<uint64_t>(std::llround(std::max(0.0, sf1 * scale)));
  };
  CatalogueShape shape;
  shape.anime = scaled(30000);
  shape.character = scaled(150000);
  shape.company = scaled(3000);
  shape.original_work = scaled(15000);
  shape.episode = scaled(300000);
  shape.anime_relation = scaled(40000);
  shape.anime_character = scaled(400000);
  shape.anime_company = scaled(35000);
  if (shape.anime > 0) shape.company = std::max<uint64_t>(shape.company, 1);
  return shape;
}

namespace {

using namespace plan;
using detail::Rng;

struct FranchiseNames {
  detail::JapaneseText title;
  std::string english;  // empty: no English title
};

// ---------------------------------------------------------------------------------------------
// Writing

/// Streams one table to the sink, reusing one line buffer.
class TableWriter {
 public:
  TableWriter(RowSink& sink, std::string_view table,
              std::initializer_list<std::string_view> columns)
      : sink_(sink), columns_(columns) {
    sink_.BeginTable(table, columns_);
  }
  TableWriter(const TableWriter&) = delete;
  TableWriter& operator=(const TableWriter&) = delete;
  ~TableWriter() = default;

  CopyLineBuilder& Start() {
    line_.Clear();
    return line_;
  }
  void Uuid(uint64_t seed, Kind kind, uint64_t index) {
    uuid_.clear();
    detail::AppendUuid(uuid_, seed, kind, index);
    line_.Text(uuid_);
  }
  void Emit() { sink_.Row(line_.line()); }
  void End() { sink_.EndTable(); }

 private:
  RowSink& sink_;
  std::vector<std::string_view> columns_;
  CopyLineBuilder line_;
  std::string uuid_;
};

// Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int& year, int& month, int& day) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  year = static_cast<int>(static_cast<int64_t>(yoe) + era * 400 + (month <= 2));
}

std::vector<FranchiseNames> NameFranchises(const Plan& plan) {
  std::vector<FranchiseNames> names(plan.franchises.size());
  for (uint32_t f = 0; f < names.size(); ++f) {
    Rng rng = EntityRng(plan.seed, kStreamFranchiseNames, f);
    names[f].title = detail::FranchiseTitle(rng);
    if (rng.Chance(0.6)) names[f].english = detail::EnglishTitle(rng);
  }
  return names;
}

detail::JapaneseText CharacterName(const Plan& plan, uint64_t c) {
  Rng rng = EntityRng(plan.seed, kStreamCharacterRow, c);
  return detail::PersonName(rng);
}

void WriteCompanies(const Plan& plan, RowSink& sink) {
  TableWriter t(sink, "company", {"id", "name"});
  for (uint32_t k = 0; k < plan.companies; ++k) {
    Rng rng = EntityRng(plan.seed, kStreamCompanyRow, k);
    auto& row = t.Start();
    t.Uuid(plan.seed, kKindCompany, k);
    row.Text(detail::CompanyName(rng, k < plan.studios));
    t.Emit();
  }
  t.End();
}

void WriteWorks(const Plan& plan, const std::vector<FranchiseNames>& names, RowSink& sink) {
  TableWriter t(sink, "original_work", {"id", "title", "kind", "author"});
  for (uint32_t w = 0; w < plan.works.size(); ++w) {
    const Work& work = plan.works[w];
    Rng rng = EntityRng(plan.seed, kStreamWorkRow, w);
    const FranchiseNames& fn = names[work.franchise];
    std::string title;
    if (work.anime == kNone) {
      title = !fn.english.empty() && rng.Chance(0.3) ? fn.english : fn.title.romaji;
    } else {
      static constexpr std::string_view kForms[] = {" Gaiden", " Anthology", " Zero",
                                                    ": Another Story", " Side Stories"};
      title = fn.title.romaji;
      title += rng.Chance(0.5) ? std::string(kForms[rng.Below(std::size(kForms))])
                               : ": " + detail::JapaneseWord(rng, 2, 4, 0.1).romaji;
    }
    auto& row = t.Start();
    t.Uuid(plan.seed, kKindWork, w);
    row.Text(title);
    row.Text(kWorkKinds[work.kind]);
    if (rng.Chance(0.95)) {
      row.Text(detail::PersonName(rng).romaji);
    } else {
      row.Null();
    }
    t.Emit();
  }
  t.End();
}

struct EntryTitle {
  std::string romaji;
  std::string kana;
  std::string english;
};

EntryTitle TitleOf(const Anime& a, const FranchiseNames& fn, Rng& rng) {
  EntryTitle t{fn.title.romaji, fn.title.kana, fn.english};
  auto suffix = [&](std::string_view romaji, std::string_view kana, std::string_view english) {
    t.romaji += romaji;
    t.kana += kana;
    if (!t.english.empty()) t.english += english;
  };
  const int year = a.time / 4;
  if (a.entry == 0) return t;
  if (a.main_line) {
    const int n = static_cast<int>(a.entry) + 1;
    if (a.type == AnimeType::kMovie) {
      detail::JapaneseText arc = detail::JapaneseWord(rng, 2, 3, 0.1);
      suffix(" Movie: " + arc.romaji + "-hen", " 劇場版 " + arc.kana + "編", " the Movie");
      return t;
    }
    switch (rng.Below(3)) {
      case 0:
        suffix(" " + detail::Ordinal(n) + " Season", " 第" + std::to_string(n) + "期",
               " Season " + std::to_string(n));
        break;
      case 1:
        suffix(" Season " + std::to_string(n), " シーズン" + std::to_string(n),
               " Season " + std::to_string(n));
        break;
      default: {
        detail::JapaneseText arc = detail::JapaneseWord(rng, 2, 4, 0.15);
        suffix(": " + arc.romaji + "-hen", " " + arc.kana + "編", ": " + arc.romaji + " Arc");
      }
    }
    return t;
  }
  switch (a.relation) {
    case Relation::kAlternative:
      suffix(" (" + std::to_string(year) + ")", "（" + std::to_string(year) + "）",
             " (" + std::to_string(year) + ")");
      break;
    case Relation::kSummary:
      if (a.type == AnimeType::kMovie) {
        suffix(" Movie: Recap", " 総集編", " Compilation Film");
      } else {
        suffix(" Recap", " 総集編", " Recap");
      }
      break;
    case Relation::kCharacter:
      suffix(" Mini", " ミニ", " Shorts");
      break;
    case Relation::kSpinOff: {
      detail::JapaneseText side = detail::JapaneseWord(rng, 2, 4, 0.1);
      suffix(" Gaiden: " + side.romaji, " 外伝 " + side.kana, " Side Story: " + side.romaji);
      break;
    }
    case Relation::kAdaptation:
      suffix(" Picture Drama", " ピクチャードラマ", " Picture Drama");
      break;
    case Relation::kOther:
      if (a.type == AnimeType::kMusic) {
        suffix(" Music Video", " ミュージックビデオ", " Music Video");
      } else {
        suffix(" Specials", " 特別編", " Specials");
      }
      break;
    default:  // side stories
      switch (a.type) {
        case AnimeType::kMovie:
          t.romaji = "Gekijōban " + t.romaji;
          t.kana = "劇場版 " + t.kana;
          if (!t.english.empty()) t.english += " the Movie";
          break;
        case AnimeType::kOva:
          suffix(" OVA", " OVA", " OVA");
          break;
        case AnimeType::kOna:
          suffix(" Web", " ウェブ版", " Web Shorts");
          break;
        default:
          suffix(" Specials", " 特別編", " Specials");
      }
  }
  return t;
}

void WriteAnime(const Plan& plan, const std::vector<FranchiseNames>& names, RowSink& sink) {
  TableWriter t(sink, "anime",
                {"id", "title", "title_english", "title_japanese", "synonyms", "type", "status",
                 "season", "year", "episode_count", "synopsis", "score", "view_count"});
  std::vector<std::string> synonyms;
  for (uint32_t i = 0; i < plan.anime.size(); ++i) {
    const Anime& a = plan.anime[i];
    const Franchise& fr = plan.franchises[a.franchise];
    const FranchiseNames& fn = names[a.franchise];
    Rng rng = EntityRng(plan.seed, kStreamAnimeRow, i);
    const EntryTitle title = TitleOf(a, fn, rng);

    synonyms.clear();
    const std::string ascii = detail::AsciiRomaji(title.romaji);
    if (ascii != title.romaji) synonyms.push_back(ascii);
    if (a.entry == 0 && fn.title.romaji.find(' ') != std::string::npos && rng.Chance(0.5))
      synonyms.push_back(detail::Initials(fn.title.romaji));
    if (a.entry == 0 && !fn.english.empty() && rng.Chance(0.15))
      synonyms.push_back(fn.english + " (" + std::to_string(a.time / 4) + ")");

    auto& row = t.Start();
    t.Uuid(plan.seed, kKindAnime, i);
    row.Text(title.romaji);
    if (title.english.empty()) {
      row.Null();
    } else {
      row.Text(title.english);
    }
    if (rng.Chance(0.97)) {
      row.Text(title.kana);
    } else {
      row.Null();
    }
    row.TextArray(synonyms);
    row.Text(kTypeNames[static_cast<int>(a.type)]);
    row.Text(kStatusNames[static_cast<int>(a.status)]);
    if (a.has_season) {
      row.Text(kSeasonNames[a.time % 4]);
    } else {
      row.Null();
    }
    row.Int(a.time / 4);
    if (a.episode_count < 0) {
      row.Null();
    } else {
      row.Int(a.episode_count);
    }
    if (rng.Chance(0.88)) {
      const std::string hero = fr.character_count > 0
                                   ? CharacterName(plan, fr.first_character).romaji
                                   : detail::PersonName(rng).romaji;
      row.Text(detail::Synopsis(rng, hero, rng.Chance(0.3) ? fn.title.romaji : ""));
    } else {
      row.Null();
    }
    if (a.score_centi < 0) {
      row.Null();
    } else {
      row.Fixed(a.score_centi, 2);
    }
    row.Int(a.view_count);
    t.Emit();
  }
  t.End();
}

void WriteCharacters(const Plan& plan, const std::vector<FranchiseNames>& names, RowSink& sink) {
  TableWriter t(sink, "character", {"id", "name", "name_japanese", "description", "favorites"});
  for (uint32_t c = 0; c < plan.character_franchise.size(); ++c) {
    const uint32_t f = plan.character_franchise[c];
    const Franchise& fr = plan.franchises[f];
    Rng rng = EntityRng(plan.seed, kStreamCharacterRow, c);
    const detail::JapaneseText name = detail::PersonName(rng);  // same draws as CharacterName
    const uint32_t prominence = c - fr.first_character;
    auto& row = t.Start();
    t.Uuid(plan.seed, kKindCharacter, c);
    row.Text(name.romaji);
    if (rng.Chance(0.9)) {
      row.Text(name.kana);
    } else {
      row.Null();
    }
    if (prominence < fr.main_cast * 2 || rng.Chance(0.3)) {
      row.Text(detail::CharacterDescription(rng, names[f].title.romaji));
    } else {
      row.Null();
    }
    // Fans favour the main cast of popular franchises: a power law in both.
    const double favorites =
        fr.popularity * 40.0 * std::pow(1.0 + prominence, -1.3) * (0.3 + 1.4 * rng.Unit());
    row.Int(static_cast<int64_t>(std::min(favorites, 2e9)));
    t.Emit();
  }
  t.End();
}

void WriteEpisodes(const Plan& plan, RowSink& sink) {
  TableWriter t(sink, "episode",
                {"id", "anime_id", "number", "title", "aired_on", "duration_seconds"});
  std::string anime_id;
  uint64_t episode = 0;
  for (uint32_t i = 0; i < plan.anime.size(); ++i) {
    const Anime& a = plan.anime[i];
    if (a.episode_rows == 0) continue;
    Rng rng = EntityRng(plan.seed, kStreamEpisodeRow, i);
    anime_id.clear();
    detail::AppendUuid(anime_id, plan.seed, kKindAnime, i);
    const int month = a.has_season ? 1 + 3 * (a.time % 4) : static_cast<int>(rng.Between(1, 12));
    const int64_t first_day = DaysFromCivil(a.time / 4, static_cast<unsigned>(month),
                                            static_cast<unsigned>(rng.Between(1, 14)));
    int step_days = 7;
    int64_t duration = 1440;
    switch (a.type) {
      case AnimeType::kTv:
        duration = 60 * rng.Between(23, 25);
        break;
      case AnimeType::kMovie:
        duration = 60 * rng.Between(80, 140);
        break;
      case AnimeType::kOva:
        duration = 60 * rng.Between(25, 50);
        step_days = 60;
        break;
      case AnimeType::kOna:
        duration = 60 * rng.Between(5, 25);
        break;
      case AnimeType::kSpecial:
        duration = 60 * rng.Between(5, 25);
        step_days = 30;
        break;
      case AnimeType::kMusic:
        duration = rng.Between(180, 300);
        break;
    }
    const bool dated = rng.Chance(0.98);
    const bool titled = a.type != AnimeType::kMovie && a.type != AnimeType::kMusic;
    for (int32_t number = 1; number <= a.episode_rows; ++number) {
      auto& row = t.Start();
      t.Uuid(plan.seed, kKindEpisode, episode++);
      row.Text(anime_id);
      row.Int(number);
      if (titled && rng.Chance(0.8)) {
        row.Text(detail::EpisodeTitle(rng));
      } else {
        row.Null();
      }
      if (dated) {
        int y, m, d;
        CivilFromDays(first_day + int64_t{step_days} * (number - 1), y, m, d);
        row.Date(y, m, d);
      } else {
        row.Null();
      }
      row.Int(duration);
      t.Emit();
    }
  }
  t.End();
}

void WriteRelations(const Plan& plan, RowSink& sink) {
  TableWriter t(sink, "anime_relation", {"anime_id", "related_anime_id", "relation_type"});
  for (const RelationRow& r : plan.relations) {
    auto& row = t.Start();
    t.Uuid(plan.seed, kKindAnime, r.from);
    t.Uuid(plan.seed, kKindAnime, r.to);
    row.Text(kRelationNames[static_cast<int>(r.type)]);
    t.Emit();
  }
  t.End();
}

void WriteCharacterLinks(const Plan& plan, RowSink& sink) {
  TableWriter t(sink, "anime_character", {"anime_id", "character_id", "role"});
  for (uint32_t i = 0; i < plan.anime.size(); ++i) {
    for (const CharacterLink& l : plan.character_links[i]) {
      auto& row = t.Start();
      t.Uuid(plan.seed, kKindAnime, i);
      t.Uuid(plan.seed, kKindCharacter, l.character);
      row.Text(kRoleNames[static_cast<int>(l.role)]);
      t.Emit();
    }
  }
  t.End();
}

void WriteCompanyLinks(const Plan& plan, RowSink& sink) {
  TableWriter t(sink, "anime_company", {"anime_id", "company_id", "role"});
  for (uint32_t i = 0; i < plan.anime.size(); ++i) {
    for (const CompanyLink& l : plan.company_links[i]) {
      auto& row = t.Start();
      t.Uuid(plan.seed, kKindAnime, i);
      t.Uuid(plan.seed, kKindCompany, l.company);
      row.Text(l.studio ? "studio" : "producer");
      t.Emit();
    }
  }
  t.End();
}

void WriteWorkLinks(const Plan& plan, RowSink& sink) {
  TableWriter t(sink, "anime_original_work_relation", {"anime_id", "original_work_id"});
  auto link = [&](uint32_t i, uint32_t w) {
    t.Start();
    t.Uuid(plan.seed, kKindAnime, i);
    t.Uuid(plan.seed, kKindWork, w);
    t.Emit();
  };
  for (uint32_t i = 0; i < plan.anime.size(); ++i) {
    const uint32_t base = plan.franchises[plan.anime[i].franchise].base_work;
    if (base != kNone) link(i, base);
    for (uint32_t w : plan.extra_works[i]) link(i, w);
  }
  t.End();
}

}  // namespace

void GenerateCatalogue(const GeneratorOptions& options, RowSink& sink) {
  const Plan plan = MakePlan(options);
  const std::vector<FranchiseNames> names = NameFranchises(plan);
  WriteCompanies(plan, sink);
  WriteWorks(plan, names, sink);
  WriteAnime(plan, names, sink);
  WriteCharacters(plan, names, sink);
  WriteEpisodes(plan, sink);
  WriteRelations(plan, sink);
  WriteCharacterLinks(plan, sink);
  WriteCompanyLinks(plan, sink);
  WriteWorkLinks(plan, sink);
}

}  // namespace psvc::dataset

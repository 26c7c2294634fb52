#include <algorithm>
#include <cmath>
#include <numeric>
#include <queue>
#include <span>
#include <unordered_set>
#include <vector>

#include "dataset/detail/catalogue_plan.h"

namespace psvc::dataset::plan {
namespace {

using detail::Rng;
using detail::WeightedTable;

/// Splits `total` into integers proportional to `weights` (largest remainder method).
std::vector<uint64_t> Apportion(const std::vector<double>& weights, uint64_t total) {
  std::vector<uint64_t> out(weights.size(), 0);
  const double sum = std::accumulate(weights.begin(), weights.end(), 0.0);
  if (weights.empty() || sum <= 0 || total == 0) return out;
  std::vector<double> frac(weights.size());
  uint64_t assigned = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    const double exact = weights[i] / sum * static_cast<double>(total);
    out[i] = static_cast<uint64_t>(exact);
    frac[i] = exact - static_cast<double>(out[i]);
    assigned += out[i];
  }
  std::vector<size_t> order(weights.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return frac[a] > frac[b]; });
  for (size_t i = 0; assigned < total; i = (i + 1) % order.size(), ++assigned) ++out[order[i]];
  return out;
}

// ---------------------------------------------------------------------------------------------
// Planning

/// Franchise sizes: heavy-tailed (most are standalone, a few run to dozens of entries), scaled
/// so that the tree edges inside franchises give exactly the planned number of relations.
void PlanFranchises(Plan& plan, uint64_t franchise_count) {
  Rng rng(plan.seed, kStreamFranchiseSizes);
  const uint64_t anime_count = plan.target.anime;
  std::vector<double> extra(franchise_count);
  for (auto& e : extra) e = std::min(59.0, rng.Pareto(1.5) - 1.0);  // Lomax(1.5, 1)
  const std::vector<uint64_t> extras = Apportion(extra, anime_count - franchise_count);
  plan.franchises.resize(franchise_count);
  uint32_t next = 0;
  for (size_t f = 0; f < franchise_count; ++f) {
    plan.franchises[f].first_anime = next;
    plan.franchises[f].size = static_cast<uint32_t>(1 + extras[f]);
    next += plan.franchises[f].size;
  }
}

AnimeType RootType(Rng& rng, bool standalone) {
  static constexpr double kStandalone[] = {45, 18, 15, 12, 6, 4};
  static constexpr double kFranchise[] = {72, 12, 7, 7, 1, 1};
  return static_cast<AnimeType>(rng.Pick(standalone ? kStandalone : kFranchise));
}

/// The structure of each franchise (main line of sequels, entries hanging off it), types,
/// air dates and status.
void PlanStructure(Plan& plan) {
  Rng rng(plan.seed, kStreamStructure);
  plan.anime.resize(plan.target.anime);
  static constexpr double kExtraRelations[] = {
      // SIDE_STORY ALTERNATIVE SUMMARY CHARACTER SPIN_OFF ADAPTATION OTHER
      40, 8, 10, 10, 15, 3, 14};
  static constexpr Relation kExtraRelationValues[] = {
      Relation::kSideStory, Relation::kAlternative, Relation::kSummary, Relation::kCharacter,
      Relation::kSpinOff,   Relation::kAdaptation,  Relation::kOther};
  for (uint32_t f = 0; f < plan.franchises.size(); ++f) {
    Franchise& fr = plan.franchises[f];
    fr.main_line = 1;
    for (uint32_t e = 1; e < fr.size; ++e) fr.main_line += rng.Chance(0.45) ? 1 : 0;
    // Popularity is a franchise property: a famous franchise makes all its entries watched.
    fr.popularity = std::min(1e5, rng.Pareto(1.05));

    // Main line gaps first, then a start that keeps the whole line before "now + 1 year".
    std::vector<int32_t> gaps(fr.main_line, 0);
    int32_t span = 0;
    for (uint32_t e = 0; e < fr.size; ++e) {
      Anime& a = plan.anime[fr.first_anime + e];
      a.franchise = f;
      a.entry = e;
      if (e < fr.main_line) {
        a.main_line = true;
        if (e == 0) {
          a.type = RootType(rng, fr.size == 1);
        } else {
          static constexpr double kSequelTypes[] = {76, 14, 4, 6, 0, 0};
          a.type = static_cast<AnimeType>(rng.Pick(kSequelTypes));
          a.parent = fr.first_anime + e - 1;
          a.relation = Relation::kSequel;
          gaps[e] = static_cast<int32_t>(a.type == AnimeType::kTv ? rng.Between(2, 12)
                                                                  : rng.Between(1, 6));
          span += gaps[e];
        }
      } else {
        // Most extras hang off the main line; some off another extra (an OVA of a spin-off).
        const uint32_t parent_entry = rng.Chance(0.8)
                                          ? static_cast<uint32_t>(rng.Below(fr.main_line))
                                          : static_cast<uint32_t>(rng.Below(e));
        a.parent = fr.first_anime + parent_entry;
        a.relation = kExtraRelationValues[rng.Pick(kExtraRelations)];
        static constexpr double kSideStoryTypes[] = {0, 20, 40, 10, 30, 0};
        static constexpr double kAlternativeTypes[] = {60, 40, 0, 0, 0, 0};
        static constexpr double kSummaryTypes[] = {0, 50, 0, 0, 50, 0};
        static constexpr double kCharacterTypes[] = {0, 0, 0, 50, 50, 0};
        static constexpr double kSpinOffTypes[] = {40, 0, 20, 40, 0, 0};
        static constexpr double kAdaptationTypes[] = {0, 0, 50, 50, 0, 0};
        static constexpr double kOtherTypes[] = {0, 0, 0, 0, 30, 70};
        const double* types = kOtherTypes;
        switch (a.relation) {
          case Relation::kSideStory:
            types = kSideStoryTypes;
            break;
          case Relation::kAlternative:
            types = kAlternativeTypes;
            break;
          case Relation::kSummary:
            types = kSummaryTypes;
            break;
          case Relation::kCharacter:
            types = kCharacterTypes;
            break;
          case Relation::kSpinOff:
            types = kSpinOffTypes;
            break;
          case Relation::kAdaptation:
            types = kAdaptationTypes;
            break;
          default:
            break;
        }
        a.type = static_cast<AnimeType>(rng.Pick(std::span<const double>(types, 6)));
      }
    }
    if (kNowSeason + 2 - span < kFirstSeason) {  // absurdly long line: compress the gaps
      span = 0;
      for (uint32_t e = 1; e < fr.main_line; ++e) span += gaps[e] = 1;
    }
    const int32_t latest_start = kNowSeason + 2 - span;
    int32_t start = kFirstSeason - 1;
    // Recent years dominate a catalogue: the start lies an exponential distance back.
    for (int tries = 0; tries < 8 && start < kFirstSeason; ++tries) {
      start = latest_start - static_cast<int32_t>(-std::log(1.0 - rng.Unit()) * 60.0);
    }
    if (start < kFirstSeason)
      start = kFirstSeason + static_cast<int32_t>(
                                 rng.Below(static_cast<uint64_t>(latest_start - kFirstSeason + 1)));
    for (uint32_t e = 0; e < fr.size; ++e) {
      Anime& a = plan.anime[fr.first_anime + e];
      if (e == 0) {
        a.time = start;
      } else if (e < fr.main_line) {
        a.time = plan.anime[a.parent].time + gaps[e];
      } else {
        const int32_t parent_time = plan.anime[a.parent].time;
        const int32_t delay = static_cast<int32_t>(
            a.relation == Relation::kAlternative ? rng.Between(8, 80) : rng.Between(0, 8));
        a.time = std::max(parent_time, std::min(parent_time + delay, kNowSeason + 4));
      }
      // Films, OVAs and specials often have no broadcast season, only a year.
      a.has_season = a.type == AnimeType::kTv || a.type == AnimeType::kOna || rng.Chance(0.65);
      a.status = a.time > kNowSeason ? Status::kUpcoming : Status::kFinished;
    }
  }
}

int32_t SampleEpisodeCount(Rng& rng, AnimeType type, bool sequel) {
  switch (type) {
    case AnimeType::kTv: {
      static constexpr int32_t kCounts[] = {12, 13, 24, 25, 26, 10, 11, 8, 22, 39, 50, 51, 52};
      static constexpr double kFirst[] = {30, 14, 8, 6, 10, 3, 4, 2, 2, 2, 2, 1, 2, 1.2, 0.12};
      static constexpr double kSequel[] = {38, 16, 6, 4, 7, 4, 4, 3, 1, 1, 1, 0.5, 1, 0.6, 0.04};
      const size_t i = rng.Pick(sequel ? kSequel : kFirst);
      if (i < std::size(kCounts)) return kCounts[i];
      if (i == std::size(kCounts)) return static_cast<int32_t>(rng.Between(64, 200));
      return static_cast<int32_t>(rng.Between(300, 1100));  // the rare decades-long runner
    }
    case AnimeType::kMovie:
    case AnimeType::kMusic:
      return 1;
    case AnimeType::kOva: {
      static constexpr int32_t kCounts[] = {1, 2, 3, 4, 6, 12};
      static constexpr double kWeights[] = {45, 15, 10, 8, 15, 7};
      return kCounts[rng.Pick(kWeights)];
    }
    case AnimeType::kOna: {
      static constexpr int32_t kCounts[] = {1, 3, 6, 10, 12, 13, 24};
      static constexpr double kWeights[] = {25, 10, 15, 15, 20, 10, 5};
      return kCounts[rng.Pick(kWeights)];
    }
    case AnimeType::kSpecial: {
      static constexpr int32_t kCounts[] = {1, 2, 3, 6};
      static constexpr double kWeights[] = {55, 20, 15, 10};
      return kCounts[rng.Pick(kWeights)];
    }
  }
  return 1;
}

/// Episode counts and rows: a finished anime has all its episodes, an airing one those aired
/// so far, an upcoming one none. Long runners absorb the last difference to the target.
void PlanEpisodes(Plan& plan) {
  Rng rng(plan.seed, kStreamEpisodes);
  uint64_t rows = 0;
  for (Anime& a : plan.anime) {
    a.episode_count = SampleEpisodeCount(rng, a.type, a.entry > 0);
    if (a.status == Status::kUpcoming) {
      if (rng.Chance(0.5)) a.episode_count = -1;  // not announced yet
      a.episode_rows = 0;
      continue;
    }
    const bool recent_series =
        (a.type == AnimeType::kTv || a.type == AnimeType::kOna) && a.episode_count > 1 &&
        (a.time == kNowSeason || (a.episode_count >= 24 && a.time >= kNowSeason - 1));
    if (recent_series) {
      a.status = Status::kAiring;
      a.episode_rows = static_cast<int32_t>(rng.Between(1, a.episode_count - 1));
    } else {
      a.episode_rows = a.episode_count;
    }
    rows += static_cast<uint64_t>(a.episode_rows);
  }

  // Prefer finished TV series of 24+ episodes: one more or less is invisible there.
  Rng adjust(plan.seed, kStreamEpisodeAdjust);
  auto candidates_of = [&](int32_t min_count) {
    std::vector<uint32_t> out;
    for (uint32_t i = 0; i < plan.anime.size(); ++i) {
      const Anime& a = plan.anime[i];
      if (a.status == Status::kFinished && a.type == AnimeType::kTv && a.episode_count >= min_count)
        out.push_back(i);
    }
    return out;
  };
  const uint64_t target = plan.target.episode;
  for (int32_t floor : {24, 2, 1}) {
    if (rows == target) break;
    std::vector<uint32_t> candidates = candidates_of(floor);
    while (rows != target && !candidates.empty()) {
      const size_t pick = adjust.Below(candidates.size());
      Anime& a = plan.anime[candidates[pick]];
      if (rows < target) {
        ++a.episode_count;
        ++a.episode_rows;
        ++rows;
      } else if (a.episode_count > floor) {
        --a.episode_count;
        --a.episode_rows;
        --rows;
      } else {
        candidates[pick] = candidates.back();
        candidates.pop_back();
      }
    }
  }
}

void PlanPopularity(Plan& plan) {
  for (uint32_t i = 0; i < plan.anime.size(); ++i) {
    Anime& a = plan.anime[i];
    Rng rng = EntityRng(plan.seed, kStreamPopularity, i);
    const Franchise& fr = plan.franchises[a.franchise];
    const double entry_factor =
        a.main_line ? std::pow(0.82, a.entry) : 0.25 * std::pow(0.93, a.entry);
    double views = 300.0 * fr.popularity * entry_factor * (0.5 + rng.Unit());
    if (a.status == Status::kUpcoming) views *= 0.1;
    a.view_count = static_cast<int64_t>(views);
    if (a.status == Status::kUpcoming || rng.Chance(0.02)) {
      a.score_centi = -1;
    } else {
      double score =
          640 + 18 * std::log(fr.popularity) + 70 * rng.Normalish() - (a.main_line ? 0 : 30);
      a.score_centi = static_cast<int32_t>(std::clamp(std::round(score), 100.0, 990.0));
    }
  }
}

/// Relations: every non-root entry is linked to its parent, plus a few crossovers between
/// franchises. Both directions are stored, except as in real catalogues: about 3% of the links
/// are stored at the parent only, and about 1% are answered by a type that disagrees with the
/// inverse (the graph's rules for both are in docs/graph.md).
void PlanRelations(Plan& plan, uint64_t crossover_pairs) {
  Rng shape(plan.seed, kStreamRelationShape);
  for (uint32_t i = 0; i < plan.anime.size(); ++i) {
    const Anime& a = plan.anime[i];
    if (a.parent == kNone) continue;
    plan.relations.push_back({a.parent, i, a.relation});
    if (shape.Chance(0.03)) continue;  // one way only
    Relation back = Inverse(a.relation);
    if (shape.Chance(0.01))
      back = back == Relation::kOther ? Relation::kAlternative : Relation::kOther;
    plan.relations.push_back({i, a.parent, back});
  }
  if (plan.franchises.size() < 2) return;
  Rng rng(plan.seed, kStreamRelations);
  std::unordered_set<uint64_t> seen;
  const uint64_t n = plan.anime.size();
  for (uint64_t made = 0, tries = 0; made < crossover_pairs && tries < crossover_pairs * 20;
       ++tries) {
    auto x = static_cast<uint32_t>(rng.Below(n));
    auto y = static_cast<uint32_t>(rng.Below(n));
    if (plan.anime[x].franchise == plan.anime[y].franchise) continue;
    if (!seen.insert(static_cast<uint64_t>(std::min(x, y)) << 32 | std::max(x, y)).second) continue;
    const Relation type = rng.Chance(0.6) ? Relation::kCharacter : Relation::kOther;
    plan.relations.push_back({x, y, type});
    plan.relations.push_back({y, x, type});
    ++made;
  }
}

/// Share of studio anime for the first few studios: the handful of giants every catalogue has.
constexpr double kMajorStudioShare[] = {0.060, 0.052, 0.046, 0.041, 0.037};
/// No studio after the majors gets more than this share, whatever the scale.
constexpr double kMaxTailShare = 0.022;

std::vector<double> StudioWeights(uint32_t studios) {
  std::vector<double> weights(studios, 0);
  double major_total = 0;
  const uint32_t majors = std::min<uint32_t>(studios, std::size(kMajorStudioShare));
  for (uint32_t i = 0; i < majors; ++i) major_total += weights[i] = kMajorStudioShare[i];
  const uint32_t tail = studios - majors;
  if (tail == 0) return weights;
  const double tail_total = 1.0 - major_total;
  // Zipf–Mandelbrot tail 1/(j + q): q is chosen so the tail's head stays below kMaxTailShare
  // (fewer studios at small scales would otherwise make the head of the tail a giant too).
  auto harmonic = [tail](double q) {
    double h = 0;
    for (uint32_t j = 0; j < tail; ++j) h += 1.0 / (j + q);
    return h;
  };
  const double need = tail_total / kMaxTailShare;
  double q = 4.0;
  if (q * harmonic(q) < need) {
    if (tail <= need) {
      q = 1e9;  // not enough studios for a tail: share it evenly
    } else {
      double lo = q, hi = 1e7;
      for (int i = 0; i < 60; ++i) {
        const double mid = (lo + hi) / 2;
        (mid * harmonic(mid) < need ? lo : hi) = mid;
      }
      q = hi;
    }
  }
  const double h = harmonic(q);
  for (uint32_t j = 0; j < tail; ++j) weights[majors + j] = tail_total / ((j + q) * h);
  return weights;
}

/// Studios: franchises (or the two halves of a franchise that changed studio) are dealt to
/// studios so that each studio's anime count follows its power-law quota; then co-productions,
/// outsourced extras and producers.
void PlanCompanies(Plan& plan) {
  plan.companies = static_cast<uint32_t>(plan.target.company);
  plan.company_links.assign(plan.anime.size(), {});
  if (plan.companies == 0 || plan.anime.empty()) return;
  plan.studios = std::max<uint32_t>(1, static_cast<uint32_t>(std::lround(plan.companies * 0.35)));
  const uint32_t producers = plan.companies - plan.studios;
  Rng rng(plan.seed, kStreamStudios);

  struct Segment {
    uint32_t franchise;
    uint8_t segment;
    uint32_t size;
  };
  std::vector<Segment> segments;
  for (uint32_t f = 0; f < plan.franchises.size(); ++f) {
    Franchise& fr = plan.franchises[f];
    uint32_t switch_entry = kNone;
    if (fr.main_line >= 3 && rng.Chance(0.12)) {
      switch_entry = static_cast<uint32_t>(rng.Between(1, fr.main_line - 1));
    }
    uint32_t sizes[2] = {0, 0};
    const int32_t switch_time =
        switch_entry == kNone ? INT32_MAX : plan.anime[fr.first_anime + switch_entry].time;
    for (uint32_t e = 0; e < fr.size; ++e) {
      Anime& a = plan.anime[fr.first_anime + e];
      a.segment = (e >= switch_entry || (!a.main_line && a.time > switch_time)) ? 1 : 0;
      ++sizes[a.segment];
    }
    for (uint8_t s = 0; s < 2; ++s)
      if (sizes[s] > 0) segments.push_back({f, s, sizes[s]});
  }
  std::stable_sort(segments.begin(), segments.end(),
                   [](const Segment& a, const Segment& b) { return a.size > b.size; });

  const std::vector<double> weights = StudioWeights(plan.studios);
  const double total = static_cast<double>(plan.anime.size());
  using Slot = std::pair<double, int64_t>;  // (remaining quota, -studio): ties go to low ids
  std::priority_queue<Slot> open;
  for (uint32_t s = 0; s < plan.studios; ++s) open.push({weights[s] * total, -int64_t{s}});
  for (const Segment& seg : segments) {
    auto [remaining, neg_studio] = open.top();
    open.pop();
    plan.franchises[seg.franchise].studio[seg.segment] = static_cast<uint32_t>(-neg_studio);
    open.push({remaining - seg.size, neg_studio});
  }

  const WeightedTable studio_table(weights);
  auto other_studio = [&](uint32_t not_this) {
    for (int tries = 0; tries < 16; ++tries) {
      const auto s = static_cast<uint32_t>(studio_table.Sample(rng));
      if (s != not_this) return s;
    }
    return kNone;
  };
  uint64_t links = 0;
  for (uint32_t i = 0; i < plan.anime.size(); ++i) {
    const Anime& a = plan.anime[i];
    uint32_t studio = plan.franchises[a.franchise].studio[a.segment];
    if (!a.main_line && rng.Chance(0.04)) {  // an extra outsourced to another studio
      const uint32_t other = other_studio(studio);
      if (other != kNone) studio = other;
    }
    plan.company_links[i].push_back({studio, true});
    ++links;
    if (rng.Chance(0.05)) {  // co-production
      const uint32_t other = other_studio(studio);
      if (other != kNone) {
        plan.company_links[i].push_back({other, true});
        ++links;
      }
    }
  }

  if (producers == 0 || links >= plan.target.anime_company) return;
  Rng prng(plan.seed, kStreamProducers);
  std::vector<double> producer_weights(producers);
  for (uint32_t j = 0; j < producers; ++j) producer_weights[j] = 1.0 / (j + 3.0);
  const WeightedTable producer_table(producer_weights);
  for (Franchise& fr : plan.franchises)
    fr.producer = plan.studios + static_cast<uint32_t>(producer_table.Sample(prng));
  const uint64_t wanted = plan.target.anime_company - links;
  for (uint64_t made = 0, tries = 0; made < wanted && tries < wanted * 20; ++tries) {
    const auto i = static_cast<uint32_t>(prng.Below(plan.anime.size()));
    // A franchise's production committee usually stays; sometimes a new partner joins.
    const uint32_t producer =
        prng.Chance(0.6) ? plan.franchises[plan.anime[i].franchise].producer
                         : plan.studios + static_cast<uint32_t>(producer_table.Sample(prng));
    auto& list = plan.company_links[i];
    if (std::any_of(list.begin(), list.end(),
                    [&](const CompanyLink& l) { return l.company == producer; }))
      continue;
    list.push_back({producer, false});
    ++made;
  }
}

/// Original works: most franchises adapt one work (all their anime link to it); extra works
/// (spin-off manga, light novels) belong to single side entries.
void PlanWorks(Plan& plan) {
  Rng rng(plan.seed, kStreamWorks);
  plan.extra_works.assign(plan.anime.size(), {});
  const uint64_t target = plan.target.original_work;
  static constexpr double kBaseKinds[] = {48, 18, 7, 6, 8, 8, 2, 3};
  static constexpr double kExtraKinds[] = {60, 15, 10, 0, 5, 10, 0, 0};
  for (uint32_t f = 0; f < plan.franchises.size() && plan.works.size() < target; ++f) {
    if (!rng.Chance(0.85)) continue;  // an anime original
    plan.franchises[f].base_work = static_cast<uint32_t>(plan.works.size());
    plan.works.push_back({f, kNone, static_cast<uint8_t>(rng.Pick(kBaseKinds))});
  }
  std::vector<uint32_t> candidates;
  for (uint32_t i = 0; i < plan.anime.size(); ++i) {
    const Anime& a = plan.anime[i];
    if (!a.main_line && a.relation != Relation::kSummary && a.relation != Relation::kOther)
      candidates.push_back(i);
  }
  for (size_t i = candidates.size(); i > 1; --i)  // Fisher–Yates
    std::swap(candidates[i - 1], candidates[rng.Below(i)]);
  for (size_t next = 0; plan.works.size() < target && !plan.anime.empty(); ++next) {
    // Beyond the side entries, a work may be a second source of any anime (a novelization).
    const uint32_t i = next < candidates.size()
                           ? candidates[next]
                           : static_cast<uint32_t>(rng.Below(plan.anime.size()));
    plan.extra_works[i].push_back(static_cast<uint32_t>(plan.works.size()));
    plan.works.push_back({plan.anime[i].franchise, i, static_cast<uint8_t>(rng.Pick(kExtraKinds))});
  }
}

/// Characters and their links. Link counts per anime follow the type (a TV series has more
/// characters than a music video); each franchise gets a pool of characters whose first few
/// are its main cast, reused across the franchise, so characters rarely leave their franchise.
void PlanCharacters(Plan& plan) {
  const uint64_t n = plan.anime.size();
  plan.character_links.assign(n, {});
  if (n == 0) return;
  const uint64_t cameo_links = plan.franchises.size() >= 2 ? plan.target.anime_character / 100 : 0;
  const uint64_t franchise_links = plan.target.anime_character - cameo_links;

  Rng rng(plan.seed, kStreamLinkCounts);
  static constexpr double kTypeLinks[] = {20, 13, 9, 9, 7, 3};
  std::vector<double> raw(n);
  for (uint64_t i = 0; i < n; ++i) {
    const Anime& a = plan.anime[i];
    const uint32_t size = plan.franchises[a.franchise].size;
    // Standalone titles are mostly obscure and thinly documented; big franchises are well
    // documented. This also keeps characters-per-link near the real ratio.
    const double size_factor = size == 1 ? 0.45 : size >= 8 ? 1.25 : 1.0;
    raw[i] = kTypeLinks[static_cast<int>(a.type)] * size_factor * (0.6 + 0.8 * rng.Unit());
  }
  const std::vector<uint64_t> counts = Apportion(raw, franchise_links);
  for (uint64_t i = 0; i < n; ++i) plan.anime[i].link_count = static_cast<uint32_t>(counts[i]);

  // Pool sizes: at least the biggest cast of the franchise, at most one character per link.
  std::vector<double> slack(plan.franchises.size());
  uint64_t lower_total = 0;
  for (size_t f = 0; f < plan.franchises.size(); ++f) {
    Franchise& fr = plan.franchises[f];
    uint64_t lower = 0, upper = 0;
    for (uint32_t e = 0; e < fr.size; ++e) {
      const uint32_t c = plan.anime[fr.first_anime + e].link_count;
      lower = std::max<uint64_t>(lower, c);
      upper += c;
    }
    fr.character_count = static_cast<uint32_t>(lower);
    lower_total += lower;
    slack[f] = static_cast<double>(upper - lower);
  }
  if (plan.target.character > lower_total) {
    const double slack_total = std::accumulate(slack.begin(), slack.end(), 0.0);
    const uint64_t extra =
        std::min<uint64_t>(plan.target.character - lower_total, static_cast<uint64_t>(slack_total));
    const std::vector<uint64_t> add = Apportion(slack, extra);
    for (size_t f = 0; f < plan.franchises.size(); ++f)
      plan.franchises[f].character_count +=
          static_cast<uint32_t>(std::min<uint64_t>(add[f], static_cast<uint64_t>(slack[f])));
  }

  Rng pick(plan.seed, kStreamCharacters);
  std::vector<uint32_t> stamp;  // stamp[j] == anime + 1 when local character j is in anime
  std::vector<uint32_t> uses;
  uint32_t next_character = 0;
  for (uint32_t f = 0; f < plan.franchises.size(); ++f) {
    Franchise& fr = plan.franchises[f];
    const uint32_t pool = fr.character_count;
    fr.first_character = next_character;
    next_character += pool;
    plan.character_franchise.insert(plan.character_franchise.end(), pool, f);
    if (pool == 0) continue;
    uint32_t largest = 0;
    uint64_t slots = 0;
    for (uint32_t e = 0; e < fr.size; ++e) {
      largest = std::max(largest, plan.anime[fr.first_anime + e].link_count);
      slots += plan.anime[fr.first_anime + e].link_count;
    }
    fr.main_cast = std::min(pool, std::clamp<uint32_t>(largest / 6, 1, 4));
    stamp.assign(pool, 0);
    uses.assign(pool, 0);
    uint32_t cursor = fr.main_cast;  // next character never seen before
    auto side_role = [&](uint32_t j) {
      if (j < fr.main_cast * 3) return Role::kSupporting;
      return pick.Chance(0.45) ? Role::kSupporting : Role::kBackground;
    };
    for (uint32_t e = 0; e < fr.size; ++e) {
      const uint32_t i = fr.first_anime + e;
      const Anime& a = plan.anime[i];
      auto& links = plan.character_links[i];
      const uint32_t want = a.link_count;
      links.reserve(want);
      auto take = [&](uint32_t j, Role role) {
        stamp[j] = i + 1;
        ++uses[j];
        links.push_back({fr.first_character + j, role});
      };
      if (a.main_line || pick.Chance(0.7)) {
        for (uint32_t j = 0; j < fr.main_cast && links.size() < want; ++j) take(j, Role::kMain);
      }
      // New faces in proportion to the anime's share of the franchise's links.
      const auto quota = static_cast<uint32_t>((pool - fr.main_cast) * uint64_t{want} / slots);
      for (uint32_t k = 0; k < quota && links.size() < want && cursor < pool; ++k) {
        const uint32_t j = cursor++;
        take(j, side_role(j));
      }
      // Returning characters, prominent ones (low index) more often.
      for (uint32_t tries = 0; links.size() < want && cursor > 0 && tries < want * 8; ++tries) {
        const double u = pick.Unit();
        const auto j = static_cast<uint32_t>(u * u * cursor);
        if (stamp[j] != i + 1) take(j, j < fr.main_cast ? Role::kMain : side_role(j));
      }
      while (links.size() < want && cursor < pool) {
        const uint32_t j = cursor++;
        take(j, side_role(j));
      }
      for (uint32_t j = 0; links.size() < want && j < pool; ++j)
        if (stamp[j] != i + 1) take(j, j < fr.main_cast ? Role::kMain : side_role(j));
    }
    // Every character appears somewhere: hand unused ones a slot held by a character that
    // appears more than once (there are enough such slots since slots >= pool).
    std::vector<uint32_t> unused;
    for (uint32_t j = 0; j < pool; ++j)
      if (uses[j] == 0) unused.push_back(j);
    for (int pass = 0; pass < 2 && !unused.empty(); ++pass) {
      for (uint32_t e = fr.size; e-- > 0 && !unused.empty();) {
        const uint32_t i = fr.first_anime + e;
        auto& links = plan.character_links[i];
        for (size_t k = links.size(); k-- > 0 && !unused.empty();) {
          const uint32_t x = links[k].character - fr.first_character;
          if (uses[x] < 2 || (pass == 0 && x < fr.main_cast)) continue;
          const uint32_t j = unused.back();
          unused.pop_back();
          --uses[x];
          ++uses[j];
          links[k] = {fr.first_character + j, side_role(j)};
        }
      }
    }
  }

  // Cameos: a character from one franchise appearing in another's anime.
  Rng cameo(plan.seed, kStreamCameos);
  const uint64_t characters = plan.character_franchise.size();
  for (uint64_t made = 0, tries = 0;
       characters > 0 && made < cameo_links && tries < cameo_links * 50; ++tries) {
    const auto i = static_cast<uint32_t>(cameo.Below(n));
    const auto c = static_cast<uint32_t>(cameo.Below(characters));
    if (plan.character_franchise[c] == plan.anime[i].franchise) continue;
    auto& links = plan.character_links[i];
    if (std::any_of(links.begin(), links.end(),
                    [c](const CharacterLink& l) { return l.character == c; }))
      continue;
    links.push_back({c, cameo.Chance(0.7) ? Role::kBackground : Role::kSupporting});
    ++made;
  }
}

}  // namespace

Plan MakePlan(const GeneratorOptions& options) {
  Plan plan;
  plan.seed = options.seed;
  plan.target = TargetShape(options.scale);
  const uint64_t n = plan.target.anime;
  if (n == 0) return plan;
  // Tree edges inside franchises number anime - franchises, so the franchise count follows
  // from the relation target; 2% of relation pairs are crossovers between franchises.
  const uint64_t pairs = plan.target.anime_relation / 2;
  uint64_t crossover = pairs / 50;
  const uint64_t tree = std::min<uint64_t>(pairs - crossover, n - 1);
  const uint64_t franchises = n - tree;
  if (franchises < 2) crossover = 0;
  PlanFranchises(plan, franchises);
  PlanStructure(plan);
  PlanEpisodes(plan);
  PlanPopularity(plan);
  PlanRelations(plan, crossover);
  PlanCompanies(plan);
  PlanWorks(plan);
  PlanCharacters(plan);
  return plan;
}

}  // namespace psvc::dataset::plan

#pragma once
/// Deterministic synthetic anime catalogue with a realistic shape, scaled by a factor.

#include <array>
#include <cstdint>
#include <string_view>

#include "dataset/row_sink.h"

namespace psvc::dataset {

/// How big a catalogue to generate and from which seed (same options → byte-identical rows).
struct GeneratorOptions {
  double scale = 1.0;  ///< 1.0 ≈ a real catalogue (30k anime); 0.01 for quick tests.
  uint64_t seed = 1;
};

/// Row counts per table. As a target (TargetShape) it is what the generator aims at.
struct CatalogueShape {
  uint64_t anime = 0;
  uint64_t character = 0;
  uint64_t company = 0;
  uint64_t original_work = 0;
  uint64_t episode = 0;
  uint64_t anime_relation = 0;
  uint64_t anime_character = 0;
  uint64_t anime_company = 0;
};

/// Target counts at `scale` (SF1: 30k anime, 150k characters, 400k character links, 40k
/// relation rows, 3k companies, 35k company links, 15k original works, 300k episodes).
CatalogueShape TargetShape(double scale);

/// The catalogue tables in the order the generator emits them: every table after the tables
/// its foreign keys point to.
inline constexpr std::array<std::string_view, 9> kCatalogueTables = {
    "company",         "original_work", "anime",
    "character",       "episode",       "anime_relation",
    "anime_character", "anime_company", "anime_original_work_relation"};

/// Generates the whole catalogue into `sink`, table by table in kCatalogueTables order.
/// Relations are stored in both directions except a few (one-way rows and ends that disagree,
/// as in real catalogues); all rows satisfy the schema's constraints.
void GenerateCatalogue(const GeneratorOptions& options, RowSink& sink);

}  // namespace psvc::dataset

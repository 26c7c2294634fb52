#pragma once

#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "graphql/schema.h"

namespace psvc::graphql::testing {

/// In-memory data for the test schema (testdata/anime_data.json); the mutations change it.
struct AnimeData {
  Value root;  // {"anime": [...], "characters": [...], "studios": [...]}
  std::unordered_map<std::string, Value*> by_id;
  // Reverse edges in anime order: character id -> anime, studio id -> anime.
  std::unordered_map<std::string, std::vector<const Value*>> anime_by_character;
  std::unordered_map<std::string, std::vector<const Value*>> anime_by_studio;
  std::map<std::string, int> resolver_calls;  // "Type.field" -> batched calls, to test batching

  /// Record by id (anime, character or studio), or nullptr.
  Value* Find(std::string_view id);
};

/// Loads the JSON data set; throws std::runtime_error when the file is missing or malformed.
std::unique_ptr<AnimeData> LoadAnimeData(const std::string& path);

/// Path of the default data set in the source tree.
std::string DefaultAnimeDataPath();

/// The test schema: Anime/Character/Studio, Node interface, SearchResult union, UUID scalar,
/// enums, inputs, a few mutations. Resolvers expect Request context = AnimeData*.
std::unique_ptr<Schema> BuildAnimeSchema();

}  // namespace psvc::graphql::testing

#pragma once
/// Answers of the four graph primitives, whichever engine computed them.

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "graph/edge_type.h"

namespace psvc::graph {

/// What a reader needs to recognise an anime without a second call (labels.h).
struct AnimeLabel {
  std::string title;  ///< bounded (labels.h BoundLabel); empty when unknown to the engine
  std::string type;   ///< TV MOVIE OVA ONA SPECIAL MUSIC UNKNOWN; empty with an empty title
  int year = 0;       ///< 0 when unknown
  bool operator==(const AnimeLabel&) const = default;
};

/// The hub a derived edge goes through; both empty for relation edges.
struct HubLabel {
  std::string_view kind;  ///< "studio", "character" or "original work" (static text)
  std::string name;       ///< bounded like a title; empty when unknown to the engine
  bool operator==(const HubLabel&) const = default;
};

/// One edge from an expanded node.
struct Edge {
  std::string node_id;
  EdgeType type;
  std::string via_id;  ///< hub of a derived edge, empty for relations
  AnimeLabel node;     ///< node_id's label
  HubLabel via;        ///< via_id's label
};

struct NeighborsResult {
  bool start_found = false;
  std::vector<Edge> edges;
  AnimeLabel start;  ///< the start node's label (when found)
};

/// A node reached by KHop and how.
struct KHopNode {
  std::string node_id;
  int depth = 0;
  EdgeType type = EdgeType::kOther;
  std::string parent_id;
  std::string via_id;
  AnimeLabel node;
  HubLabel via;
};

struct KHopResult {
  bool start_found = false;
  bool truncated = false;
  std::vector<KHopNode> nodes;
  AnimeLabel start;  ///< the start node's label (when found)
};

/// A step of a path: the node and the edge that reached it (none for the first).
struct PathStep {
  std::string node_id;
  std::optional<EdgeType> type;
  std::string via_id;
  AnimeLabel node;
  HubLabel via;
  std::string explanation;  ///< one line from the previous node to this one; empty for the first
};

struct PathResult {
  bool found = false;
  bool from_found = false;
  bool to_found = false;
  bool truncated = false;
  std::vector<PathStep> steps;
};

/// Scalars of one anime (Compare).
struct AnimeSummary {
  std::string id, title, title_english, type, status, season;
  int year = 0;
  int episode_count = 0;
  double score = 0;
  int64_t view_count = 0;
};

struct SharedEntity {
  std::string id, name, role_in_a, role_in_b;
};

struct CompareResult {
  std::optional<AnimeSummary> a, b;
  std::vector<SharedEntity> characters, studios, original_works;
  std::vector<EdgeType> direct_relations;
};

/// A path's chain was found but one of its edges was not in the labelling expansion: the
/// catalogue changed between two statements of one SQL path search.
struct PathEdgeVanished : std::runtime_error {
  PathEdgeVanished() : std::runtime_error("path edge vanished while labelling") {}
};

}  // namespace psvc::graph

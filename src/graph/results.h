#pragma once
/// Answers of the four graph primitives, whichever engine computed them.

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "graph/edge_type.h"

namespace psvc::graph {

/// One edge from an expanded node.
struct Edge {
  std::string node_id;
  EdgeType type;
  std::string via_id;  ///< hub of a derived edge, empty for relations
};

struct NeighborsResult {
  bool start_found = false;
  std::vector<Edge> edges;
};

/// A node reached by KHop and how.
struct KHopNode {
  std::string node_id;
  int depth = 0;
  EdgeType type = EdgeType::kOther;
  std::string parent_id;
  std::string via_id;
};

struct KHopResult {
  bool start_found = false;
  bool truncated = false;
  std::vector<KHopNode> nodes;
};

/// A step of a path: the node and the edge that reached it (none for the first).
struct PathStep {
  std::string node_id;
  std::optional<EdgeType> type;
  std::string via_id;
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

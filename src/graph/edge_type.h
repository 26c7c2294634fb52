#pragma once
/// The graph's edge vocabulary (values match anime.graph.v1.EdgeType).

#include <array>
#include <optional>
#include <string_view>
#include <vector>

namespace psvc::graph {

/// Relation types first (rows of anime_relation), then the derived, hub-joined edges.
enum class EdgeType : int {
  kSequel = 1,
  kPrequel = 2,
  kSideStory = 3,
  kAlternative = 4,
  kSummary = 5,
  kFullStory = 6,
  kCharacter = 7,
  kSpinOff = 8,
  kAdaptation = 9,
  kOther = 10,
  kSameStudio = 11,
  kCoAppears = 12,
  kAdaptedFrom = 13,
};

inline constexpr int kFirstEdgeType = 1;
inline constexpr int kLastEdgeType = 13;
inline constexpr int kLastRelationType = 10;

/// "SEQUEL", "SAME_STUDIO", ...: the relation_type text for relation edges.
std::string_view EdgeTypeName(EdgeType type);
std::optional<EdgeType> EdgeTypeFromName(std::string_view name);
std::optional<EdgeType> EdgeTypeFromInt(int value);
bool IsRelation(EdgeType type);
/// The same edge seen from the other end (SEQUEL → PREQUEL; derived edges are symmetric).
EdgeType Inverse(EdgeType type);

/// Which edges a traversal may follow; built from a request's list (empty = all).
struct EdgeFilter {
  std::vector<std::string_view> relation_types;  ///< relation_type texts to follow
  bool same_studio = true;
  bool co_appears = true;
  bool adapted_from = true;

  static EdgeFilter All();
  static EdgeFilter Of(const std::vector<EdgeType>& types);
  bool Empty() const { return relation_types.empty() && !same_studio && !co_appears && !adapted_from; }
};

}  // namespace psvc::graph

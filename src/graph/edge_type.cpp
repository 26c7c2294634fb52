#include "graph/edge_type.h"

#include <algorithm>

namespace psvc::graph {

namespace {
constexpr std::array<std::string_view, 14> kNames = {
    "",           "SEQUEL",    "PREQUEL",    "SIDE_STORY", "ALTERNATIVE",
    "SUMMARY",    "FULL_STORY", "CHARACTER", "SPIN_OFF",   "ADAPTATION",
    "OTHER",      "SAME_STUDIO", "CO_APPEARS", "ADAPTED_FROM"};
}

std::string_view EdgeTypeName(EdgeType type) { return kNames[static_cast<int>(type)]; }

std::optional<EdgeType> EdgeTypeFromName(std::string_view name) {
  for (int i = kFirstEdgeType; i <= kLastEdgeType; ++i) {
    if (kNames[i] == name) return static_cast<EdgeType>(i);
  }
  return std::nullopt;
}

std::optional<EdgeType> EdgeTypeFromInt(int value) {
  if (value < kFirstEdgeType || value > kLastEdgeType) return std::nullopt;
  return static_cast<EdgeType>(value);
}

bool IsRelation(EdgeType type) { return static_cast<int>(type) <= kLastRelationType; }

EdgeType Inverse(EdgeType type) {
  // Mirrors psvc_inverse_relation() in migrations/0001_catalogue.sql.
  switch (type) {
    case EdgeType::kSequel: return EdgeType::kPrequel;
    case EdgeType::kPrequel: return EdgeType::kSequel;
    case EdgeType::kSideStory: return EdgeType::kFullStory;
    case EdgeType::kSummary: return EdgeType::kFullStory;
    case EdgeType::kFullStory: return EdgeType::kSideStory;
    case EdgeType::kSpinOff: return EdgeType::kOther;
    default: return type;
  }
}

EdgeFilter EdgeFilter::All() {
  EdgeFilter f;
  for (int i = kFirstEdgeType; i <= kLastRelationType; ++i) f.relation_types.push_back(kNames[i]);
  return f;
}

EdgeFilter EdgeFilter::Of(const std::vector<EdgeType>& types) {
  if (types.empty()) return All();
  EdgeFilter f;
  f.same_studio = f.co_appears = f.adapted_from = false;
  for (EdgeType t : types) {
    if (IsRelation(t)) {
      auto name = EdgeTypeName(t);
      if (std::find(f.relation_types.begin(), f.relation_types.end(), name) ==
          f.relation_types.end()) {
        f.relation_types.push_back(name);
      }
    } else if (t == EdgeType::kSameStudio) {
      f.same_studio = true;
    } else if (t == EdgeType::kCoAppears) {
      f.co_appears = true;
    } else {
      f.adapted_from = true;
    }
  }
  return f;
}

}  // namespace psvc::graph

#include "graph/limits.h"

namespace psvc::graph {

std::optional<std::string> ResolveLimit(const RequestedLimit& r, int& out,
                                        std::vector<std::string>& clamped) {
  if (r.value < 0) {
    return std::string(r.field) + ": must not be negative (got " + std::to_string(r.value) +
           "); 0 means the default " + std::to_string(r.default_value) + ", the maximum is " +
           std::to_string(r.cap);
  }
  if (r.value == 0) {
    out = r.default_value;
  } else if (r.value > r.cap) {
    out = r.cap;
    clamped.emplace_back(r.field);
  } else {
    out = r.value;
  }
  return std::nullopt;
}

}  // namespace psvc::graph

#pragma once
/// Server-side caps for traversal requests: defaults, clamping and validation.

#include <optional>
#include <string>
#include <vector>

namespace psvc::graph {

/// The caps in force. Requests can lower them, never raise them.
struct LimitCaps {
  int max_hops = 5;
  int max_fanout_per_hop = 50;
  int max_results = 50;
  int hub_window = 10;
  int default_hops = 2;
  int default_fanout = 20;
  int default_results = 20;
  int default_path_hops = 5;
  int path_node_budget = 20000;
};

/// The limits one request runs with, and which fields were clamped.
struct AppliedLimits {
  int max_hops = 0;
  int max_fanout_per_hop = 0;
  int max_results = 0;
  int hub_window = 0;
  std::vector<std::string> clamped;
};

/// One field as sent (0 = absent).
struct RequestedLimit {
  const char* field;
  int value;
  int default_value;
  int cap;
};

/// Resolves a requested value: 0 → default, above cap → cap (recorded in `clamped`),
/// negative → an error message naming the field.
std::optional<std::string> ResolveLimit(const RequestedLimit& r, int& out,
                                        std::vector<std::string>& clamped);

}  // namespace psvc::graph

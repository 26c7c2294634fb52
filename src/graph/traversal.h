#pragma once
/// The traversal rules of k_hop and path (docs/graph.md), written once over any source of
/// neighbour expansions: the SQL engine expands with one statement per level, the memory
/// engine from its adjacency. Both engines answer alike because only the expansion differs.
///
/// A Source provides:
///   using Id = ...;                       // a node (hashable)
///   bool Less(const Id&, const Id&);      // UUID order
///   struct Row { Id src, dst; EdgeType type; Via via; };
///   std::vector<Row> Expand(const std::vector<Id>& frontier, const EdgeFilter&,
///                           int hub_window, const std::unordered_set<Id>& exclude,
///                           int per_node, bool reverse);
///   // (or a const reference to rows the source keeps until its next Expand)
///   std::vector<Id> Existing(const std::vector<Id>& ids);
///   // optional: whether Expand(frontier, filter, hub_window, exclude, 1, false) would return
///   // any row, answered without listing them (k_hop's check for truncation once it is full)
///   bool AnyNew(const std::vector<Id>& frontier, const EdgeFilter&, int hub_window,
///               const std::unordered_set<Id>& exclude);
///   std::string Text(const Id&);          // the UUID
///   std::string ViaText(const Via&);      // the hub UUID, empty for relations

#include <algorithm>
#include <concepts>
#include <map>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "graph/edge_type.h"
#include "graph/limits.h"
#include "graph/results.h"

namespace psvc::graph {

/// Path search follows every neighbour: the hub window already bounds a node's degree, and a
/// per-node cap would make the search direction-dependent.
inline constexpr int kUnlimitedPerNode = 1'000'000;

template <typename Source>
NeighborsResult RunNeighbors(Source& src, const typename Source::Id& id, const EdgeFilter& filter,
                             int limit, int hub_window) {
  NeighborsResult out;
  const auto& rows = src.Expand({id}, filter, hub_window, {id}, limit, false);
  out.edges.reserve(rows.size());
  for (auto& row : rows) out.edges.push_back({src.Text(row.dst), row.type, src.ViaText(row.via)});
  // Edges imply the node exists; only an empty answer needs the extra look-up.
  out.start_found = !out.edges.empty() || !src.Existing({id}).empty();
  return out;
}

/// A source that answers from memory: it can say whether a frontier has any neighbour not
/// reached yet without listing them, and a one-node expansion costs no round trip.
template <typename Source>
concept InMemorySource = requires(Source& src, const std::vector<typename Source::Id>& frontier,
                                  const EdgeFilter& filter,
                                  const std::unordered_set<typename Source::Id>& exclude) {
  { src.AnyNew(frontier, filter, 0, exclude) } -> std::same_as<bool>;
};

/// Breadth-first, one depth at a time. Each expanded node contributes at most
/// max_fanout_per_hop new nodes, in its neighbour order; neighbours already reached (at an
/// earlier depth or earlier at this depth) do not count. `truncated` is set only when a node
/// that would have been added was left out by max_results.
///
/// A database source expands a whole depth at once (one statement); an in-memory one node by
/// node, excluding what is reached so far, and once the results are full it only asks whether
/// any node left would have added one. Both give the same answer: a node's rows are its
/// neighbours not reached yet, in its neighbour order, either way.
template <typename Source>
KHopResult RunKHop(Source& src, const typename Source::Id& id, const EdgeFilter& filter,
                   const AppliedLimits& limits) {
  using Id = typename Source::Id;
  KHopResult out;
  out.nodes.reserve(static_cast<size_t>(std::max(limits.max_results, 0)));
  std::unordered_set<Id> visited{id};
  visited.reserve(static_cast<size_t>(std::max(limits.max_results, 0)) + 1);
  std::vector<Id> frontier{id};
  const int fanout = limits.max_fanout_per_hop;
  auto full = [&] { return static_cast<int>(out.nodes.size()) == limits.max_results; };
  // Takes `row` unless its node already contributed `fanout` or it was reached; false when the
  // results are full (and the row would have been added: truncated).
  int taken = 0;
  std::vector<Id> next;
  auto take = [&](auto& row, int depth) {
    if (taken == fanout || visited.contains(row.dst)) return true;
    if (full()) {
      out.truncated = true;
      return false;
    }
    ++taken;
    visited.insert(row.dst);
    next.push_back(row.dst);
    out.nodes.push_back(
        {src.Text(row.dst), depth, row.type, src.Text(row.src), src.ViaText(row.via)});
    return true;
  };
  for (int depth = 1; depth <= limits.max_hops && !frontier.empty() && !out.truncated; ++depth) {
    next.clear();
    if constexpr (InMemorySource<Source>) {
      std::vector<Id> one(1);
      for (size_t i = 0; i < frontier.size() && !out.truncated; ++i) {
        if (full()) {
          // Nothing more is added; truncated when a node left has a neighbour not reached.
          std::vector<Id> rest(frontier.begin() + static_cast<std::ptrdiff_t>(i), frontier.end());
          out.truncated = fanout > 0 && src.AnyNew(rest, filter, limits.hub_window, visited);
          break;
        }
        one[0] = frontier[i];
        taken = 0;
        for (auto& row : src.Expand(one, filter, limits.hub_window, visited, fanout, false)) {
          if (!take(row, depth)) break;
        }
      }
    } else {
      const int remaining = limits.max_results - static_cast<int>(out.nodes.size());
      // A node's first `fanout` new neighbours are among its first fanout + (nodes added at
      // this depth so far) candidates, and at most `remaining` nodes are added at this depth.
      auto rows =
          src.Expand(frontier, filter, limits.hub_window, visited, fanout + remaining, false);
      std::optional<Id> current;
      for (auto& row : rows) {
        if (!current || !(*current == row.src)) {
          current = row.src;
          taken = 0;
        }
        if (!take(row, depth)) break;
      }
    }
    frontier = std::move(next);
  }
  out.start_found = !out.nodes.empty() || !src.Existing({id}).empty();
  return out;
}

/// Bidirectional breadth-first search, one expansion per level of the smaller frontier; the
/// backward side expands in reverse so every step is allowed as seen walking from `from`.
template <typename Source>
PathResult RunPath(Source& src, const typename Source::Id& from, const typename Source::Id& to,
                   const EdgeFilter& filter, int max_hops, int hub_window, int node_budget) {
  using Id = typename Source::Id;
  PathResult out;
  auto existing = src.Existing({from, to});
  out.from_found = std::find(existing.begin(), existing.end(), from) != existing.end();
  out.to_found = std::find(existing.begin(), existing.end(), to) != existing.end();
  if (!out.from_found || !out.to_found) return out;
  if (from == to) {
    out.found = true;
    out.steps.push_back({src.Text(from), std::nullopt, ""});
    return out;
  }

  struct Reached {
    std::optional<Id> parent;
    int dist = 0;
  };
  struct Side {
    std::unordered_map<Id, Reached> reached;
    std::vector<Id> frontier;
    int depth = 0;
  };
  Side fwd, bwd;
  fwd.reached[from] = {};
  fwd.frontier = {from};
  bwd.reached[to] = {};
  bwd.frontier = {to};
  const std::unordered_set<Id> none;

  std::optional<Id> meet;
  while (fwd.depth + bwd.depth < max_hops) {
    bool forward = fwd.frontier.size() <= bwd.frontier.size();
    Side& side = forward ? fwd : bwd;
    Side& other = forward ? bwd : fwd;
    const auto& rows =
        src.Expand(side.frontier, filter, hub_window, none, kUnlimitedPerNode, !forward);
    ++side.depth;
    std::vector<Id> next;
    int best_total = -1;
    for (auto& row : rows) {
      if (side.reached.contains(row.dst)) continue;
      side.reached[row.dst] = {row.src, side.depth};
      next.push_back(row.dst);
      if (auto it = other.reached.find(row.dst); it != other.reached.end()) {
        int total = side.depth + it->second.dist;
        // Shortest total first; among equals the smallest meeting id, so answers are stable.
        if (best_total < 0 || total < best_total ||
            (total == best_total && src.Less(row.dst, *meet))) {
          best_total = total;
          meet = row.dst;
        }
      }
    }
    if (meet) break;
    if (next.empty()) return out;  // this side's component is exhausted: no path at all
    if (static_cast<int>(fwd.reached.size() + bwd.reached.size()) > node_budget) {
      out.truncated = true;
      return out;
    }
    side.frontier = std::move(next);
  }
  if (!meet) return out;

  std::vector<Id> chain;
  for (std::optional<Id> n = meet; n; n = fwd.reached[*n].parent) chain.push_back(*n);
  std::reverse(chain.begin(), chain.end());
  for (std::optional<Id> n = bwd.reached[*meet].parent; n; n = bwd.reached[*n].parent) {
    chain.push_back(*n);
  }

  // Label each hop as seen from its earlier node: the edge its neighbour list reports.
  std::vector<Id> sources(chain.begin(), chain.end() - 1);
  std::map<std::pair<Id, Id>, std::pair<EdgeType, std::string>> label;
  for (auto& row : src.Expand(sources, filter, hub_window, none, kUnlimitedPerNode, false)) {
    label.try_emplace({row.src, row.dst}, row.type, src.ViaText(row.via));
  }
  out.steps.push_back({src.Text(chain.front()), std::nullopt, ""});
  for (size_t i = 1; i < chain.size(); ++i) {
    auto it = label.find({chain[i - 1], chain[i]});
    if (it == label.end()) throw PathEdgeVanished{};
    out.steps.push_back({src.Text(chain[i]), it->second.first, it->second.second});
  }
  out.found = true;
  return out;
}

}  // namespace psvc::graph

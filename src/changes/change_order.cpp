#include "changes/change_order.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <string>
#include <tuple>
#include <unordered_map>

namespace psvc::changes {

namespace {

// The integer value of a top-level key in JSON the service wrote itself (hand-written
// payloads are compact, json_build_object's have spaces around ':'). A key-like string that is
// a value (a name in "fields") is never followed by ':' and is skipped.
std::optional<int64_t> IntField(std::string_view json, std::string_view key) {
  std::string quoted = "\"" + std::string(key) + "\"";
  for (size_t at = json.find(quoted); at != std::string_view::npos;
       at = json.find(quoted, at + 1)) {
    size_t i = at + quoted.size();
    while (i < json.size() && json[i] == ' ') ++i;
    if (i >= json.size() || json[i] != ':') continue;
    ++i;
    while (i < json.size() && json[i] == ' ') ++i;
    int64_t v = 0;
    auto [end, ec] = std::from_chars(json.data() + i, json.data() + json.size(), v);
    if (ec != std::errc()) return std::nullopt;
    return v;
  }
  return std::nullopt;
}

}  // namespace

std::optional<int64_t> PayloadVersion(std::string_view payload) {
  return IntField(payload, "version");
}

std::optional<int64_t> PayloadViewCount(std::string_view payload) {
  return IntField(payload, "view_count");
}

namespace {

using Key = std::tuple<int64_t, int, int64_t>;

// A view reads the version the last write set and never sets one, so at an equal version the
// write came first, and views among themselves come by their growing total.
std::optional<Key> CommitKey(const Change& c) {
  auto v = PayloadVersion(c.payload);
  if (!v || *v <= 0) return std::nullopt;
  const bool view = c.event_type == "AnimeViewed";
  return Key{*v, view ? 1 : 0, view ? PayloadViewCount(c.payload).value_or(0) : 0};
}

}  // namespace

bool CommittedBefore(const Change& a, const Change& b) {
  if (a.anime_id != b.anime_id) return false;
  auto ka = CommitKey(a), kb = CommitKey(b);
  return ka && kb && *ka < *kb;
}

uint64_t HoldBackCut(const std::vector<Change>& window, const std::vector<Change>& held) {
  constexpr uint64_t kNone = std::numeric_limits<uint64_t>::max();
  // Per anime, the earliest commit among the rows held back so far.
  std::unordered_map<std::string, Key> earliest_held;
  auto hold = [&](const Change& c) {
    if (auto k = CommitKey(c)) {
      auto [it, inserted] = earliest_held.emplace(c.anime_id, *k);
      if (!inserted && *k < it->second) it->second = *k;
    }
  };
  for (const auto& h : held) hold(h);
  std::vector<std::pair<uint64_t, const Change*>> rows;  // window rows in xid order, keyed
  std::vector<std::optional<Key>> keys;
  for (const auto& c : window) rows.emplace_back(c.xid, &c);
  std::sort(rows.begin(), rows.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [xid, c] : rows) keys.push_back(CommitKey(*c));
  // Holding rows back can make more rows wait (a held row of another transaction's anime), so
  // lower the cut until it is stable. Each round holds at least one more transaction.
  uint64_t cut = kNone;
  for (;;) {
    uint64_t lowest = kNone;
    for (size_t i = 0; i < rows.size() && rows[i].first < cut; ++i) {
      if (!keys[i]) continue;
      auto it = earliest_held.find(rows[i].second->anime_id);
      if (it != earliest_held.end() && it->second < *keys[i]) {
        lowest = rows[i].first;
        break;  // rows are in xid order: the first found is the lowest
      }
    }
    if (lowest == kNone) return cut;
    for (size_t i = 0; i < rows.size(); ++i) {
      if (rows[i].first >= lowest && rows[i].first < cut) hold(*rows[i].second);
    }
    cut = lowest;
  }
}

void OrderBatch(std::vector<Change>& changes) {
  std::stable_sort(changes.begin(), changes.end(), [](const Change& a, const Change& b) {
    return std::tie(a.xid, a.outbox_id) < std::tie(b.xid, b.outbox_id);
  });
  // Per anime, the positions of its versioned rows, in the order above.
  std::unordered_map<std::string, std::vector<size_t>> versioned;
  std::vector<std::optional<Key>> keys(changes.size());
  for (size_t i = 0; i < changes.size(); ++i) {
    keys[i] = CommitKey(changes[i]);
    if (keys[i]) versioned[changes[i].anime_id].push_back(i);
  }
  auto key = [&](size_t i) {
    return std::tuple_cat(*keys[i], std::tie(changes[i].xid, changes[i].outbox_id));
  };
  for (auto& entry : versioned) {
    std::vector<size_t>& positions = entry.second;
    if (positions.size() < 2) continue;
    std::vector<size_t> order = positions;
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return key(a) < key(b); });
    if (order == positions) continue;
    std::vector<Change> moved;
    moved.reserve(order.size());
    for (size_t i : order) moved.push_back(std::move(changes[i]));
    for (size_t k = 0; k < positions.size(); ++k) changes[positions[k]] = std::move(moved[k]);
  }
}

}  // namespace psvc::changes

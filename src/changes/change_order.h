#pragma once
/// How the feed orders the changes of one batch (pure; see change_feed.cpp for the why).

#include <optional>
#include <string_view>
#include <vector>

#include "changes/change_source.h"

namespace psvc::changes {

/// The anime `version` an outbox payload carries (absent or 0 for event types that do not
/// bump or read it: AnimeRelationsChanged and the saga events).
std::optional<int64_t> PayloadVersion(std::string_view payload);
/// The `view_count` of an AnimeViewed payload.
std::optional<int64_t> PayloadViewCount(std::string_view payload);

/// True when `a` and `b` name the same anime, both carry a version, and those say `a` was
/// committed before `b` (a version set before the views that read it; views by their count).
bool CommittedBefore(const Change& a, const Change& b);

/// Where a poll's window must end so that no anime's change is delivered before one committed
/// earlier: `window` holds the rows below the tentative watermark, `held` the committed rows at
/// or above it (not deliverable yet). Returns the lowest xid to hold back from `window` with
/// everything above it (max() when nothing is held), such that no delivered row has a change
/// of its anime committed before it among the held ones.
uint64_t HoldBackCut(const std::vector<Change>& window, const std::vector<Change>& held);

/// Puts `changes` (any order) into the order the feed delivers: transactions in xid order,
/// each transaction's rows in id (insert) order; then, per anime, the rows that carry a
/// version are permuted among their own positions into commit order: by version, a row that
/// set a version before the AnimeViewed rows that read it, views by their view_count. Two
/// writers of one anime serialise on its row lock and the later commit sees the earlier's
/// version, so this is their commit order even when the later one holds the older xid.
void OrderBatch(std::vector<Change>& changes);

}  // namespace psvc::changes

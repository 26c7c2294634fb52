#include "write/view_counter.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <stop_token>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "db/array_literal.h"
#include "db/connection.h"
#include "db/error.h"
#include "db/pool.h"
#include "ids/uuid.h"
#include "write/view_statements.h"

namespace psvc::write {

namespace {
using Clock = std::chrono::steady_clock;

// What this replica last learned about an anime.
struct Known {
  std::string merged_into;  // empty: live
  int64_t view_count = 0;   // as of the last look or flush
  int64_t version = 0;
  Clock::time_point checked_at;
};
}  // namespace

struct ViewCounter::Impl {
  db::Pool& pool;
  ViewCounterOptions opt;

  mutable std::mutex mu;
  std::unordered_map<std::string, int64_t> pending;  // views not yet flushed
  // The batch being written, or that failed and waits for its retry under the same id.
  std::unordered_map<std::string, int64_t> in_flight;
  std::string batch_id;
  std::unordered_map<std::string, Known> known;
  std::unordered_set<std::string> seen_ids;
  std::deque<std::pair<Clock::time_point, std::string>> seen_order;
  ViewCounterStats stats;

  std::mutex flush_mu;  // one flush at a time (the timer, Stop, a caller)
  std::jthread flusher;
  std::condition_variable_any wake;
  std::atomic<bool> flush_requested{false};  // the pending bound was reached: flush now

  Impl(db::Pool& p, ViewCounterOptions o) : pool(p), opt(o) {}

  std::optional<Known> Lookup(const std::string& anime_id);
  ViewRecord Answer(const std::string& anime_id, const Known& k, ViewRecord::Outcome outcome);
  // A view id is looked for before the pending bound is checked and remembered only once its
  // view counts: a refused view's retry must not be taken for a duplicate.
  bool SeenBefore(const std::string& view_id, Clock::time_point now);
  void Remember(const std::string& view_id, Clock::time_point now);
  int64_t Flush();
  int64_t WriteBatch();
};

std::optional<Known> ViewCounter::Impl::Lookup(const std::string& anime_id) {
  auto conn = pool.Acquire(opt.acquire_timeout);
  auto r = conn->Execute(sql::kViewTarget, {anime_id});
  Known k;
  k.checked_at = Clock::now();
  if (!r.IsNull(0, 0)) {
    k.view_count = r.GetInt64(0, 0);
    k.version = r.GetInt64(0, 1);
  } else if (!r.IsNull(0, 2)) {
    k.merged_into = std::string(r.Get(0, 2));
  } else {
    return std::nullopt;  // unknown or removed: not remembered (it may be created later)
  }
  return k;
}

ViewRecord ViewCounter::Impl::Answer(const std::string& anime_id, const Known& k,
                                     ViewRecord::Outcome outcome) {
  ViewRecord out;
  out.outcome = outcome;
  out.version = k.version;
  out.view_count = k.view_count;
  if (auto it = in_flight.find(anime_id); it != in_flight.end()) out.view_count += it->second;
  if (auto it = pending.find(anime_id); it != pending.end()) out.view_count += it->second;
  return out;
}

bool ViewCounter::Impl::SeenBefore(const std::string& view_id, Clock::time_point now) {
  while (!seen_order.empty() && (now - seen_order.front().first > opt.dedup_window ||
                                 seen_order.size() >= opt.dedup_capacity)) {
    seen_ids.erase(seen_order.front().second);
    seen_order.pop_front();
  }
  return seen_ids.contains(view_id);
}

void ViewCounter::Impl::Remember(const std::string& view_id, Clock::time_point now) {
  seen_ids.insert(view_id);
  seen_order.emplace_back(now, view_id);
}

ViewCounter::ViewCounter(db::Pool& pool, ViewCounterOptions options)
    : impl_(std::make_unique<Impl>(pool, options)) {}

ViewCounter::~ViewCounter() { Stop(); }

ViewRecord ViewCounter::Record(const std::string& anime_id, const std::string& view_id) {
  Impl& s = *impl_;
  auto now = Clock::now();
  std::optional<Known> fresh;
  bool remembered = false;
  {
    std::lock_guard lock(s.mu);
    auto it = s.known.find(anime_id);
    if (it != s.known.end()) {
      remembered = true;
      if (now - it->second.checked_at <= s.opt.status_ttl) fresh = it->second;
    }
  }
  bool unverified = false;
  if (!fresh) {  // looked up outside the lock; two concurrent look-ups of one id are harmless
    try {
      fresh = s.Lookup(anime_id);
    } catch (const db::DbError&) {
      // The database is unreachable or failing. An anime this replica knew keeps counting on
      // its last known status (a merge or removal meanwhile is resolved by the flush); one it
      // never saw cannot be told from an unknown id, so the error goes to the caller.
      if (!remembered) throw;
      unverified = true;
    }
    if (!fresh && !unverified) return ViewRecord{};  // kNotFound
  }
  std::lock_guard lock(s.mu);
  Known& k = s.known[anime_id];
  if (unverified) {
    k.checked_at = now;  // trusted for another status_ttl: one failed look-up per anime per ttl
  } else if (k.checked_at <= fresh->checked_at) {
    k = *fresh;
  }
  if (!k.merged_into.empty()) {
    ViewRecord out;
    out.outcome = ViewRecord::Outcome::kMerged;
    out.merged_into = k.merged_into;
    return out;
  }
  if (!view_id.empty() && s.SeenBefore(view_id, now)) {
    ++s.stats.duplicates;
    return s.Answer(anime_id, k, ViewRecord::Outcome::kDuplicate);
  }
  auto pending = s.pending.find(anime_id);
  if (pending == s.pending.end()) {
    // A new entry: the memory bound counts the anime of a batch under way (or waiting for
    // its retry) too; an anime already in that batch is no new anime.
    if (!s.in_flight.contains(anime_id) &&
        s.pending.size() + s.in_flight.size() >= s.opt.max_pending_anime) {
      ++s.stats.refused;
      s.flush_requested = true;
      s.wake.notify_all();
      ViewRecord out;
      out.outcome = ViewRecord::Outcome::kRefused;
      return out;
    }
    pending = s.pending.emplace(anime_id, 0).first;
  }
  if (!view_id.empty()) s.Remember(view_id, now);
  ++pending->second;
  ++s.stats.counted;
  if (unverified) ++s.stats.counted_unverified;
  return s.Answer(anime_id, k, ViewRecord::Outcome::kCounted);
}

int64_t ViewCounter::Impl::Flush() {
  std::lock_guard flush_lock(flush_mu);
  // A batch that failed is retried whole under its id before the views pending since: its
  // first attempt may have committed, and only the recorded id can tell.
  int64_t written = 0;
  for (int round = 0; round < 2; ++round) {
    {
      std::lock_guard lock(mu);
      if (in_flight.empty()) {
        if (pending.empty()) break;
        in_flight.swap(pending);
        batch_id = ids::RandomUuid();
      }
    }
    written += WriteBatch();
  }
  return written;
}

int64_t ViewCounter::Impl::WriteBatch() {
  // in_flight and batch_id change only under flush_mu, which the caller holds.
  std::vector<std::string> ids, counts;
  ids.reserve(in_flight.size());
  int64_t total = 0;
  for (const auto& [id, n] : in_flight) {
    ids.push_back(id);
    counts.push_back(std::to_string(n));
    total += n;
  }
  try {
    auto conn = pool.Acquire(opt.acquire_timeout);
    db::Transaction tx(*conn);
    if (conn->Execute(sql::kClaimViewFlush, {batch_id}).rows() == 0) {
      // This batch committed before, though its flush was reported failed: done.
      tx.Commit();
      std::lock_guard lock(mu);
      auto stale = Clock::time_point{};  // counts re-read at the next look-up
      for (const auto& [id, n] : in_flight) {
        if (auto it = known.find(id); it != known.end()) it->second.checked_at = stale;
      }
      in_flight.clear();
      ++stats.flushes;
      ++stats.flush_retries_found_applied;
      stats.flushed += static_cast<uint64_t>(total);
      spdlog::info("views: a retried flush of {} views had committed before; not written again",
                   total);
      return total;
    }
    auto counted =
        conn->Execute(sql::kFlushViews, {db::ArrayLiteral(ids), db::ArrayLiteral(counts)});
    std::unordered_map<std::string, std::pair<int64_t, int64_t>> written;  // id -> count, version
    for (int r = 0; r < counted.rows(); ++r) {
      written.emplace(std::string(counted.Get(r, 0)),
                      std::pair{counted.GetInt64(r, 1), counted.GetInt64(r, 2)});
    }
    // Ids that were merged (or removed) after their views were accepted: a merge's
    // finalization moved the views flushed before it to the survivor, so these follow the
    // redirect too; views of a removed anime go with it.
    std::vector<std::string> missing;
    for (const auto& id : ids) {
      if (!written.contains(id)) missing.push_back(id);
    }
    std::unordered_map<std::string, std::string> survivor_of;
    uint64_t redirected = 0, dropped = 0;
    if (!missing.empty()) {
      auto redirects = conn->Execute(sql::kViewRedirects, {db::ArrayLiteral(missing)});
      for (int r = 0; r < redirects.rows(); ++r) {
        survivor_of.emplace(std::string(redirects.Get(r, 0)), std::string(redirects.Get(r, 1)));
      }
      std::vector<std::string> to_ids, to_counts;
      for (const auto& id : missing) {
        auto n = in_flight.at(id);
        if (auto it = survivor_of.find(id); it != survivor_of.end()) {
          to_ids.push_back(it->second);
          to_counts.push_back(std::to_string(n));
          redirected += static_cast<uint64_t>(n);
        } else {
          dropped += static_cast<uint64_t>(n);
        }
      }
      if (!to_ids.empty()) {
        auto moved = conn->Execute(sql::kFlushViews,
                                   {db::ArrayLiteral(to_ids), db::ArrayLiteral(to_counts)});
        for (int r = 0; r < moved.rows(); ++r) {
          written[std::string(moved.Get(r, 0))] = {moved.GetInt64(r, 1), moved.GetInt64(r, 2)};
        }
      }
    }
    tx.Commit();
    if (opt.after_commit) opt.after_commit();
    std::lock_guard lock(mu);
    auto now = Clock::now();
    for (const auto& [id, cv] : written) {
      Known& k = known[id];
      k = Known{"", cv.first, cv.second, now};
    }
    for (const auto& [from, to] : survivor_of) known[from] = Known{to, 0, 0, now};
    in_flight.clear();
    ++stats.flushes;
    stats.flushed += static_cast<uint64_t>(total) - dropped;
    stats.redirected += redirected;
    stats.dropped += dropped;
    if (dropped > 0) spdlog::warn("views: {} views of removed anime were not counted", dropped);
    return total - static_cast<int64_t>(dropped);
  } catch (...) {
    std::lock_guard lock(mu);
    ++stats.flush_failures;  // the batch stays in_flight, whole, for its retry
    throw;
  }
}

int64_t ViewCounter::Flush() { return impl_->Flush(); }

void ViewCounter::Start() {
  Impl& s = *impl_;
  if (s.flusher.joinable()) return;
  s.flusher = std::jthread([&s](std::stop_token stop) {
    std::mutex sleep_mu;
    bool failed = false;
    while (!stop.stop_requested()) {
      {
        // A full pending bound asks for an early flush, but not right after a failed one: a
        // refused view per request must not turn into a connection attempt per request.
        std::unique_lock lock(sleep_mu);
        s.wake.wait_for(lock, stop, s.opt.flush_interval,
                        [&s, &failed] { return !failed && s.flush_requested.load(); });
      }
      if (stop.stop_requested()) break;
      s.flush_requested = false;
      try {
        s.Flush();
        failed = false;
      } catch (const std::exception& e) {
        failed = true;
        spdlog::warn("views: flush failed, views kept for the next one: {}", e.what());
      }
    }
  });
}

void ViewCounter::Stop() {
  Impl& s = *impl_;
  if (s.flusher.joinable()) {
    s.flusher.request_stop();
    s.flusher.join();
  }
  // The drain: what is pending is written now (a few attempts, then the loss is logged).
  for (int attempt = 1;; ++attempt) {
    try {
      s.Flush();
      return;
    } catch (const std::exception& e) {
      if (attempt == 3) {
        spdlog::error("views: {} pending views lost at shutdown: {}", stats().pending, e.what());
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200 * attempt));
    }
  }
}

ViewCounterStats ViewCounter::stats() const {
  std::lock_guard lock(impl_->mu);
  ViewCounterStats out = impl_->stats;
  for (const auto& [id, n] : impl_->pending) out.pending += n;
  out.pending_anime = static_cast<int64_t>(impl_->pending.size());
  for (const auto& [id, n] : impl_->in_flight) {
    out.pending += n;
    if (!impl_->pending.contains(id)) ++out.pending_anime;
  }
  return out;
}

db::StatementList ViewCounter::Statements() {
  static constexpr const db::Statement* kAll[] = {&sql::kViewTarget, &sql::kClaimViewFlush,
                                                  &sql::kFlushViews, &sql::kViewRedirects};
  return kAll;
}

}  // namespace psvc::write

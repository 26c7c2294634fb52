#include "changes/change_feed.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

#include "changes/change_order.h"
#include "changes/change_statements.h"
#include "db/array_literal.h"
#include "db/connection.h"
#include "db/error.h"
#include "db/notifications.h"
#include "events/backoff.h"
#include "observability/metrics.h"

// Why it is built this way (docs/architecture.md has the long form):
//  - The watermark is the xmin of the poll's own snapshot. Every transaction below it has
//    finished, so rows with xid in [previous watermark, xmin) are complete and final: read once,
//    never missed, whatever order the transactions committed in. A transaction that started
//    early and commits late holds xmin (and the feed) back until it ends.
//  - A NOTIFY says "some transaction committed" before the next poll's snapshot, so that
//    transaction is below that poll's xmax. The feed polls fast until its watermark passes the
//    xmax of the first poll after the notify, then idles: nothing notified is left behind.
//  - The rows are delivered in (xid, id) order with each anime's versioned rows put in commit
//    order (change_order.h): two writers of one anime serialise on its row lock but the later
//    commit can hold the older xid; both are then in one batch, since the older holds xmin back.
//  - One connection in autocommit: no snapshot is held between polls.

namespace psvc::changes {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kStatementTimeout = 30s;
constexpr auto kHeldBackWarning = 30s;

uint64_t XidAt(const db::Result& r, int row, int col) {
  uint64_t v = 0;
  if (!ParseXid(r.Get(row, col), &v)) {
    throw db::DbError(db::ErrorKind::kInternal, "change feed: bad xid8 text");
  }
  return v;
}

Change ChangeAt(const db::Result& r, int row, int first_col) {
  Change c;
  c.outbox_id = r.GetInt64(row, first_col);
  c.xid = XidAt(r, row, first_col + 1);
  c.anime_id = std::string(r.Get(row, first_col + 2));
  c.event_type = std::string(r.Get(row, first_col + 3));
  c.payload = std::string(r.Get(row, first_col + 4));
  return c;
}

}  // namespace

std::string FormatXid(uint64_t xid) { return std::to_string(xid); }

bool ParseXid(std::string_view text, uint64_t* xid) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *xid);
  return ec == std::errc() && end == text.data() + text.size();
}

struct ChangeFeed::Impl {
  explicit Impl(ChangeFeedOptions o) : opt(std::move(o)) {}

  ChangeFeedOptions opt;
  std::atomic<bool> stopping{false};
  int wake_read = -1;
  int wake_write = -1;
  std::thread thread;

  // Listeners: dispatch holds listeners_mu, so Unsubscribe waits for a running one.
  std::mutex listeners_mu;
  std::map<ListenerId, Listener> listeners;
  ListenerId next_listener = 1;

  // The watermark and the stats; watermark_cv wakes WaitPast.
  mutable std::mutex mu;
  mutable std::condition_variable watermark_cv;
  ChangeFeedStats stats;            // guarded by mu (stats.watermark is the watermark)
  Clock::time_point stuck_since{};  // guarded by mu: watermark unchanged while behind
  std::unique_ptr<observability::Histogram> delivery_latency;  // insert -> delivered

  // Owned by the feed thread.
  std::optional<db::Connection> db;
  uint64_t position = 0;        // next poll reads from here
  uint64_t notified_until = 0;  // fast-poll until the watermark passes this (0 = nothing)

  void Run();
  void Open();
  /// One poll; returns true when it delivered a batch that filled the limit (poll again).
  bool PollOnce();
  void Deliver(ChangeBatch batch, const std::vector<int64_t>& created_us);
  /// Below it every transaction of this database has finished (kLocalHorizon); 0 = unknown.
  uint64_t LocalHorizon();
  /// Where `window` (the rows below `above`) must end to keep each anime's changes in commit
  /// order, given the committed rows at or above `above` (HoldBackCut); max() = nowhere.
  uint64_t OrderCut(const std::vector<Change>& window, uint64_t above);
  int DrainNotifies();
  void Wait(std::chrono::milliseconds timeout);
  void Wake() const {
    char b = 1;
    [[maybe_unused]] auto n = write(wake_write, &b, 1);
  }
  void DrainWakePipe();
};

ChangeFeed::ChangeFeed(ChangeFeedOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {
  const auto& o = impl_->opt;
  if (o.database_url.empty()) throw std::invalid_argument("change feed: database_url is empty");
  if (o.batch_limit < 1) throw std::invalid_argument("change feed: batch_limit must be positive");
  if (o.fast_poll.count() < 1 || o.idle_poll < o.fast_poll) {
    throw std::invalid_argument("change feed: need 0 < fast_poll <= idle_poll");
  }
  impl_->delivery_latency = std::make_unique<observability::Histogram>(std::vector<double>{
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60});
  int fds[2];
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) throw std::runtime_error("change feed: pipe2");
  impl_->wake_read = fds[0];
  impl_->wake_write = fds[1];
  impl_->position = o.start_watermark;
  if (o.start_watermark != 0) {
    impl_->stats.watermark = o.start_watermark;
  }
}

ChangeFeed::~ChangeFeed() {
  Stop();
  close(impl_->wake_read);
  close(impl_->wake_write);
}

void ChangeFeed::Start() {
  if (impl_->thread.joinable()) return;
  impl_->stopping = false;
  impl_->thread = std::thread([this] { impl_->Run(); });
}

void ChangeFeed::Stop() {
  if (!impl_->thread.joinable()) return;
  impl_->stopping = true;
  impl_->Wake();
  impl_->thread.join();
  impl_->watermark_cv.notify_all();
}

ChangeSource::ListenerId ChangeFeed::Subscribe(Listener listener) {
  std::lock_guard lock(impl_->listeners_mu);
  ListenerId id = impl_->next_listener++;
  impl_->listeners.emplace(id, std::move(listener));
  return id;
}

void ChangeFeed::Unsubscribe(ListenerId id) {
  std::lock_guard lock(impl_->listeners_mu);
  impl_->listeners.erase(id);
}

uint64_t ChangeFeed::watermark() const {
  std::lock_guard lock(impl_->mu);
  return impl_->stats.watermark;
}

bool ChangeFeed::WaitPast(uint64_t xid, Clock::time_point deadline) const {
  std::unique_lock lock(impl_->mu);
  if (impl_->stats.watermark > xid) return true;
  impl_->Wake();  // a poll now rather than at the next interval
  return impl_->watermark_cv.wait_until(lock, deadline, [&] {
    return impl_->stats.watermark > xid || impl_->stopping.load();
  }) && impl_->stats.watermark > xid;
}

ChangeFeedStats ChangeFeed::stats() const {
  std::lock_guard lock(impl_->mu);
  ChangeFeedStats s = impl_->stats;
  if (impl_->stuck_since != Clock::time_point{}) {
    s.held_back_seconds = std::chrono::duration<double>(Clock::now() - impl_->stuck_since).count();
  }
  return s;
}

void ChangeFeed::AddMetrics(observability::MetricsRegistry& registry) {
  registry.AddCollector([this](observability::SampleWriter& w) {
    const observability::Labels l = {{"feed", impl_->opt.name}};
    ChangeFeedStats s = stats();
    const auto now = std::chrono::system_clock::now();
    const double staleness = s.last_read_at == std::chrono::system_clock::time_point{}
                                 ? -1
                                 : std::chrono::duration<double>(now - s.last_read_at).count();
    w.Add("psvc_changes_watermark", "Change feed position: every transaction below it delivered",
          "gauge", l, static_cast<double>(s.watermark));
    w.Add("psvc_changes_staleness_seconds",
          "Time since the change feed's last successful read (-1 = never read)", "gauge", l,
          staleness);
    w.Add("psvc_changes_behind_transactions",
          "Transactions at or above the watermark and below the server's next xid at the last "
          "read (in flight, or finished but held back by an older open one)",
          "gauge", l, static_cast<double>(s.behind_xids));
    w.Add("psvc_changes_held_back_seconds",
          "How long the watermark has not moved while transactions are in flight: an open "
          "transaction that wrote to this database holds every change after it back",
          "gauge", l, s.held_back_seconds);
    w.Add("psvc_changes_polls_total", "Change feed polls", "counter", l,
          static_cast<double>(s.polls));
    w.Add("psvc_changes_batches_total", "Change batches delivered", "counter", l,
          static_cast<double>(s.batches));
    w.Add("psvc_changes_total", "Changes delivered", "counter", l, static_cast<double>(s.changes));
    w.Add("psvc_changes_poll_failures_total", "Change feed polls lost to a database error",
          "counter", l, static_cast<double>(s.failures));
    w.Add("psvc_changes_order_holds_total",
          "Polls that held rows back because a later commit of the same anime had an older xid",
          "counter", l, static_cast<double>(s.order_holds));
    w.Add("psvc_changes_lost_batches_total",
          "Batches whose changes were pruned before the feed read them (consumers re-snapshot)",
          "counter", l, static_cast<double>(s.lost_batches));
    auto h = impl_->delivery_latency->snapshot();
    std::vector<uint64_t> counts;
    uint64_t prev = 0;
    for (uint64_t c : h.cumulative) {
      counts.push_back(c - prev);
      prev = c;
    }
    w.AddHistogram("psvc_changes_delivery_seconds",
                   "Outbox row insert (before its commit) to delivery to the feed's listeners",
                   h.bounds, counts, h.sum);
  });
}

uint64_t ChangeFeed::SnapshotWatermark(db::Connection& conn) {
  return XidAt(conn.Execute(sql::kCurrentWatermark), 0, 0);
}

uint64_t ChangeFeed::CurrentTransactionId(db::Connection& conn) {
  return XidAt(conn.Execute(sql::kCurrentXid), 0, 0);
}

db::StatementList ChangeFeed::Statements() {
  static constexpr const db::Statement* kAll[] = {&sql::kCurrentWatermark, &sql::kPoll,
                                                  &sql::kTransactionRows, &sql::kCommittedAbove,
                                                  &sql::kCurrentXid};
  return kAll;
}

void ChangeFeed::Impl::Run() {
  spdlog::info("change feed {}: starting at {}", opt.name,
               position ? FormatXid(position) : std::string("the current watermark"));
  events::Backoff backoff(opt.retry_initial, opt.retry_max);
  while (!stopping) {
    try {
      if (!db) Open();
      bool more = PollOnce();
      backoff.Reset();
      if (more) continue;
      bool pending = notified_until != 0 && position < notified_until;
      if (!pending) notified_until = 0;
      Wait(pending ? opt.fast_poll : opt.idle_poll);
    } catch (const db::DbError& e) {
      spdlog::warn("change feed {}: database: {}", opt.name, e.what());
      db.reset();
      {
        std::lock_guard lock(mu);
        ++stats.failures;
      }
      pollfd fd{wake_read, POLLIN, 0};
      auto d = backoff.Next();
      if (poll(&fd, 1, static_cast<int>(d.count())) > 0) DrainWakePipe();
    }
  }
  db.reset();
  spdlog::info("change feed {}: stopped at {}", opt.name, FormatXid(position));
}

void ChangeFeed::Impl::Open() {
  db.emplace(db::Connection::Open(opt.database_url));
  db->SetStatementTimeout(kStatementTimeout);
  // LISTEN before the first poll: a commit after the poll's snapshot is then notified.
  db->Exec("LISTEN qdrant_outbox");
  // A notify before the LISTEN may be lost: poll fast until everything up to now is read.
  notified_until = std::numeric_limits<uint64_t>::max();
}

bool ChangeFeed::Impl::PollOnce() {
  const bool had_notify = DrainNotifies() > 0;
  if (position == 0) {
    // No start position: begin at the current watermark (nothing before it is delivered).
    position = XidAt(db->Execute(sql::kCurrentWatermark), 0, 0);
    std::lock_guard lock(mu);
    stats.watermark = position;
    watermark_cv.notify_all();
  }
  const std::string from = FormatXid(position);
  const uint64_t horizon = LocalHorizon();
  db::Result r =
      db->Execute(sql::kPoll, {from, std::to_string(opt.batch_limit + 1), FormatXid(horizon)});
  const auto read_at = std::chrono::system_clock::now();
  const uint64_t xmin = XidAt(r, 0, 0);
  const uint64_t xmax = XidAt(r, 0, 1);
  std::optional<uint64_t> pruned;
  if (!r.IsNull(0, 2)) pruned = XidAt(r, 0, 2);
  if (had_notify || notified_until == std::numeric_limits<uint64_t>::max()) {
    // Every commit notified so far is below this snapshot's xmax.
    notified_until = notified_until == std::numeric_limits<uint64_t>::max()
                         ? xmax
                         : std::max(notified_until, xmax);
  }

  ChangeBatch batch;
  batch.from_watermark = position;
  batch.read_at = read_at;
  std::vector<int64_t> created_us;
  for (int i = 0; i < r.rows(); ++i) {
    if (r.IsNull(i, 3)) continue;  // the LEFT JOIN's row when there are no changes
    batch.changes.push_back(ChangeAt(r, i, 3));
    created_us.push_back(r.GetInt64(i, 8));
  }
  uint64_t next = xmin;
  bool more = false;
  if (batch.changes.size() > static_cast<size_t>(opt.batch_limit)) {
    more = true;
    const uint64_t last = batch.changes.back().xid;
    if (batch.changes.front().xid == last) {
      // One transaction fills the batch: deliver it whole.
      db::Result all = db->Execute(sql::kTransactionRows, {FormatXid(last)});
      batch.changes.clear();
      created_us.clear();
      for (int i = 0; i < all.rows(); ++i) {
        batch.changes.push_back(ChangeAt(all, i, 0));
        created_us.push_back(all.GetInt64(i, 5));
      }
      next = last + 1;
    } else {
      // Keep the last transaction (maybe cut short) for the next poll.
      while (!batch.changes.empty() && batch.changes.back().xid == last) {
        batch.changes.pop_back();
        created_us.pop_back();
      }
      next = last;
    }
  }
  // Committed rows at or above `next` (above xmin, or beyond a cut-short read) may include an
  // anime change committed before a row of the window: hold such rows back.
  if (next < xmax && !batch.changes.empty()) {
    if (uint64_t cut = OrderCut(batch.changes, next); cut < next) {
      while (!batch.changes.empty() && batch.changes.back().xid >= cut) {
        batch.changes.pop_back();
        created_us.pop_back();
      }
      next = cut;
      more = false;
      // Poll fast until the held rows go out (they are below xmax).
      notified_until = std::max(notified_until, xmax);
    }
  }
  // Rows of a transaction at or above our position were deleted before we read them.
  batch.changes_lost = pruned && *pruned >= position;
  batch.watermark = std::max(next, position);

  {
    std::lock_guard lock(mu);
    ++stats.polls;
    stats.last_read_at = read_at;
    stats.behind_xids = xmax > batch.watermark ? xmax - batch.watermark : 0;
    if (batch.watermark == position && xmin < xmax) {
      if (stuck_since == Clock::time_point{}) stuck_since = Clock::now();
      if (Clock::now() - stuck_since > kHeldBackWarning) {
        spdlog::warn(
            "change feed {}: held back at {} for {:.0f} s by an open transaction (see "
            "pg_stat_activity backend_xid)",
            opt.name, FormatXid(position),
            std::chrono::duration<double>(Clock::now() - stuck_since).count());
        stuck_since = Clock::now() - kHeldBackWarning / 2;  // warn again in a while, not per poll
      }
    } else {
      stuck_since = {};
    }
  }
  if (batch.changes_lost) {
    spdlog::warn("change feed {}: changes from {} were pruned before they were read", opt.name,
                 FormatXid(position));
  }
  if (batch.watermark != position || !batch.changes.empty()) {
    position = batch.watermark;
    Deliver(std::move(batch), created_us);
  }
  return more;
}

uint64_t ChangeFeed::Impl::LocalHorizon() {
  db::Result r = db->Execute(sql::kLocalHorizon);
  if (!r.GetBool(0, 2)) return 0;
  uint64_t horizon = XidAt(r, 0, 0);
  const uint64_t xmax = horizon;
  // backend_xid is the 32-bit form; every one is below xmax and within 2^31 of it.
  std::string_view list = r.Get(0, 1);  // {1,2,3}
  if (list.size() > 2)
    list = list.substr(1, list.size() - 2);
  else
    list = {};
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    uint32_t xid32 = 0;
    std::from_chars(item.data(), item.data() + item.size(), xid32);
    const uint32_t behind = static_cast<uint32_t>(xmax) - xid32;
    horizon = std::min(horizon, xmax - behind);
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
  }
  return horizon;
}

uint64_t ChangeFeed::Impl::OrderCut(const std::vector<Change>& window, uint64_t above) {
  std::vector<std::string> anime;
  for (const auto& c : window) {
    if (PayloadVersion(c.payload).value_or(0) > 0) anime.push_back(c.anime_id);
  }
  if (anime.empty()) return std::numeric_limits<uint64_t>::max();
  std::sort(anime.begin(), anime.end());
  anime.erase(std::unique(anime.begin(), anime.end()), anime.end());
  db::Result r = db->Execute(sql::kCommittedAbove, {db::ArrayLiteral(anime), FormatXid(above)});
  std::vector<Change> held;
  for (int i = 0; i < r.rows(); ++i) held.push_back(ChangeAt(r, i, 0));
  uint64_t cut = HoldBackCut(window, held);
  if (cut != std::numeric_limits<uint64_t>::max()) {
    std::lock_guard lock(mu);
    ++stats.order_holds;
  }
  return cut;
}

void ChangeFeed::Impl::Deliver(ChangeBatch batch, const std::vector<int64_t>& created_us) {
  OrderBatch(batch.changes);
  {
    std::lock_guard lock(listeners_mu);
    for (auto& [id, listener] : listeners) {
      try {
        listener(batch);
      } catch (const std::exception& e) {
        spdlog::error("change feed {}: listener {} threw: {}", opt.name, id, e.what());
      }
    }
  }
  const int64_t now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  for (int64_t us : created_us) {
    delivery_latency->Observe(static_cast<double>(now_us - us) / 1e6);
  }
  std::lock_guard lock(mu);
  ++stats.batches;
  stats.changes += batch.changes.size();
  if (batch.changes_lost) ++stats.lost_batches;
  stats.watermark = batch.watermark;
  watermark_cv.notify_all();
}

int ChangeFeed::Impl::DrainNotifies() { return db::DrainNotifications(*db); }

void ChangeFeed::Impl::Wait(std::chrono::milliseconds timeout) {
  pollfd fds[2] = {{PQsocket(db->native()), POLLIN, 0}, {wake_read, POLLIN, 0}};
  if (poll(fds, 2, static_cast<int>(timeout.count())) <= 0) return;
  if (fds[1].revents) DrainWakePipe();
  // Notifies are drained (and counted) by the next poll.
}

void ChangeFeed::Impl::DrainWakePipe() {
  char buf[64];
  while (read(wake_read, buf, sizeof buf) > 0) {
  }
}

}  // namespace psvc::changes

#include "events/outbox_relay.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

#include "db/connection.h"
#include "db/error.h"
#include "db/notifications.h"
#include "events/backoff.h"
#include "events/detail/nats_util.h"
#include "events/outbox_statements.h"

// Why it is built this way:
//  - One relay publishes at a time (session advisory lock, kept while batches succeed). With
//    row locks alone, two replicas would take consecutive batches and publish rows of the
//    same anime concurrently, i.e. possibly out of order. One publisher easily keeps up
//    (a synchronous publish is ~0.1 ms on loopback); the others are hot standbys that take
//    over at the next wake-up if the active one dies (the server releases the lock with its
//    connection) or gives it up after a failed publish.
//  - Only rows a synchronous standby holds are published: the claim is a synchronously
//    committed write (see kOutboxClaim). A row can be visible on the primary and not yet
//    replicated (a cancelled wait for the standby), and a failover would then roll it back.
//  - Publishes are synchronous, one row at a time, and a batch stops at the first failure:
//    with pipelined publishes a later row could be stored while an earlier one failed.
//  - Marking happens after the acks. If the mark is lost the rows are published again and
//    the stream drops them by Nats-Msg-Id (within the window).
//  - No transaction or lock is held across a backoff sleep.

namespace psvc::events {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kBacklogRefresh = 1s;
constexpr auto kStatementTimeout = 30s;

// bytea in text format is "\x" followed by hex digits (bytea_output = hex, the default).
std::string DecodeBytea(std::string_view text) {
  if (text.size() < 2 || text[0] != '\\' || text[1] != 'x') {
    throw db::DbError(db::ErrorKind::kInternal, "unexpected bytea text format (bytea_output?)");
  }
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve((text.size() - 2) / 2);
  for (size_t i = 2; i + 1 < text.size(); i += 2) {
    int hi = nibble(text[i]), lo = nibble(text[i + 1]);
    if (hi < 0 || lo < 0) throw db::DbError(db::ErrorKind::kInternal, "bad bytea hex");
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

struct OutboxRelay::Impl {
  explicit Impl(OutboxRelayOptions o) : opt(std::move(o)) {}

  OutboxRelayOptions opt;
  mutable std::mutex mu;
  OutboxRelayStats stats;  // guarded by mu
  std::atomic<bool> stopping{false};
  int wake_read = -1;
  int wake_write = -1;
  std::thread thread;

  // Owned by the relay thread only.
  std::optional<db::Connection> db;
  detail::NatsPtr<natsConnection> nc;
  detail::NatsPtr<jsCtx> js;
  bool stream_ready = false;
  bool holds_lock = false;  // the session advisory lock of the publishing relay
  Clock::time_point next_prune{};
  Clock::time_point next_backlog{};

  struct BatchResult {
    int claimed = 0;
    bool lock_busy = false;
    bool failed = false;
  };

  void Run();
  void OpenDatabase();
  void OpenNats();
  BatchResult RunBatch();
  bool Publish(int64_t id, std::string_view aggregate_id, std::string_view event_type,
               const std::string& payload, bool* duplicate, std::string* error);
  void ReleaseLock();
  void RefreshBacklogIfDue();
  void PruneIfDue();
  int DrainNotifies();
  bool WaitForWake(std::chrono::milliseconds timeout);
  void Sleep(std::chrono::milliseconds d);
  void DrainWakePipe();
};

OutboxRelay::OutboxRelay(OutboxRelayOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {
  const auto& o = impl_->opt;
  if (o.database_url.empty()) throw std::invalid_argument("outbox relay: database_url is empty");
  if (o.subject_prefix.empty() || o.stream.empty()) {
    throw std::invalid_argument("outbox relay: stream and subject_prefix must be set");
  }
  if (o.batch_size < 1 || o.prune_batch < 1) {
    throw std::invalid_argument("outbox relay: batch sizes must be positive");
  }
  // A retry must land inside the window that remembers the first attempt's Nats-Msg-Id.
  if (o.duplicate_window <= o.retry_max * 12 / 10 + o.publish_timeout) {
    throw std::invalid_argument(
        "outbox relay: duplicate_window must exceed retry_max (+20% jitter) + publish_timeout");
  }
}

OutboxRelay::~OutboxRelay() { Stop(); }

void OutboxRelay::Start() {
  if (impl_->thread.joinable()) return;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) throw std::runtime_error("outbox relay: pipe2");
  impl_->wake_read = fds[0];
  impl_->wake_write = fds[1];
  impl_->stopping = false;
  impl_->thread = std::thread([this] { impl_->Run(); });
}

void OutboxRelay::Stop() {
  if (!impl_->thread.joinable()) return;
  impl_->stopping = true;
  char b = 1;
  [[maybe_unused]] auto n = write(impl_->wake_write, &b, 1);
  impl_->thread.join();
  close(impl_->wake_read);
  close(impl_->wake_write);
  impl_->wake_read = impl_->wake_write = -1;
}

OutboxRelayStats OutboxRelay::stats() const {
  std::lock_guard lock(impl_->mu);
  return impl_->stats;
}

db::StatementList OutboxRelay::Statements() {
  static constexpr const db::Statement* kAll[] = {
      &sql::kOutboxTryLock,       &sql::kOutboxUnlock,         &sql::kOutboxClaim,
      &sql::kOutboxMarkPublished, &sql::kOutboxRecordFailure,  &sql::kOutboxBacklog,
      &sql::kOutboxPrune,         &sql::kOutboxPruneUnrelayed,
  };
  return kAll;
}

void OutboxRelay::Impl::Run() {
  spdlog::info("outbox relay: starting (stream {}, subjects {}.>)", opt.stream, opt.subject_prefix);
  Backoff backoff(opt.retry_initial, opt.retry_max);
  while (!stopping) {
    try {
      if (!db) OpenDatabase();
      RefreshBacklogIfDue();
      PruneIfDue();  // also while NATS is down: published rows age out regardless
      if (!stream_ready) OpenNats();
      BatchResult r = RunBatch();
      if (r.failed) {
        ReleaseLock();  // a replica whose NATS works may take over meanwhile
        Sleep(backoff.Next());
        continue;
      }
      backoff.Reset();
      // A full batch means more is waiting; a notification during the batch may be a
      // commit our snapshot missed.
      if (!r.lock_busy && (r.claimed >= opt.batch_size || DrainNotifies() > 0)) continue;
      WaitForWake(r.claimed > 0 ? opt.busy_poll_interval : opt.poll_interval);
    } catch (const db::DbError& e) {
      spdlog::warn("outbox relay: database: {}", e.what());
      db.reset();  // the server releases the lock with the connection
      holds_lock = false;
      {
        std::lock_guard lock(mu);
        ++stats.database_failures;
      }
      Sleep(backoff.Next());
    } catch (const detail::NatsError& e) {
      spdlog::warn("outbox relay: nats: {}", e.what());
      stream_ready = false;
      ReleaseLock();
      if (e.status() == NATS_NO_SERVER || e.status() == NATS_CONNECTION_CLOSED) {
        js.reset();
        nc.reset();
      }
      {
        std::lock_guard lock(mu);
        ++stats.publish_failures;
      }
      Sleep(backoff.Next());
    }
  }
  db.reset();
  js.reset();
  nc.reset();
  spdlog::info("outbox relay: stopped");
}

void OutboxRelay::Impl::OpenDatabase() {
  db.emplace(db::Connection::Open(opt.database_url));
  db->SetStatementTimeout(kStatementTimeout);
  // The claim must commit synchronously whatever the role's or database's default is.
  db->Exec("SET synchronous_commit = on");
  // LISTEN before the first claim: a commit between the two is then either seen by the
  // claim or notified.
  db->Exec("LISTEN qdrant_outbox");
}

void OutboxRelay::Impl::OpenNats() {
  if (!nc) nc = detail::Connect(opt.nats_url, opt.client_name, opt.publish_timeout);
  if (!js) js = detail::JetStream(nc.get(), opt.publish_timeout);
  detail::EnsureStream(js.get(), {.name = opt.stream,
                                  .subjects = {opt.subject_prefix + ".>"},
                                  .duplicate_window = opt.duplicate_window});
  stream_ready = true;
}

OutboxRelay::Impl::BatchResult OutboxRelay::Impl::RunBatch() {
  BatchResult r;
  if (!holds_lock) {
    if (!db->Execute(sql::kOutboxTryLock).GetBool(0, 0)) {
      r.lock_busy = true;  // another replica is publishing; its commit wakes us again
      return r;
    }
    holds_lock = true;
  }
  // Its own transaction (autocommit), committed synchronously: see kOutboxClaim. (The
  // statement timeout is off while a statement commits, so it never cuts that wait short.)
  db::Result rows = db->Execute(sql::kOutboxClaim, {std::to_string(opt.batch_size)});
  r.claimed = rows.rows();
  if (r.claimed == 0) return r;
  std::string ids = "{";
  int published = 0, duplicates = 0;
  std::vector<double> latencies_ms;
  std::optional<std::pair<std::string, std::string>> failure;  // id, error
  for (int i = 0; i < rows.rows(); ++i) {
    int64_t id = rows.GetInt64(i, 0);
    std::string payload = DecodeBytea(rows.Get(i, 3));
    bool duplicate = false;
    std::string error;
    if (!Publish(id, rows.Get(i, 1), rows.Get(i, 2), payload, &duplicate, &error)) {
      failure.emplace(std::to_string(id), error);
      break;
    }
    if (published++ > 0) ids += ',';
    ids += std::to_string(id);
    duplicates += duplicate ? 1 : 0;
    latencies_ms.push_back(static_cast<double>(NowMicros() - rows.GetInt64(i, 4)) / 1000.0);
    if (stopping) break;  // finish the row in hand, keep the rest for the next owner
  }
  ids += '}';
  {
    // A mark needs no flush: one lost in a crash only means a republish, which the stream
    // drops by Nats-Msg-Id. This keeps it off the WAL flush path.
    db::Transaction tx(*db);
    db->Exec("SET LOCAL synchronous_commit = off");
    if (published > 0) db->Execute(sql::kOutboxMarkPublished, {ids});
    if (failure) db->Execute(sql::kOutboxRecordFailure, {failure->first, failure->second});
    tx.Commit();
  }

  std::lock_guard lock(mu);
  ++stats.batches;
  stats.published += published;
  stats.duplicates += duplicates;
  for (double ms : latencies_ms) {
    size_t b = 0;
    while (b < OutboxRelayStats::kLatencyBucketsMs.size() &&
           ms > OutboxRelayStats::kLatencyBucketsMs[b]) {
      ++b;
    }
    ++stats.latency_buckets[b];
    stats.latency_sum_ms += ms;
    stats.latency_max_ms = std::max(stats.latency_max_ms, ms);
  }
  if (failure) {
    ++stats.publish_failures;
    r.failed = true;
  }
  return r;
}

bool OutboxRelay::Impl::Publish(int64_t id, std::string_view aggregate_id,
                                std::string_view event_type, const std::string& payload,
                                bool* duplicate, std::string* error) {
  std::string subject = opt.subject_prefix + "." + std::string(event_type);
  std::string msg_id = std::to_string(id);
  natsMsg* raw = nullptr;
  natsStatus s = natsMsg_Create(&raw, subject.c_str(), nullptr, payload.data(),
                                static_cast<int>(payload.size()));
  detail::NatsPtr<natsMsg> msg(raw);
  std::string agg(aggregate_id), type(event_type);
  if (s == NATS_OK) s = natsMsgHeader_Set(msg.get(), "Psvc-Outbox-Id", msg_id.c_str());
  if (s == NATS_OK) s = natsMsgHeader_Set(msg.get(), "Psvc-Aggregate-Id", agg.c_str());
  if (s == NATS_OK) s = natsMsgHeader_Set(msg.get(), "Psvc-Event-Type", type.c_str());
  jsErrCode jerr = static_cast<jsErrCode>(0);
  jsPubAck* ack_raw = nullptr;
  if (s == NATS_OK) {
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = msg_id.c_str();
    po.ExpectStream = opt.stream.c_str();  // a foreign stream capturing the subject is an error
    po.MaxWait = opt.publish_timeout.count();
    s = js_PublishMsg(&ack_raw, js.get(), msg.get(), &po, &jerr);
  }
  detail::NatsPtr<jsPubAck> ack(ack_raw);
  if (s != NATS_OK) {
    *error = detail::NatsError("publish outbox row " + msg_id, s, jerr).what();
    spdlog::warn("outbox relay: {}", *error);
    // The stream may be gone (no responders) or the server new: check it before the retry.
    stream_ready = false;
    return false;
  }
  *duplicate = ack->Duplicate;
  return true;
}

// Never throws: it runs in error handlers. Closing the connection releases the lock too.
void OutboxRelay::Impl::ReleaseLock() {
  if (!holds_lock || !db) return;
  holds_lock = false;
  try {
    db->Execute(sql::kOutboxUnlock);
  } catch (const db::DbError& e) {
    spdlog::warn("outbox relay: releasing the relay lock: {}", e.what());
    db.reset();
  }
}

void OutboxRelay::Impl::RefreshBacklogIfDue() {
  auto now = Clock::now();
  if (now < next_backlog) return;
  next_backlog = now + kBacklogRefresh;
  db::Result r = db->Execute(sql::kOutboxBacklog);
  std::lock_guard lock(mu);
  stats.backlog = r.GetInt64(0, 0);
  stats.oldest_unpublished_s = r.GetDouble(0, 1);
}

void OutboxRelay::Impl::PruneIfDue() {
  auto now = Clock::now();
  if (now < next_prune) return;
  next_prune = now + opt.prune_interval;
  std::string secs = std::to_string(std::chrono::duration<double>(opt.retention).count());
  std::string limit = std::to_string(opt.prune_batch);
  uint64_t total = 0;
  while (!stopping) {
    int64_t n = db->Execute(sql::kOutboxPrune, {secs, limit}).GetInt64(0, 0);
    total += static_cast<uint64_t>(n);
    if (n < opt.prune_batch) break;
  }
  if (total > 0) {
    spdlog::info("outbox relay: pruned {} published rows", total);
    std::lock_guard lock(mu);
    stats.pruned += total;
  }
}

int OutboxRelay::Impl::DrainNotifies() { return db::DrainNotifications(*db); }

bool OutboxRelay::Impl::WaitForWake(std::chrono::milliseconds timeout) {
  if (DrainNotifies() > 0) return true;
  pollfd fds[2] = {{PQsocket(db->native()), POLLIN, 0}, {wake_read, POLLIN, 0}};
  int rc = poll(fds, 2, static_cast<int>(timeout.count()));
  if (rc <= 0) return false;
  if (fds[1].revents) DrainWakePipe();
  if (fds[0].revents && DrainNotifies() > 0) {
    std::lock_guard lock(mu);
    ++stats.wakeups_by_notify;
    return true;
  }
  return false;
}

void OutboxRelay::Impl::Sleep(std::chrono::milliseconds d) {
  pollfd fd{wake_read, POLLIN, 0};
  if (poll(&fd, 1, static_cast<int>(d.count())) > 0) DrainWakePipe();
}

void OutboxRelay::Impl::DrainWakePipe() {
  char buf[64];
  while (read(wake_read, buf, sizeof buf) > 0) {
  }
}

int64_t PruneUnrelayedOutbox(db::Connection& conn, std::chrono::milliseconds retention, int batch) {
  std::string secs = std::to_string(std::chrono::duration<double>(retention).count());
  std::string limit = std::to_string(batch);
  int64_t total = 0;
  for (;;) {
    int64_t n = conn.Execute(sql::kOutboxPruneUnrelayed, {secs, limit}).GetInt64(0, 0);
    total += n;
    if (n < batch) return total;
  }
}

}  // namespace psvc::events

#include "saga/saga_runner.h"

#include <nats/nats.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "json/json_string.h"
#include "db/connection.h"
#include "db/error.h"
#include "db/pool.h"
#include "events/backoff.h"
#include "events/detail/nats_util.h"
#include "ids/uuid.h"
#include "saga/anime_sagas.h"
#include "saga/definition.h"
#include "saga/saga_statements.h"

namespace psvc::saga {

namespace {

using Clock = std::chrono::steady_clock;
using events::detail::NatsPtr;

double Seconds(std::chrono::milliseconds ms) { return static_cast<double>(ms.count()) / 1000.0; }

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

std::string DefaultOwner() {
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  std::random_device rd;
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "%08x", rd());
  return std::string(host) + ":" + std::to_string(getpid()) + ":" + suffix;
}

template <std::size_t N>
void Observe(std::array<uint64_t, N>& buckets, double& sum, double ms) {
  std::size_t i = 0;
  while (i < SagaRunnerStats::kLatencyBucketsMs.size() && ms > SagaRunnerStats::kLatencyBucketsMs[i]) ++i;
  ++buckets[i];
  sum += ms;
}

/// What one pass over a saga ended with.
enum class Pass {
  kContinue,  ///< made progress, still ours: go on
  kYield,     ///< released (waiting for a reply, a deadline or a backoff)
  kStop,      ///< finished, lost, crashed (test) or unreachable: stop driving it
};

/// What a pass was working on, for recording its failure after the rollback.
struct Attempt {
  bool known = false;
  bool compensating = false;
  int step = 0;
  std::string step_name;
  const SagaDefinition* def = nullptr;
};

/// The lease was gone when we came back to the saga.
struct LeaseLost {};

}  // namespace

struct SagaRunner::Impl {
  Impl(db::Pool& p, SagaRunnerOptions opts) : pool(p), o(std::move(opts)) {
    if (o.owner_id.empty()) o.owner_id = DefaultOwner();
    if (o.workers < 1) o.workers = 1;
  }

  db::Pool& pool;
  SagaRunnerOptions o;

  std::mutex mu;
  std::condition_variable cv;
  bool running = false;
  uint64_t wakeups = 0;
  std::vector<std::thread> workers;

  mutable std::mutex stats_mu;
  SagaRunnerStats stats;

  NatsPtr<natsConnection> nc;
  NatsPtr<natsSubscription> sub;

  template <class F>
  void Count(F f) {
    std::lock_guard lock(stats_mu);
    f(stats);
  }

  bool Running() {
    std::lock_guard lock(mu);
    return running;
  }

  void Wake() {
    {
      std::lock_guard lock(mu);
      ++wakeups;
    }
    cv.notify_all();
  }

  // ---- NATS replies ----------------------------------------------------------------------

  void StartReplies() {
    if (o.nats_url.empty()) return;
    using events::detail::Check;
    natsOptions* raw = nullptr;
    Check(natsOptions_Create(&raw), "natsOptions_Create");
    NatsPtr<natsOptions> opts(raw);
    Check(events::detail::SetServers(opts.get(), o.nats_url), "natsOptions_SetServers");
    Check(natsOptions_SetName(opts.get(), "postgres-service-saga-replies"), "natsOptions_SetName");
    Check(natsOptions_SetMaxReconnect(opts.get(), -1), "natsOptions_SetMaxReconnect");
    Check(natsOptions_SetReconnectWait(opts.get(), 250), "natsOptions_SetReconnectWait");
    // NATS down at start-up is not fatal: connect in the background; the subscription is
    // registered now and sent when the connection comes up.
    Check(natsOptions_SetRetryOnFailedConnect(opts.get(), true, &Impl::OnConnected, this),
          "natsOptions_SetRetryOnFailedConnect");
    natsConnection* c = nullptr;
    natsStatus s = natsConnection_Connect(&c, opts.get());
    if (s == NATS_NOT_YET_CONNECTED) {
      spdlog::warn("saga: NATS at {} not reachable yet; replies wait for it", o.nats_url);
    } else {
      Check(s, "connect to " + o.nats_url);
    }
    nc.reset(c);
    std::string subject = o.reply_subject_prefix + ".*";
    natsSubscription* sb = nullptr;
    Check(natsConnection_QueueSubscribe(&sb, nc.get(), subject.c_str(), o.reply_queue_group.c_str(),
                                        &Impl::OnMessage, this),
          "subscribe " + subject);
    sub.reset(sb);
  }

  void StopReplies() {
    if (sub) {
      // Drain: messages already received are handled (the callback uses this object), then
      // the callback is never called again.
      if (natsSubscription_Drain(sub.get()) == NATS_OK) {
        natsSubscription_WaitForDrainCompletion(sub.get(), 5000);
      } else {
        natsSubscription_Unsubscribe(sub.get());
      }
      sub.reset();
    }
    if (nc) {
      natsConnection_Close(nc.get());
      nc.reset();
    }
  }

  static void OnConnected(natsConnection*, void* closure) {
    spdlog::info("saga: connected to NATS at {}", static_cast<Impl*>(closure)->o.nats_url);
  }

  static void OnMessage(natsConnection* conn, natsSubscription*, natsMsg* raw, void* closure) {
    NatsPtr<natsMsg> msg(raw);
    auto* self = static_cast<Impl*>(closure);
    bool recorded = self->HandleReply(msg.get());
    if (const char* reply = natsMsg_GetReply(msg.get()); reply && *reply) {
      natsConnection_PublishString(conn, reply, recorded ? "recorded" : "ignored");
    }
  }

  bool HandleReply(natsMsg* msg) {
    std::string subject = natsMsg_GetSubject(msg);
    std::string saga_id = subject.substr(std::min(subject.size(), o.reply_subject_prefix.size() + 1));
    std::string outcome = events::detail::Header(msg, "Psvc-Saga-Outcome");
    std::string step = events::detail::Header(msg, "Psvc-Saga-Step");
    std::string detail(natsMsg_GetData(msg) ? natsMsg_GetData(msg) : "",
                       static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
    auto id = ids::CanonicalUuid(saga_id);
    if (!id || (outcome != "CONFIRMED" && outcome != "REFUSED")) {
      spdlog::warn("saga: ignoring malformed reply on {} (outcome header {})", subject,
                   ids::QuoteForMessage(outcome));
      Count([](auto& s) { ++s.replies_ignored; });
      return false;
    }
    try {
      auto conn = pool.Acquire(o.acquire_timeout);
      auto res = conn->Execute(sql::kRecordReply, {*id, step, outcome, detail});
      if (res.rows() == 0) {
        spdlog::info("saga {}: reply {} ignored (not waiting for one)", *id, outcome);
        Count([](auto& s) { ++s.replies_ignored; });
        return false;
      }
    } catch (const std::exception& e) {
      // Lost: the step times out and asks again.
      spdlog::warn("saga {}: could not record reply {}: {}", *id, outcome, e.what());
      Count([](auto& s) { ++s.replies_ignored; });
      return false;
    }
    spdlog::info("saga {}: reply {} recorded", *id, outcome);
    Count([](auto& s) { ++s.replies_recorded; });
    Wake();
    return true;
  }

  // ---- Workers ---------------------------------------------------------------------------

  void WorkerLoop() {
    while (Running()) {
      std::optional<std::string> id;
      try {
        auto conn = pool.Acquire(o.acquire_timeout);
        auto res = conn->Execute(sql::kClaim, {o.owner_id, Num(Seconds(o.lease_ttl))});
        if (res.rows() == 1) id = std::string(res.Get(0, 0));
      } catch (const std::exception& e) {
        spdlog::warn("saga: looking for work failed: {}", e.what());
      }
      if (id) {
        Drive(*id);
        continue;
      }
      std::unique_lock lock(mu);
      uint64_t seen = wakeups;
      cv.wait_for(lock, o.poll_interval, [&] { return !running || wakeups != seen; });
    }
  }

  void Drive(const std::string& id) {
    for (;;) {
      Pass p = PassOnce(id);
      if (p != Pass::kContinue) return;
      if (!Running()) {
        // Shutting down between steps: hand the saga back so another replica goes on now.
        try {
          auto conn = pool.Acquire(o.acquire_timeout);
          db::Transaction tx(*conn);
          auto lock = conn->Execute(sql::kLockSaga, {id, o.owner_id});
          if (lock.rows() == 1 && lock.GetBool(0, 0)) {
            conn->Execute(sql::kRelease, {id, "0", std::string(lock.Get(0, 3)), "false", ""});
            tx.Commit();
          }
        } catch (const std::exception& e) {
          spdlog::warn("saga {}: could not release at shutdown: {}", id, e.what());
        }
        return;
      }
    }
  }

  bool Crash(const std::string& id, const std::string& step, FaultPoint point) {
    return o.fault_hook && o.fault_hook(id, step, point);
  }

  /// Locks the saga row and checks the lease; throws LeaseLost.
  db::Result Fence(db::Connection& conn, const std::string& id) {
    auto lock = conn.Execute(sql::kLockSaga, {id, o.owner_id});
    if (lock.rows() == 0 || !lock.GetBool(0, 0)) throw LeaseLost{};
    return lock;
  }

  Pass PassOnce(const std::string& id) {
    Attempt a;
    std::optional<db::PooledConnection> conn;
    try {
      conn.emplace(pool.Acquire(o.acquire_timeout));
      return TryPass(**conn, id, a);
    } catch (const LeaseLost&) {
      spdlog::warn("saga {}: lease lost; another runner drives it now", id);
      Count([](auto& s) { ++s.leases_lost; });
      return Pass::kStop;
    } catch (const StepFailed& e) {
      if (!conn) return Pass::kStop;
      return RecordFailure(**conn, id, a, e.what(), true);
    } catch (const std::exception& e) {
      if (!conn || !a.known) {
        spdlog::warn("saga {}: {}", id, e.what());
        return Pass::kStop;  // the lease expires; this or another runner resumes
      }
      return RecordFailure(**conn, id, a, e.what(), false);
    }
  }

  Pass TryPass(db::Connection& conn, const std::string& id, Attempt& a) {
    db::Transaction tx(conn);
    auto lock = Fence(conn, id);
    std::string type(lock.Get(0, 1));
    std::string status(lock.Get(0, 2));
    int current = static_cast<int>(lock.GetInt64(0, 3));
    a.def = FindDefinition(type);
    if (!a.def) {
      spdlog::error("saga {}: unknown type {}; leaving it alone", id, type);
      conn.Execute(sql::kRelease, {id, "3600", std::to_string(current), "true", "unknown saga type"});
      tx.Commit();
      return Pass::kYield;
    }
    if (status != "RUNNING" && status != "COMPENSATING") return Pass::kStop;

    SagaInput input;
    auto in = conn.Execute(sql::kLoadInput, {id});
    for (int i = 0; i < in.rows(); ++i) input.emplace(std::string(in.Get(i, 0)), std::string(in.Get(i, 1)));
    StepContext ctx{conn, id, input};

    if (status == "COMPENSATING") return Compensate(conn, tx, ctx, a);

    const auto& steps = a.def->steps;
    if (current < 0 || current >= static_cast<int>(steps.size())) {
      throw StepFailed("current step " + std::to_string(current) + " out of range");
    }
    a.known = true;
    a.step = current;
    a.step_name = steps[current].name;
    const StepDefinition& sd = steps[current];
    auto started = Clock::now();

    if (!sd.remote()) {
      sd.action(ctx);
      conn.Execute(sql::kStepDone, {id, std::to_string(current)});
      return AfterStepDone(conn, tx, ctx, a, started);
    }

    auto st = conn.Execute(sql::kLoadStep, {id, std::to_string(current), Num(Seconds(o.reply_timeout))});
    std::string step_status(st.Get(0, 0));
    int sent = static_cast<int>(st.GetInt64(0, 1));
    if (step_status == "PENDING") return SendAndRelease(conn, tx, ctx, a, current);
    if (step_status == "DONE") return AfterStepDone(conn, tx, ctx, a, started);
    auto reply = st.GetOpt(0, 2);
    if (reply && *reply == "CONFIRMED") {
      conn.Execute(sql::kStepDone, {id, std::to_string(current)});
      double ms = st.GetDouble(0, 6);
      Count([&](auto& s) { Observe(s.remote_latency_buckets, s.remote_latency_sum_ms, ms); });
      spdlog::info("saga {}: step {} confirmed", id, sd.name);
      return AfterStepDone(conn, tx, ctx, a, started);
    }
    if (reply && *reply == "REFUSED") {
      throw StepFailed("refused by the participant: " + std::string(st.Get(0, 3)));
    }
    if (st.GetBool(0, 4)) {  // the reply deadline passed
      Count([](auto& s) { ++s.remote_timeouts; });
      if (sent < o.max_remote_attempts) {
        spdlog::warn("saga {}: no reply to {} attempt {} within {} ms; asking again", id, sd.name,
                     sent, o.reply_timeout.count());
        return SendAndRelease(conn, tx, ctx, a, current);
      }
      throw StepFailed("no reply after " + std::to_string(sent) + " request(s) of " +
                       std::to_string(o.reply_timeout.count()) + " ms each");
    }
    // Claimed before the deadline without a reply (a retry, a wake-up): wait on.
    double remaining = std::max(0.0, st.GetDouble(0, 5));
    conn.Execute(sql::kRelease, {id, Num(remaining), std::to_string(current), "false", ""});
    tx.Commit();
    return Pass::kYield;
  }

  /// The step at a.step is done in this transaction: go to the next one.
  Pass AfterStepDone(db::Connection& conn, db::Transaction& tx, StepContext& ctx, Attempt& a,
                     Clock::time_point started) {
    const auto& steps = a.def->steps;
    const std::string& id = ctx.saga_id;
    int next = a.step + 1;
    bool remote_done = steps[a.step].remote();
    auto finish_step = [&] {
      double ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
      Count([&](auto& s) {
        ++s.steps_done;
        if (!remote_done) Observe(s.local_latency_buckets, s.local_latency_sum_ms, ms);
      });
    };
    if (next >= static_cast<int>(steps.size())) {
      conn.Execute(sql::kFinish, {id, "COMPLETED"});
      if (Crash(id, a.step_name, FaultPoint::kBeforeCommit)) return Pass::kStop;
      tx.Commit();
      finish_step();
      Count([](auto& s) { ++s.sagas_completed; });
      spdlog::info("saga {} ({}) completed", id, a.def->type);
      Crash(id, a.step_name, FaultPoint::kAfterCommit);
      return Pass::kStop;
    }
    if (steps[next].remote()) {
      // The request goes out in the same transaction as the step before it: the effect and
      // the announcement of the effect commit together.
      Pass p = SendAndRelease(conn, tx, ctx, a, next, /*crash_step=*/a.step_name);
      if (p != Pass::kStop) finish_step();
      return p;
    }
    conn.Execute(sql::kAdvance, {id, std::to_string(next), Num(Seconds(o.lease_ttl))});
    if (Crash(id, a.step_name, FaultPoint::kBeforeCommit)) return Pass::kStop;
    tx.Commit();
    finish_step();
    spdlog::info("saga {}: step {} done", id, a.step_name);
    if (Crash(id, a.step_name, FaultPoint::kAfterCommit)) return Pass::kStop;
    return Pass::kContinue;
  }

  /// Writes remote step `index`'s request to the outbox and lets the saga wait for the reply.
  Pass SendAndRelease(db::Connection& conn, db::Transaction& tx, StepContext& ctx, Attempt& a,
                      int index, std::string crash_step = {}) {
    const StepDefinition& sd = a.def->steps[index];
    const std::string& id = ctx.saga_id;
    auto sent = conn.Execute(sql::kStepRequestSent, {id, std::to_string(index)});
    int attempt = static_cast<int>(sent.GetInt64(0, 0));
    RemoteRequest req = sd.request(ctx);
    std::string payload = "{\"schema\":1,\"event_type\":" + json::Quoted(req.event_type) +
                          ",\"anime_id\":" + json::Quoted(req.aggregate_id) +
                          ",\"saga_id\":" + json::Quoted(id) +
                          ",\"saga_type\":" + json::Quoted(a.def->type) +
                          ",\"step\":" + json::Quoted(sd.name) +
                          ",\"attempt\":" + std::to_string(attempt) +
                          ",\"reply_subject\":" + json::Quoted(o.reply_subject_prefix + "." + id);
    for (const auto& [k, v] : req.fields) payload += "," + json::Quoted(k) + ":" + json::Quoted(v);
    payload += "}";
    conn.Execute(sql::kInsertOutbox, {req.aggregate_id, req.event_type, payload});
    conn.Execute(sql::kRelease, {id, Num(Seconds(o.reply_timeout)), std::to_string(index), "false", ""});
    if (crash_step.empty()) crash_step = sd.name;
    if (Crash(id, crash_step, FaultPoint::kBeforeCommit)) return Pass::kStop;
    tx.Commit();
    Count([](auto& s) { ++s.requests_sent; });
    spdlog::info("saga {}: {} request sent (attempt {}), waiting up to {} ms", id, req.event_type,
                 attempt, o.reply_timeout.count());
    if (Crash(id, crash_step, FaultPoint::kAfterCommit)) return Pass::kStop;
    return Pass::kYield;
  }

  Pass Compensate(db::Connection& conn, db::Transaction& tx, StepContext& ctx, Attempt& a) {
    const std::string& id = ctx.saga_id;
    a.known = true;
    a.compensating = true;
    conn.Execute(sql::kFailAwaiting, {id});
    auto last = conn.Execute(sql::kLastDoneStep, {id});
    if (last.IsNull(0, 0)) {
      conn.Execute(sql::kFinish, {id, "COMPENSATED"});
      if (Crash(id, "compensated", FaultPoint::kBeforeCommit)) return Pass::kStop;
      tx.Commit();
      Count([](auto& s) { ++s.sagas_compensated; });
      spdlog::info("saga {} ({}) compensated", id, a.def->type);
      return Pass::kStop;
    }
    a.step = static_cast<int>(last.GetInt64(0, 0));
    const StepDefinition& sd = a.def->steps[a.step];
    a.step_name = sd.name;
    if (sd.compensation) sd.compensation(ctx);
    conn.Execute(sql::kStepCompensated, {id, std::to_string(a.step)});
    conn.Execute(sql::kCompensationProgress, {id, std::to_string(a.step), Num(Seconds(o.lease_ttl))});
    if (Crash(id, "compensate:" + sd.name, FaultPoint::kBeforeCommit)) return Pass::kStop;
    tx.Commit();
    Count([](auto& s) { ++s.compensations_done; });
    spdlog::info("saga {}: step {} compensated", id, sd.name);
    if (Crash(id, "compensate:" + sd.name, FaultPoint::kAfterCommit)) return Pass::kStop;
    return Pass::kContinue;
  }

  /// After a failed pass (rolled back): decide between retry and compensation, in a new
  /// transaction under the lease.
  Pass RecordFailure(db::Connection& conn, const std::string& id, const Attempt& a,
                     const std::string& error, bool permanent) {
    try {
      if (!conn.Healthy()) throw db::DbError(db::ErrorKind::kUnavailable, "connection lost");
      db::Transaction tx(conn);
      auto lock = Fence(conn, id);
      int attempts = static_cast<int>(lock.GetInt64(0, 4)) + 1;
      auto delay = events::RedeliveryDelay(attempts, o.retry_initial, o.retry_max);
      std::string step = std::to_string(a.step);
      bool may_fail = !a.compensating && a.def && a.step <= a.def->point_of_no_return;
      bool give_up = may_fail && (permanent || attempts >= o.max_local_attempts);
      if (give_up) {
        conn.Execute(sql::kStepFailed, {id, step, error});
        conn.Execute(sql::kBeginCompensation, {id, "step " + a.step_name + ": " + error});
        tx.Commit();
        Count([](auto& s) { ++s.steps_failed; });
        spdlog::warn("saga {}: step {} failed for good ({}); compensating", id, a.step_name, error);
        return Pass::kContinue;
      }
      conn.Execute(sql::kRelease, {id, Num(Seconds(delay)), step, "true", error});
      tx.Commit();
      Count([&](auto& s) {
        ++s.transient_failures;
        if (a.compensating && attempts >= o.stuck_after_attempts) ++s.stuck;
      });
      if (a.compensating && attempts >= o.stuck_after_attempts) {
        spdlog::error("saga {}: compensation of step {} STUCK after {} attempts: {}", id,
                      a.step_name, attempts, error);
      } else if (permanent || a.compensating) {
        spdlog::error("saga {}: {} step {} failed (attempt {}), retrying in {} ms: {}", id,
                      a.compensating ? "compensating" : "forward", a.step_name, attempts,
                      delay.count(), error);
      } else {
        spdlog::warn("saga {}: step {} failed (attempt {}), retrying in {} ms: {}", id,
                     a.step_name, attempts, delay.count(), error);
      }
      return Pass::kYield;
    } catch (const LeaseLost&) {
      Count([](auto& s) { ++s.leases_lost; });
      return Pass::kStop;
    } catch (const std::exception& e) {
      spdlog::warn("saga {}: could not record a failure ({}): {}", id, error, e.what());
      return Pass::kStop;
    }
  }
};

SagaRunner::SagaRunner(db::Pool& pool, SagaRunnerOptions options)
    : impl_(std::make_unique<Impl>(pool, std::move(options))) {}

SagaRunner::~SagaRunner() { Stop(); }

void SagaRunner::Start() {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->running) return;
    impl_->running = true;
  }
  impl_->StartReplies();
  for (int i = 0; i < impl_->o.workers; ++i) {
    impl_->workers.emplace_back([this] { impl_->WorkerLoop(); });
  }
  spdlog::info("saga: runner {} started ({} workers, replies on {}.*)", impl_->o.owner_id,
               impl_->o.workers, impl_->o.reply_subject_prefix);
}

void SagaRunner::Stop() {
  {
    std::lock_guard lock(impl_->mu);
    if (!impl_->running && impl_->workers.empty()) return;
    impl_->running = false;
  }
  impl_->cv.notify_all();
  for (auto& t : impl_->workers) t.join();
  impl_->workers.clear();
  impl_->StopReplies();
}

void SagaRunner::Wake() { impl_->Wake(); }

SagaRunnerStats SagaRunner::stats() const {
  std::lock_guard lock(impl_->stats_mu);
  return impl_->stats;
}

const std::string& SagaRunner::owner_id() const { return impl_->o.owner_id; }

}  // namespace psvc::saga

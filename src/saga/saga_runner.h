#pragma once
/// SagaRunner: drives persisted sagas (saga, saga_step tables) to completion or compensation.
///
/// Guarantees
///  - Exactly one driver per saga: a runner drives a saga only while it holds its lease
///    (saga.lease_owner/lease_expires_at), and every state change happens in a transaction
///    that first locks the saga row and checks the lease. Claims skip locked rows, so while a
///    step's transaction runs nobody can take over; a runner that dies loses the lease when it
///    expires and another runner resumes where the database says the saga is.
///  - A local step's effect and the saga's progress commit in one transaction: a crash
///    either loses both (the step runs again) or keeps both.
///  - A remote step writes its request to qdrant_outbox (published by the OutboxRelay) and
///    waits, without holding the lease or a thread, for a reply on NATS:
///      subject  `<reply_subject_prefix>.<saga id>`
///      header   `Psvc-Saga-Outcome: CONFIRMED | REFUSED` (required)
///      header   `Psvc-Saga-Step: <step name>`          (optional)
///      body     free text (a refusal's reason), at most 2000 bytes kept
///    Whichever replica receives a reply records it; if the message has a reply subject the
///    runner answers "recorded" or "ignored". No reply within `reply_timeout`: the request is
///    sent again (a new outbox row, `attempt` + 1) up to `max_remote_attempts`, then the
///    step fails. Participants must be idempotent by (saga_id, step).
///  - A step that fails for good (StepFailed, a refusal, a timeout, too many transient
///    failures) before the point of no return: compensations of the done steps run in
///    reverse order, each retried with backoff until it succeeds (logged as stuck at error
///    level, and counted, after `stuck_after_attempts`). After the point of no return the
///    remaining steps are retried until they succeed.

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace psvc::db {
class Pool;
}

namespace psvc::saga {

/// Where the test-only fault hook is consulted.
enum class FaultPoint {
  kBeforeCommit,  ///< a step's transaction is complete but not committed
  kAfterCommit,   ///< a step's transaction committed
};

/// How a SagaRunner finds work, talks to NATS and paces retries.
struct SagaRunnerOptions {
  /// NATS for replies; empty = no reply listener (remote steps then time out: tests only).
  std::string nats_url = "nats://127.0.0.1:4222";
  /// Replies arrive on `<prefix>.<saga id>`.
  std::string reply_subject_prefix = "anime.saga.replies";
  /// Replicas share the reply subscription as a queue group: one records each reply.
  std::string reply_queue_group = "postgres-service-saga-replies";
  /// Identifies this runner in saga.lease_owner; default "<host>:<pid>:<random>".
  std::string owner_id;
  /// Sagas driven at the same time (threads). A saga waiting for a reply holds none.
  int workers = 2;
  std::chrono::milliseconds lease_ttl{30000};
  /// How often idle workers look for runnable sagas (new ones in this process wake them).
  std::chrono::milliseconds poll_interval{500};
  std::chrono::milliseconds reply_timeout{30000};
  int max_remote_attempts = 3;
  /// Transient failures of a local step before the point of no return, then compensation.
  int max_local_attempts = 5;
  std::chrono::milliseconds retry_initial{200};
  std::chrono::milliseconds retry_max{30000};
  int stuck_after_attempts = 10;
  std::chrono::milliseconds acquire_timeout{2000};
  /// Tests only: return true to simulate a crash at that point (the worker abandons the saga
  /// there, keeping its lease, and does nothing more with it).
  std::function<bool(std::string_view saga_id, std::string_view step, FaultPoint)> fault_hook;
};

/// Counters for /metrics; a snapshot.
struct SagaRunnerStats {
  /// Upper bounds (ms) of the step latency histogram; the last bucket is +Inf.
  static constexpr std::array<double, 10> kLatencyBucketsMs{1,   5,    10,   25,    50,
                                                           100, 250,  1000, 10000, 60000};
  uint64_t steps_done = 0;          ///< forward steps completed
  uint64_t steps_failed = 0;        ///< forward steps that failed for good
  uint64_t compensations_done = 0;  ///< compensations completed
  uint64_t transient_failures = 0;  ///< attempts that failed and will be retried
  uint64_t requests_sent = 0;       ///< remote requests written to the outbox
  uint64_t replies_recorded = 0;
  uint64_t replies_ignored = 0;     ///< late, unknown or malformed replies
  uint64_t remote_timeouts = 0;
  uint64_t sagas_completed = 0;
  uint64_t sagas_compensated = 0;
  uint64_t stuck = 0;               ///< compensation attempts past stuck_after_attempts
  uint64_t leases_lost = 0;
  /// Local step transaction latency (ms) and remote round trip (request -> reply seen).
  std::array<uint64_t, kLatencyBucketsMs.size() + 1> local_latency_buckets{};
  double local_latency_sum_ms = 0;
  std::array<uint64_t, kLatencyBucketsMs.size() + 1> remote_latency_buckets{};
  double remote_latency_sum_ms = 0;
};

/// Runs sagas on its own threads; Start() returns at once, Stop() finishes the step in
/// progress and joins. Database or NATS outages are retried, never fatal.
class SagaRunner {
 public:
  /// `pool` (read-write) must outlive the runner; it uses up to workers + 1 connections.
  SagaRunner(db::Pool& pool, SagaRunnerOptions options);
  SagaRunner(const SagaRunner&) = delete;
  SagaRunner& operator=(const SagaRunner&) = delete;
  ~SagaRunner();  ///< Stop()s

  void Start();
  void Stop();
  /// Look for work now (a saga was started or retried in this process).
  void Wake();
  SagaRunnerStats stats() const;
  const std::string& owner_id() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace psvc::saga

#pragma once
/// The ingestion consumer: a durable JetStream pull consumer feeding events to the apply path.
///
/// Delivery contract: at least once. A message is ACKed only after the handler returned kAck
/// (i.e. committed), so the handler must be idempotent by event id (the apply path records
/// processed events). Messages are handled in stream order, one at a time (MessageHandler)
/// or one fetch at a time (BatchHandler); a message that needs retrying is NAKed with a
/// delay, so later messages are not held up behind it.
/// Dead-lettering: kDeadLetter at once; a throwing handler after max_deliver deliveries;
/// kRetry (transient) only after retry_deadline; kLater once it has waited dependency_wait;
/// any message after max_deliver_unhandled.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace psvc::events {

/// What the handler decided about one message.
struct HandleResult {
  enum Kind {
    kAck,         ///< applied (committed) or a redelivery already applied: acknowledge
    kRetry,       ///< transient failure (database down, serialization): redeliver later
    kDeadLetter,  ///< can never apply (undecodable, invalid): park it on the dead-letter subject
    /// Cannot apply yet: it depends on something that has not arrived (an episode of an anime
    /// whose enrichment is still on its way, maybe redelivered after this one). Retried with
    /// backoff until it has waited dependency_wait in all, then dead-lettered with the reason.
    kLater,
  };
  Kind kind = kAck;
  std::string reason;

  static HandleResult Ack() { return {kAck, {}}; }
  static HandleResult Retry(std::string reason) { return {kRetry, std::move(reason)}; }
  static HandleResult DeadLetter(std::string reason) { return {kDeadLetter, std::move(reason)}; }
  static HandleResult Later(std::string reason) { return {kLater, std::move(reason)}; }
};

/// Called on the consumer's thread for every message; an exception counts as kRetry.
using MessageHandler = std::function<HandleResult(std::string_view payload, int delivery_count)>;

/// One fetched message, as a batch handler sees it.
struct Delivery {
  std::string_view payload;
  int delivery_count = 1;
};

/// Called with the messages of one fetch, in stream order; returns one result per message
/// (same order). Lets the handler commit a whole fetch in one transaction. An exception
/// counts as kRetry (thrown) for every message of the call.
using BatchHandler = std::function<std::vector<HandleResult>(const std::vector<Delivery>& batch)>;

/// Where the consumer reads from and how it paces retries.
struct JetStreamConsumerOptions {
  std::string nats_url = "nats://127.0.0.1:4222";
  std::string stream = "ANIME_INGEST";
  /// Subjects the stream captures (created or updated to these at start-up).
  std::vector<std::string> subjects = {"anime.ingest.>"};
  std::string durable = "postgres-service";
  /// Dead letters go here with headers Psvc-Dlq-Reason, Psvc-Original-Subject,
  /// Psvc-Delivery-Count, Psvc-Stream-Seq. When the stream's own subjects capture it (the
  /// default), dead letters are stored in the stream and skipped by this consumer; otherwise
  /// a stream `<stream>_DLQ` is created for it.
  std::string dead_letter_subject = "anime.ingest.dlq";
  /// A handler that throws (an unknown failure, maybe this message's fault) is retried up
  /// to this many deliveries, then the message is dead-lettered.
  int max_deliver = 5;
  /// kRetry means "not this message's fault" (database down): it is retried with backoff
  /// regardless of max_deliver, and dead-lettered only once the message is older than this.
  std::chrono::milliseconds retry_deadline = std::chrono::hours(24);
  /// Crash-loop guard: a message delivered more often than this is dead-lettered before the
  /// handler sees it (e.g. it kills the process every time). Counts every delivery, so keep it
  /// well above what a database outage produces (~1 per retry_max).
  int max_deliver_unhandled = 200;
  /// kLater: how long in all a message waits for what it depends on before it is
  /// dead-lettered, counted as the sum of its NAK delays (retry_initial doubling up to
  /// retry_max), so every replica reaches the same verdict. The default outlasts several
  /// ack_waits: the event it waits for may sit unacked on a replica that froze or died.
  std::chrono::milliseconds dependency_wait{std::chrono::minutes(3)};
  int fetch_batch = 32;
  /// How long one fetch waits for messages; also bounds how long Stop() waits.
  std::chrono::milliseconds fetch_wait{500};
  /// Server redelivers a message not acked within this (handler hung, process died).
  std::chrono::milliseconds ack_wait{30000};
  int max_ack_pending = 1000;
  /// NAK delay after delivery n: retry_initial * 2^(n-1), capped at retry_max. While nothing
  /// succeeds (every handled message of a batch asked for kRetry) the consumer also pauses
  /// fetching with the same bounded backoff, so an outage does not churn the backlog.
  std::chrono::milliseconds retry_initial{500};
  std::chrono::milliseconds retry_max{30000};
  /// Reconnect / set-up retry pacing when NATS is unreachable.
  std::chrono::milliseconds setup_retry_max{5000};
  std::string client_name = "postgres-service-ingest";
};

/// Counters for /metrics; a snapshot.
struct JetStreamConsumerStats {
  int64_t pending = -1;  ///< undelivered + unacked messages at the last check (-1 unknown)
  uint64_t handled = 0;  ///< handler calls
  uint64_t acked = 0;
  uint64_t retried = 0;       ///< NAKs with delay (kRetry and kLater)
  uint64_t waiting = 0;       ///< of those, kLater: waiting for an event not applied yet
  uint64_t redeliveries = 0;  ///< messages seen with delivery count > 1
  uint64_t dead_lettered = 0;
  uint64_t skipped_dead_letters = 0;  ///< our own dead letters read back from the stream
  uint64_t errors = 0;                ///< fetch/ack/publish failures
  uint64_t pauses = 0;  ///< fetch pauses because nothing succeeded (e.g. database down)
};

/// Runs the fetch loop on its own thread. Start() returns at once; NATS being down is
/// retried with backoff, never fatal.
class JetStreamConsumer {
 public:
  JetStreamConsumer(JetStreamConsumerOptions options, MessageHandler handler);
  JetStreamConsumer(JetStreamConsumerOptions options, BatchHandler handler);
  JetStreamConsumer(const JetStreamConsumer&) = delete;
  JetStreamConsumer& operator=(const JetStreamConsumer&) = delete;
  ~JetStreamConsumer();  ///< Stop()s

  void Start();
  /// Finishes the message in hand (a BatchHandler: the fetch in hand, with its acks), NAKs the
  /// rest of the fetched batch (redelivered at once to another replica), then joins the thread.
  void Stop();
  JetStreamConsumerStats stats() const;

 private:
  struct Impl;
  explicit JetStreamConsumer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace psvc::events

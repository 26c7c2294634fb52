#include "events/jetstream_consumer.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

#include "events/backoff.h"
#include "events/detail/nats_util.h"

// Why it is built this way:
//  - Redelivery pacing is ours (NAK with delay), not the consumer's server-side MaxDeliver:
//    the server silently stops delivering a message past MaxDeliver, leaving it nowhere;
//    we dead-letter it instead, with the reason. The server's MaxDeliver is unlimited.
//  - kRetry is not counted against max_deliver: a database outage must not dead-letter valid
//    events. Only exceptions (unknown, possibly message-specific) are. A message delivered
//    more than max_deliver_unhandled times is dead-lettered before the handler sees it: if it
//    crashes the process, this is what ends the crash loop.
//  - ACKs are confirmed (AckSync; in batch mode only the fetch's last ack waits, after the
//    others on the same connection): once Stop() returns, an acked message is not redelivered
//    to the next process, which the durable-restart test relies on.
//  - A dead letter is published to JetStream (stored, acked) before the original is TERMed;
//    if the publish fails the original is NAKed and tried again, so nothing is lost. Its
//    Nats-Msg-Id (stream + sequence) de-duplicates a repeat after a lost TERM.

namespace psvc::events {

namespace {
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
constexpr auto kPendingRefresh = 1s;
constexpr auto kApiWait = 5000ms;
}  // namespace

struct JetStreamConsumer::Impl {
  Impl(JetStreamConsumerOptions o, MessageHandler h) : opt(std::move(o)), handler(std::move(h)) {}
  Impl(JetStreamConsumerOptions o, BatchHandler h)
      : opt(std::move(o)), batch_handler(std::move(h)) {}

  JetStreamConsumerOptions opt;
  MessageHandler handler;  // one of these two is set
  BatchHandler batch_handler;
  mutable std::mutex mu;
  std::condition_variable cv;    // wakes a backoff sleep on Stop()
  JetStreamConsumerStats stats;  // guarded by mu
  std::atomic<bool> stopping{false};
  std::thread thread;
  bool dlq_in_stream = false;

  // Owned by the consumer thread only.
  detail::NatsPtr<natsConnection> nc;
  detail::NatsPtr<jsCtx> js;
  detail::NatsPtr<natsSubscription> sub;
  Clock::time_point next_pending{};

  void Run();
  void Setup();
  void EnsureConsumer();
  /// What became of one message, for the pause decision.
  enum class Outcome { kApplied, kTransient, kOther };
  /// A fetched message with its JetStream metadata.
  struct Fetched {
    detail::NatsPtr<natsMsg> msg;
    uint64_t delivered = 1, stream_seq = 0;
    int64_t published_ns = 0;
    std::string_view payload() const {
      return {natsMsg_GetData(msg.get()), static_cast<size_t>(natsMsg_GetDataLength(msg.get()))};
    }
  };
  /// Empty when the message was dealt with before any handler (our own dead letter, or the
  /// crash-loop guard).
  std::optional<Fetched> Prepare(detail::NatsPtr<natsMsg> msg);
  /// Acts on the handler's result: ack, NAK with delay, or dead-letter. `sync_ack` waits for
  /// the server to confirm an ack.
  Outcome Settle(Fetched& f, const HandleResult& result, bool threw, bool sync_ack = true);
  void HandleFetched(detail::MsgList& list, int& acked, int& transient);
  void DeadLetter(natsMsg* msg, const std::string& reason, uint64_t delivered, uint64_t stream_seq);
  void Nak(natsMsg* msg, std::chrono::milliseconds delay);
  void RefreshPendingIfDue();
  void Sleep(std::chrono::milliseconds d);
  template <class F>
  void Count(F f) {
    std::lock_guard lock(mu);
    f(stats);
  }
};

JetStreamConsumer::JetStreamConsumer(JetStreamConsumerOptions options, MessageHandler handler)
    : JetStreamConsumer(std::make_unique<Impl>(std::move(options), std::move(handler))) {
  if (!impl_->handler) throw std::invalid_argument("jetstream consumer: no handler");
}

JetStreamConsumer::JetStreamConsumer(JetStreamConsumerOptions options, BatchHandler handler)
    : JetStreamConsumer(std::make_unique<Impl>(std::move(options), std::move(handler))) {
  if (!impl_->batch_handler) throw std::invalid_argument("jetstream consumer: no handler");
}

JetStreamConsumer::JetStreamConsumer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {
  const auto& o = impl_->opt;
  if (o.stream.empty() || o.durable.empty() || o.subjects.empty() ||
      o.dead_letter_subject.empty()) {
    throw std::invalid_argument(
        "jetstream consumer: stream, durable, subjects and dead-letter subject must be set");
  }
  if (o.max_deliver < 1 || o.fetch_batch < 1 || o.max_deliver_unhandled < o.max_deliver) {
    throw std::invalid_argument(
        "jetstream consumer: max_deliver and fetch_batch must be positive, "
        "max_deliver_unhandled >= max_deliver");
  }
  for (const auto& s : o.subjects) {
    if (SubjectMatches(s, o.dead_letter_subject)) impl_->dlq_in_stream = true;
  }
}

JetStreamConsumer::~JetStreamConsumer() { Stop(); }

void JetStreamConsumer::Start() {
  if (impl_->thread.joinable()) return;
  impl_->stopping = false;
  impl_->thread = std::thread([this] { impl_->Run(); });
}

void JetStreamConsumer::Stop() {
  if (!impl_->thread.joinable()) return;
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  impl_->thread.join();
}

JetStreamConsumerStats JetStreamConsumer::stats() const {
  std::lock_guard lock(impl_->mu);
  return impl_->stats;
}

void JetStreamConsumer::Impl::Run() {
  spdlog::info("ingest consumer: starting (stream {}, durable {})", opt.stream, opt.durable);
  Backoff backoff(opt.retry_initial, opt.setup_retry_max);
  Backoff pause(opt.retry_initial, opt.retry_max);
  while (!stopping) {
    try {
      if (!sub) Setup();
      detail::MsgList list;
      jsErrCode jerr = static_cast<jsErrCode>(0);
      natsStatus s = natsSubscription_Fetch(list.get(), sub.get(), opt.fetch_batch,
                                            opt.fetch_wait.count(), &jerr);
      if (s == NATS_TIMEOUT) {  // nothing to do
        RefreshPendingIfDue();
        backoff.Reset();
        continue;
      }
      detail::Check(s, "fetch", jerr);
      backoff.Reset();
      int acked = 0, transient = 0;
      HandleFetched(list, acked, transient);
      RefreshPendingIfDue();
      // Nothing applied and something was transient: likely the database is down. Pause
      // rather than fetch the next messages only to NAK them too.
      if (acked > 0) {
        pause.Reset();
      } else if (transient > 0 && !stopping) {
        Count([](auto& st) { ++st.pauses; });
        Sleep(pause.Next());
      }
    } catch (const detail::NatsError& e) {
      spdlog::warn("ingest consumer: {}", e.what());
      Count([](auto& s) { ++s.errors; });
      // Drop the subscription (re-bound at the next set-up); keep the connection, which
      // reconnects by itself, unless it never came up.
      sub.reset();
      if (e.status() == NATS_NO_SERVER || e.status() == NATS_CONNECTION_CLOSED) {
        js.reset();
        nc.reset();
      }
      Sleep(backoff.Next());
    }
  }
  sub.reset();
  js.reset();
  nc.reset();
  spdlog::info("ingest consumer: stopped");
}

void JetStreamConsumer::Impl::Setup() {
  if (!nc) nc = detail::Connect(opt.nats_url, opt.client_name, kApiWait);
  if (!js) js = detail::JetStream(nc.get(), kApiWait);
  detail::EnsureStream(js.get(), {.name = opt.stream, .subjects = opt.subjects});
  if (!dlq_in_stream) {
    detail::EnsureStream(js.get(),
                         {.name = opt.stream + "_DLQ", .subjects = {opt.dead_letter_subject}});
  }
  EnsureConsumer();
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = opt.stream.c_str();
  so.Consumer = opt.durable.c_str();  // bind to the consumer made above, never create another
  natsSubscription* raw = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s =
      js_PullSubscribe(&raw, js.get(), nullptr, opt.durable.c_str(), nullptr, &so, &jerr);
  detail::NatsPtr<natsSubscription> guard(raw);
  detail::Check(s, "pull subscribe " + opt.stream + "/" + opt.durable, jerr);
  sub = std::move(guard);
  spdlog::info("ingest consumer: bound to {}/{}", opt.stream, opt.durable);
}

void JetStreamConsumer::Impl::EnsureConsumer() {
  jsConsumerInfo* raw = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s =
      js_GetConsumerInfo(&raw, js.get(), opt.stream.c_str(), opt.durable.c_str(), nullptr, &jerr);
  detail::NatsPtr<jsConsumerInfo> info(raw);
  if (s == NATS_OK) {
    const jsConsumerConfig* c = info->Config;
    if (c->DeliverSubject != nullptr && c->DeliverSubject[0] != '\0') {
      throw detail::NatsError("consumer " + opt.durable + " exists as a push consumer", NATS_ERR);
    }
    if (c->AckPolicy != js_AckExplicit) {
      throw detail::NatsError("consumer " + opt.durable + " exists without explicit acks",
                              NATS_ERR);
    }
    return;
  }
  if (s != NATS_NOT_FOUND) detail::Check(s, "consumer info " + opt.durable, jerr);

  jsConsumerConfig cfg;
  jsConsumerConfig_Init(&cfg);
  cfg.Durable = opt.durable.c_str();
  cfg.AckPolicy = js_AckExplicit;
  cfg.DeliverPolicy = js_DeliverAll;
  cfg.AckWait = std::chrono::duration_cast<std::chrono::nanoseconds>(opt.ack_wait).count();
  cfg.MaxDeliver = -1;  // see the note at the top: we dead-letter, the server must not drop
  cfg.MaxAckPending = opt.max_ack_pending;
  jsConsumerInfo* created = nullptr;
  s = js_AddConsumer(&created, js.get(), opt.stream.c_str(), &cfg, nullptr, &jerr);
  detail::NatsPtr<jsConsumerInfo> guard(created);
  detail::Check(s, "create consumer " + opt.durable, jerr);
  spdlog::info("ingest consumer: created durable consumer {}/{}", opt.stream, opt.durable);
}

void JetStreamConsumer::Impl::HandleFetched(detail::MsgList& list, int& acked, int& transient) {
  std::vector<Fetched> ready;
  int i = 0;
  for (; i < list.size() && !stopping; ++i) {
    if (auto f = Prepare(list.Take(i))) ready.push_back(std::move(*f));
  }
  // Stopping: hand the rest back now rather than after ack_wait.
  for (; i < list.size(); ++i) Nak(list.Take(i).get(), 0ms);
  auto count = [&](Outcome k) {
    acked += k == Outcome::kApplied;
    transient += k == Outcome::kTransient;
  };
  if (batch_handler) {
    if (ready.empty()) return;
    std::vector<Delivery> batch;
    for (const auto& f : ready) batch.push_back({f.payload(), static_cast<int>(f.delivered)});
    std::vector<HandleResult> results;
    std::string failure;
    try {
      results = batch_handler(batch);
      if (results.size() != ready.size()) failure = "handler returned a wrong number of results";
    } catch (const std::exception& e) {
      failure = std::string("handler threw: ") + e.what();
    }
    Count([&](auto& s) { s.handled += ready.size(); });
    // One round trip for the acks of a fetch: all but the last are sent without waiting; the
    // last waits for the server's confirmation, which comes after the earlier ones (the
    // consumer handles its acks in order).
    size_t last_ack = ready.size();
    for (size_t k = 0; k < ready.size() && failure.empty(); ++k) {
      if (results[k].kind == HandleResult::kAck) last_ack = k;
    }
    for (size_t k = 0; k < ready.size(); ++k) {
      count(failure.empty() ? Settle(ready[k], results[k], false, k == last_ack)
                            : Settle(ready[k], HandleResult::Retry(failure), true));
    }
    return;
  }
  for (size_t k = 0; k < ready.size(); ++k) {
    if (stopping) {
      Nak(ready[k].msg.get(), 0ms);
      continue;
    }
    HandleResult result;
    bool threw = false;
    try {
      result = handler(ready[k].payload(), static_cast<int>(ready[k].delivered));
    } catch (const std::exception& e) {
      threw = true;
      result = HandleResult::Retry(std::string("handler threw: ") + e.what());
    }
    Count([](auto& s) { ++s.handled; });
    count(Settle(ready[k], result, threw));
  }
}

std::optional<JetStreamConsumer::Impl::Fetched> JetStreamConsumer::Impl::Prepare(
    detail::NatsPtr<natsMsg> msg) {
  std::string subject = natsMsg_GetSubject(msg.get());
  if (dlq_in_stream && subject == opt.dead_letter_subject) {
    // Our own dead letters, stored in this stream for operators: not input.
    natsMsg_AckSync(msg.get(), nullptr, nullptr);
    Count([](auto& s) { ++s.skipped_dead_letters; });
    return std::nullopt;
  }
  Fetched f{std::move(msg)};
  jsMsgMetaData* raw_meta = nullptr;
  if (natsMsg_GetMetaData(&raw_meta, f.msg.get()) == NATS_OK) {
    detail::NatsPtr<jsMsgMetaData> meta(raw_meta);
    f.delivered = meta->NumDelivered;
    f.stream_seq = meta->Sequence.Stream;
    f.published_ns = meta->Timestamp;
  }
  if (f.delivered > 1) Count([](auto& s) { ++s.redeliveries; });
  if (f.delivered > static_cast<uint64_t>(opt.max_deliver_unhandled)) {
    DeadLetter(f.msg.get(),
               "delivered " + std::to_string(f.delivered) + " times without an outcome",
               f.delivered, f.stream_seq);
    return std::nullopt;
  }
  return f;
}

JetStreamConsumer::Impl::Outcome JetStreamConsumer::Impl::Settle(Fetched& f,
                                                                 const HandleResult& result,
                                                                 bool threw, bool sync_ack) {
  natsMsg* msg = f.msg.get();
  const uint64_t delivered = f.delivered, stream_seq = f.stream_seq;
  const int64_t published_ns = f.published_ns;
  switch (result.kind) {
    case HandleResult::kAck: {
      jsErrCode jerr = static_cast<jsErrCode>(0);
      natsStatus s = sync_ack ? natsMsg_AckSync(msg, nullptr, &jerr) : natsMsg_Ack(msg, nullptr);
      if (s != NATS_OK) {
        // Committed but not acked: it comes back and the handler answers "already applied".
        spdlog::warn("ingest consumer: ack of seq {} failed: {}", stream_seq,
                     natsStatus_GetText(s));
        Count([](auto& st) { ++st.errors; });
      } else {
        Count([](auto& st) { ++st.acked; });
      }
      return Outcome::kApplied;
    }
    case HandleResult::kRetry: {
      auto age = std::chrono::system_clock::now().time_since_epoch() -
                 std::chrono::nanoseconds(published_ns);
      if (threw && delivered >= static_cast<uint64_t>(opt.max_deliver)) {
        DeadLetter(msg,
                   "gave up after " + std::to_string(delivered) + " deliveries: " + result.reason,
                   delivered, stream_seq);
        return Outcome::kOther;
      }
      if (!threw && published_ns > 0 && age > opt.retry_deadline) {
        DeadLetter(msg, "still failing after the retry deadline: " + result.reason, delivered,
                   stream_seq);
        return Outcome::kOther;
      }
      spdlog::info("ingest consumer: seq {} delivery {} will be retried: {}", stream_seq, delivered,
                   result.reason);
      Nak(msg, RedeliveryDelay(static_cast<int>(delivered), opt.retry_initial, opt.retry_max));
      Count([](auto& st) { ++st.retried; });
      return threw ? Outcome::kOther : Outcome::kTransient;
    }
    case HandleResult::kDeadLetter:
      DeadLetter(msg, result.reason, delivered, stream_seq);
      return Outcome::kOther;
    case HandleResult::kLater: {
      auto waited =
          WaitedBeforeDelivery(static_cast<int>(delivered), opt.retry_initial, opt.retry_max);
      if (waited >= opt.dependency_wait) {
        DeadLetter(msg,
                   "still not applicable after waiting " + std::to_string(waited.count() / 1000) +
                       " s over " + std::to_string(delivered) + " deliveries: " + result.reason,
                   delivered, stream_seq);
        return Outcome::kOther;
      }
      spdlog::info("ingest consumer: seq {} delivery {} waits for what it depends on: {}",
                   stream_seq, delivered, result.reason);
      Nak(msg, RedeliveryDelay(static_cast<int>(delivered), opt.retry_initial, opt.retry_max));
      Count([](auto& st) {
        ++st.retried;
        ++st.waiting;
      });
      // Not kTransient: fetching must go on, since what it waits for comes through it.
      return Outcome::kOther;
    }
  }
  return Outcome::kOther;
}

void JetStreamConsumer::Impl::DeadLetter(natsMsg* msg, const std::string& reason,
                                         uint64_t delivered, uint64_t stream_seq) {
  spdlog::warn("ingest consumer: dead-lettering seq {} ({}): {}", stream_seq,
               natsMsg_GetSubject(msg), reason);
  natsMsg* raw = nullptr;
  natsStatus s = natsMsg_Create(&raw, opt.dead_letter_subject.c_str(), nullptr,
                                natsMsg_GetData(msg), natsMsg_GetDataLength(msg));
  detail::NatsPtr<natsMsg> dlq(raw);
  std::string count = std::to_string(delivered), seq = std::to_string(stream_seq);
  std::string reason_header = reason.substr(0, 1024);
  // Header values must be one line.
  for (char& c : reason_header) {
    if (c == '\r' || c == '\n') c = ' ';
  }
  if (s == NATS_OK) s = natsMsgHeader_Set(dlq.get(), "Psvc-Dlq-Reason", reason_header.c_str());
  if (s == NATS_OK)
    s = natsMsgHeader_Set(dlq.get(), "Psvc-Original-Subject", natsMsg_GetSubject(msg));
  if (s == NATS_OK) s = natsMsgHeader_Set(dlq.get(), "Psvc-Delivery-Count", count.c_str());
  if (s == NATS_OK) s = natsMsgHeader_Set(dlq.get(), "Psvc-Stream-Seq", seq.c_str());
  std::string msg_id = "dlq-" + opt.stream + "-" + seq;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  jsPubAck* ack_raw = nullptr;
  if (s == NATS_OK) {
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = msg_id.c_str();
    s = js_PublishMsg(&ack_raw, js.get(), dlq.get(), &po, &jerr);
  }
  detail::NatsPtr<jsPubAck> ack(ack_raw);
  if (s != NATS_OK) {
    spdlog::warn("ingest consumer: dead-letter publish failed ({}); seq {} will be redelivered",
                 natsStatus_GetText(s), stream_seq);
    Count([](auto& st) { ++st.errors; });
    Nak(msg, opt.retry_initial);
    return;
  }
  natsMsg_Term(msg, nullptr);
  Count([](auto& st) { ++st.dead_lettered; });
}

void JetStreamConsumer::Impl::Nak(natsMsg* msg, std::chrono::milliseconds delay) {
  natsStatus s = delay.count() > 0 ? natsMsg_NakWithDelay(msg, delay.count(), nullptr)
                                   : natsMsg_Nak(msg, nullptr);
  // A lost NAK costs only time: the server redelivers after ack_wait anyway.
  if (s != NATS_OK) Count([](auto& st) { ++st.errors; });
}

void JetStreamConsumer::Impl::RefreshPendingIfDue() {
  auto now = Clock::now();
  if (now < next_pending) return;
  next_pending = now + kPendingRefresh;
  jsConsumerInfo* raw = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  // natsSubscription_GetConsumerInfo fails on a bound pull subscription in nats.c 3.4.1
  // ("Invalid Subscription"): ask by name.
  natsStatus s =
      js_GetConsumerInfo(&raw, js.get(), opt.stream.c_str(), opt.durable.c_str(), nullptr, &jerr);
  detail::NatsPtr<jsConsumerInfo> info(raw);
  if (s != NATS_OK) {
    spdlog::debug("ingest consumer: consumer info: {}", detail::NatsError("info", s, jerr).what());
    return;
  }
  Count(
      [&](auto& st) { st.pending = static_cast<int64_t>(info->NumPending) + info->NumAckPending; });
}

void JetStreamConsumer::Impl::Sleep(std::chrono::milliseconds d) {
  std::unique_lock lock(mu);
  cv.wait_for(lock, d, [&] { return stopping.load(); });
}

}  // namespace psvc::events

#pragma once
/// Bounded exponential backoff shared by the outbox relay and the ingestion consumer.

#include <chrono>
#include <cstdint>
#include <random>
#include <string_view>

namespace psvc::events {

/// Delays that double from `initial` up to `max`, with ±20% jitter so replicas that failed
/// together do not retry in lockstep. Not thread-safe (one per loop).
class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max);
  /// The next delay (never above max * 1.2), then doubles the base.
  std::chrono::milliseconds Next();
  /// Back to `initial` after a success.
  void Reset() { attempt_ = 0; }
  int attempt() const { return attempt_; }

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds max_;
  int attempt_ = 0;
  std::minstd_rand rng_;
};

/// Redelivery delay for the n-th delivery (1-based): initial * 2^(n-1), capped at max.
std::chrono::milliseconds RedeliveryDelay(int delivery_count, std::chrono::milliseconds initial,
                                          std::chrono::milliseconds max);

/// The least time a message has waited before its n-th delivery (1-based) when every earlier
/// delivery was NAKed with RedeliveryDelay: the sum of those delays.
std::chrono::milliseconds WaitedBeforeDelivery(int delivery_count,
                                               std::chrono::milliseconds initial,
                                               std::chrono::milliseconds max);

/// NATS subject matching: `*` matches one token, a trailing `>` one or more tokens.
bool SubjectMatches(std::string_view pattern, std::string_view subject);

}  // namespace psvc::events

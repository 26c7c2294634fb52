#pragma once
/// Test support shared by the saga tests (in-process runners and the real binary): the
/// catalogue fixture, a participant playing the Qdrant Sync Service, a dump of every row a
/// saga touches, and the rows a finished MergeAnime(A, B) must leave.

#include <nats/nats.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "testing/wait_until.h"

namespace psvc::db {
class Connection;
}

namespace psvc::saga::fixture {

/// The stack's NATS (NATS_URL), default the local stack's port.
std::string NatsUrl();

using psvc::testing::WaitUntil;

/// The string field `key` of a flat JSON object written by the service ("" when absent).
std::string JsonField(const std::string& json, const std::string& key);

// Fixed ids: A, B are the usual duplicate and survivor; C..F neighbours.
inline const std::string kA = "00000000-0000-0000-0000-00000000000a";
inline const std::string kB = "00000000-0000-0000-0000-00000000000b";
inline const std::string kC = "00000000-0000-0000-0000-00000000000c";
inline const std::string kD = "00000000-0000-0000-0000-00000000000d";
inline const std::string kE = "00000000-0000-0000-0000-00000000000e";
inline const std::string kF = "00000000-0000-0000-0000-00000000000f";
inline const std::string kUnknown = "00000000-0000-0000-0000-0000000000ff";

/// Anime A..F with characters, companies, an original work, relations in both directions
/// (one A-B), a pending relation and episodes (number 1 on both A and B).
void SeedCatalogue(db::Connection& conn);

/// Every row of every table a saga touches, as JSON text, in a fixed order.
/// The catalogue tables a saga touches, each with the columns that order its rows.
const std::vector<std::pair<const char*, const char*>>& SagaTables();
std::vector<std::string> DumpSagaTables(db::Connection& conn);

/// gtest expectations: the rows MergeAnime(A, B) leaves once COMPLETED.
void ExpectMerged(db::Connection& conn);

/// Plays the Qdrant Sync Service: receives saga requests published under
/// `<subject_prefix>.>` and replies on each request's reply subject.
class Participant {
 public:
  enum class Mode { kConfirm, kRefuse, kSilent };

  explicit Participant(const std::string& subject_prefix);
  Participant(const Participant&) = delete;
  Participant& operator=(const Participant&) = delete;
  ~Participant();

  void set_mode(Mode m);
  /// Requests seen per event type.
  int Requests(const std::string& event_type);

 private:
  static void OnMsg(natsConnection* nc, natsSubscription*, natsMsg* raw, void* closure);

  struct Nats;
  std::unique_ptr<Nats> nats_;
  std::mutex mu_;
  Mode mode_ = Mode::kConfirm;
  std::map<std::string, int> requests_;
};

/// Deletes JetStream streams a test created (best effort).
void DeleteStreams(const std::vector<std::string>& names);

}  // namespace psvc::saga::fixture

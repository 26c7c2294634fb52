#pragma once
/// Ingestion events as plain C++ values: the write path's input, whatever the transport
/// (gRPC, JetStream, GraphQL mutations). Enumerations are the database's text values.

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace psvc::write {

/// Scalar fields of an anime; std::nullopt / empty = unknown.
struct AnimeFields {
  std::string title;
  std::optional<std::string> title_english;
  std::optional<std::string> title_japanese;
  std::vector<std::string> synonyms;
  std::string type = "UNKNOWN";       ///< TV MOVIE OVA ONA SPECIAL MUSIC UNKNOWN
  std::string status = "UNKNOWN";     ///< FINISHED AIRING UPCOMING UNKNOWN
  std::optional<std::string> season;  ///< WINTER SPRING SUMMER FALL
  std::optional<int32_t> year;
  std::optional<int32_t> episode_count;
  std::optional<std::string> synopsis;
  std::optional<double> score;
};

struct CharacterCredit {
  std::string character_id, name;
  std::optional<std::string> name_japanese;
  std::string role = "SUPPORTING";  ///< MAIN SUPPORTING BACKGROUND
  int32_t favorites = 0;
};

struct CompanyCredit {
  std::string company_id, name;
  std::string role;  ///< studio producer licensor
};

struct RelationRef {
  std::string related_anime_id;
  std::string relation_type;  ///< SEQUEL ... OTHER
};

struct OriginalWorkRef {
  std::string original_work_id, title;
  std::string kind = "OTHER";
  std::optional<std::string> author;
};

/// A whole anime: replaces the anime and its character/company/relation/work sets.
struct AnimeEnriched {
  std::string anime_id;
  AnimeFields fields;
  std::vector<CharacterCredit> characters;
  std::vector<CompanyCredit> companies;
  std::vector<RelationRef> relations;
  std::vector<OriginalWorkRef> original_works;
};

struct EpisodeAired {
  std::string anime_id, episode_id;
  int32_t number = 0;
  std::optional<std::string> title;
  std::optional<std::string> aired_on;  ///< YYYY-MM-DD
  std::optional<int32_t> duration_seconds;
};

/// Partial update: only fields named in `mask` change; applies only at `expected_version`.
struct AnimeUpdated {
  std::string anime_id;
  std::vector<std::string> mask;  ///< AnimeFields member names
  AnimeFields fields;
  int64_t expected_version = 0;
};

/// A view recorded (GraphQL recordView): an atomic increment, no version check.
struct AnimeViewed {
  std::string anime_id;
};

/// The envelope: idempotency key, time, producer and one payload.
struct Event {
  std::string event_id;
  int64_t occurred_at_ms = 0;  ///< Unix epoch milliseconds
  std::string producer;
  std::variant<AnimeEnriched, EpisodeAired, AnimeUpdated, AnimeViewed> payload;
};

/// What happened to an event.
enum class Outcome {
  kApplied,         ///< committed, with its outbox row
  kAlreadyApplied,  ///< this event id was processed before; nothing changed now
  kIgnoredStale,    ///< older than what is stored / based on an old version / names a merged or
                    ///< removed anime; recorded, no change
};

struct ApplyResult {
  Outcome outcome = Outcome::kApplied;
  int64_t version = 0;  ///< the anime's version after the event (0 when not applicable)
  std::string message;
  /// Set when the event named an anime that was merged away: the survivor to send it for.
  std::string merged_into;
  /// IGNORED_STALE because the event named an anime that was removed.
  bool removed = false;
  /// Read-your-writes (docs/graph.md "Reading your own writes"): a transaction id whose
  /// transactions, and every one below it, hold what this answer reflects. APPLIED: the
  /// writing transaction's own id. ALREADY_APPLIED / IGNORED_STALE: at or above every
  /// transaction that had finished when the answer was made (the earlier write of a replayed
  /// event, the state that made it stale). Set once the transaction commits; 0 = none.
  uint64_t change_token = 0;
};

const char* ToString(Outcome outcome);
/// The payload's name as used for outbox event types and metrics ("AnimeEnriched", ...).
const char* EventTypeName(const Event& event);

}  // namespace psvc::write

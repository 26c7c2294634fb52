#pragma once
/// Validation of ingestion events before anything touches the database.

#include <optional>
#include <stdexcept>
#include <string>

#include "write/events.h"

namespace psvc::write {

/// The first problem found, as "<field path>: <what is wrong>" (e.g.
/// "anime_enriched.characters[2].character_id: not a UUID: 'x'"), or nullopt when valid.
/// Ids are canonicalised (lower case) in place.
std::optional<std::string> ValidateEvent(Event& event);

/// Thrown by EventApplier::Apply for an invalid event; nothing was written.
class InvalidEvent : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Thrown when an event refers to an anime that must exist but does not.
class AnimeNotFound : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace psvc::write

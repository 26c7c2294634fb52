#pragma once
/// Protobuf ingestion events (anime.events.v1) → write::Event, for gRPC and JetStream.

#include <string_view>

#include "write/events.h"

namespace anime::events::v1 {
class EventEnvelope;
}

namespace psvc::api {

/// Structural conversion; throws write::InvalidEvent naming the field (no payload, unknown
/// enum number, unsupported schema version). Value checks happen in write::ValidateEvent.
write::Event DecodeEnvelope(const anime::events::v1::EventEnvelope& envelope);

/// Parses serialized bytes first; undecodable bytes are an InvalidEvent too.
write::Event DecodeEnvelope(std::string_view bytes);

}  // namespace psvc::api

#pragma once
/// gRPC PostgresWriteService and the JetStream message handler: both decode, then call the
/// one write path (write::EventApplier).

#include <string_view>

#include "events/jetstream_consumer.h"

namespace psvc::write {
class EventApplier;
}
namespace psvc::saga {
class SagaStore;
}

namespace psvc::api {

class GrpcServer;

class BearerTokens;

/// Adds PostgresWriteService to `server`; `applier`, `sagas` and `tokens` must outlive it.
/// Without `sagas` the saga methods (StartMergeAnime, StartRemoveAnime, GetSaga) answer
/// UNIMPLEMENTED. With enabled `tokens` every method requires `authorization: Bearer <token>`
/// metadata (UNAUTHENTICATED otherwise, nothing written).
void RegisterWriteService(GrpcServer& server, write::EventApplier& applier,
                          saga::SagaStore* sagas = nullptr, const BearerTokens* tokens = nullptr);

/// Applies the JetStream messages of one fetch in one transaction (EventApplier::ApplyBatch):
/// ack when applied (or already applied / stale), retry when the failure is transient
/// (database down, timeout, deadlock), dead-letter when the message can never apply
/// (undecodable, invalid, refused by the database, refers to a missing anime).
std::vector<events::HandleResult> HandleIngestMessages(write::EventApplier& applier,
                                                       const std::vector<events::Delivery>& batch);

/// HandleIngestMessages for one message.
events::HandleResult HandleIngestMessage(write::EventApplier& applier, std::string_view payload);

}  // namespace psvc::api

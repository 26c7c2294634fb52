#include "api/write_service.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include "anime/write/v1/write_service.grpc.pb.h"
#include "api/event_codec.h"
#include "api/grpc_server.h"
#include "api/grpc_status.h"
#include "db/error.h"
#include "write/event_applier.h"

namespace psvc::api {

namespace {

namespace pb = anime::write::v1;
using grpc::Status;
using grpc::StatusCode;

constexpr int kMaxBatch = 1000;

pb::Outcome ToProto(write::Outcome o) {
  switch (o) {
    case write::Outcome::kApplied: return pb::OUTCOME_APPLIED;
    case write::Outcome::kAlreadyApplied: return pb::OUTCOME_ALREADY_APPLIED;
    case write::Outcome::kIgnoredStale: return pb::OUTCOME_IGNORED_STALE;
  }
  return pb::OUTCOME_UNSPECIFIED;
}

/// One event through the write path; any failure becomes a status.
Status ApplyOne(write::EventApplier& applier, const anime::events::v1::EventEnvelope& env,
                write::ApplyResult& result) {
  try {
    result = applier.Apply(DecodeEnvelope(env));
    return Status::OK;
  } catch (const write::InvalidEvent& e) {
    return {StatusCode::INVALID_ARGUMENT, e.what()};
  } catch (const write::AnimeNotFound& e) {
    return {StatusCode::NOT_FOUND, e.what()};
  } catch (...) {
    return StatusFromCurrentException("PostgresWriteService");
  }
}

class WriteService final : public pb::PostgresWriteService::Service {
 public:
  explicit WriteService(write::EventApplier& applier) : applier_(applier) {}

  Status ApplyEvent(grpc::ServerContext*, const pb::ApplyEventRequest* req,
                    pb::ApplyEventResponse* resp) override {
    if (!req->has_event()) return {StatusCode::INVALID_ARGUMENT, "event: required"};
    write::ApplyResult result;
    auto status = ApplyOne(applier_, req->event(), result);
    if (!status.ok()) return status;
    resp->set_outcome(ToProto(result.outcome));
    resp->set_version(result.version);
    resp->set_message(result.message);
    return Status::OK;
  }

  Status ApplyEvents(grpc::ServerContext* ctx, const pb::ApplyEventsRequest* req,
                     pb::ApplyEventsResponse* resp) override {
    if (req->events_size() > kMaxBatch) {
      return {StatusCode::INVALID_ARGUMENT, "events: at most " + std::to_string(kMaxBatch) +
                                                " per call (got " +
                                                std::to_string(req->events_size()) + ")"};
    }
    for (const auto& env : req->events()) {
      auto* out = resp->add_results();
      out->set_event_id(env.event_id());
      if (ctx->IsCancelled()) {
        out->set_outcome(pb::OUTCOME_FAILED);
        out->set_code(StatusCode::CANCELLED);
        out->set_message("the call was cancelled before this event was applied");
        continue;
      }
      write::ApplyResult result;
      auto status = ApplyOne(applier_, env, result);
      if (status.ok()) {
        out->set_outcome(ToProto(result.outcome));
        out->set_version(result.version);
        out->set_message(result.message);
      } else {
        bool permanent = status.error_code() == StatusCode::INVALID_ARGUMENT ||
                         status.error_code() == StatusCode::NOT_FOUND;
        out->set_outcome(permanent ? pb::OUTCOME_REJECTED : pb::OUTCOME_FAILED);
        out->set_code(status.error_code());
        out->set_message(status.error_message());
      }
    }
    return Status::OK;
  }

 private:
  write::EventApplier& applier_;
};

}  // namespace

void RegisterWriteService(GrpcServer& server, write::EventApplier& applier) {
  server.AddService(std::make_unique<WriteService>(applier));
}

events::HandleResult HandleIngestMessage(write::EventApplier& applier, std::string_view payload) {
  using Kind = events::HandleResult::Kind;
  try {
    auto result = applier.Apply(DecodeEnvelope(payload));
    return {Kind::kAck, write::ToString(result.outcome)};
  } catch (const write::InvalidEvent& e) {
    return {Kind::kDeadLetter, std::string("invalid event: ") + e.what()};
  } catch (const write::AnimeNotFound& e) {
    return {Kind::kDeadLetter, e.what()};
  } catch (const db::DbError& e) {
    switch (e.kind()) {
      case db::ErrorKind::kInvalidInput:
      case db::ErrorKind::kConflict:
        return {Kind::kDeadLetter, std::string("rejected by the database: ") +
                                       std::string(db::ToString(e.kind()))};
      case db::ErrorKind::kInternal:
        spdlog::error("ingest: internal database error: {}", e.what());
        return {Kind::kRetry, "internal database error"};
      default:
        return {Kind::kRetry, std::string(db::ToString(e.kind()))};
    }
  }
}

}  // namespace psvc::api

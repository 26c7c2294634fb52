#include "grpc_api/write_service.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include "anime/write/v1/write_service.grpc.pb.h"
#include "auth/auth.h"
#include "changes/change_feed.h"
#include "db/error.h"
#include "grpc_api/event_codec.h"
#include "grpc_api/grpc_server.h"
#include "grpc_api/grpc_status.h"
#include "ids/uuid.h"
#include "saga/saga_store.h"
#include "write/event_applier.h"

namespace psvc::api {

namespace {

namespace pb = anime::write::v1;
using grpc::Status;
using grpc::StatusCode;

constexpr int kMaxBatch = 1000;

pb::Outcome ToProto(write::Outcome o) {
  switch (o) {
    case write::Outcome::kApplied:
      return pb::OUTCOME_APPLIED;
    case write::Outcome::kAlreadyApplied:
      return pb::OUTCOME_ALREADY_APPLIED;
    case write::Outcome::kIgnoredStale:
      return pb::OUTCOME_IGNORED_STALE;
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

StatusCode ToGrpc(saga::Code code) {
  switch (code) {
    case saga::Code::kOk:
      return StatusCode::OK;
    case saga::Code::kInvalidArgument:
      return StatusCode::INVALID_ARGUMENT;
    case saga::Code::kNotFound:
      return StatusCode::NOT_FOUND;
    case saga::Code::kFailedPrecondition:
      return StatusCode::FAILED_PRECONDITION;
    case saga::Code::kAlreadyExists:
      return StatusCode::ALREADY_EXISTS;
  }
  return StatusCode::UNKNOWN;
}

pb::SagaStatus ToProto(const std::string& status) {
  if (status == "RUNNING") return pb::SAGA_STATUS_RUNNING;
  if (status == "COMPENSATING") return pb::SAGA_STATUS_COMPENSATING;
  if (status == "COMPLETED") return pb::SAGA_STATUS_COMPLETED;
  if (status == "COMPENSATED") return pb::SAGA_STATUS_COMPENSATED;
  return pb::SAGA_STATUS_UNSPECIFIED;
}

Status StartResponse(const saga::StartResult& r, pb::StartSagaResponse* resp) {
  if (r.code != saga::Code::kOk) return {ToGrpc(r.code), r.message};
  resp->set_saga_id(r.saga_id);
  resp->set_created(r.created);
  return Status::OK;
}

class WriteService final : public pb::PostgresWriteService::Service {
 public:
  WriteService(write::EventApplier& applier, saga::SagaStore* sagas, const BearerTokens* tokens)
      : applier_(applier), sagas_(sagas), tokens_(tokens) {}

  Status StartMergeAnime(grpc::ServerContext* ctx, const pb::StartMergeAnimeRequest* req,
                         pb::StartSagaResponse* resp) override {
    if (auto denied = CheckBearer(tokens_, *ctx); !denied.ok()) return denied;
    if (!sagas_) return {StatusCode::UNIMPLEMENTED, "sagas are not enabled on this server"};
    try {
      return StartResponse(
          sagas_->StartMerge(req->request_id(), req->duplicate_id(), req->survivor_id()), resp);
    } catch (...) {
      return StatusFromCurrentException("PostgresWriteService.StartMergeAnime");
    }
  }

  Status StartRemoveAnime(grpc::ServerContext* ctx, const pb::StartRemoveAnimeRequest* req,
                          pb::StartSagaResponse* resp) override {
    if (auto denied = CheckBearer(tokens_, *ctx); !denied.ok()) return denied;
    if (!sagas_) return {StatusCode::UNIMPLEMENTED, "sagas are not enabled on this server"};
    try {
      return StartResponse(sagas_->StartRemove(req->request_id(), req->anime_id(), req->reason()),
                           resp);
    } catch (...) {
      return StatusFromCurrentException("PostgresWriteService.StartRemoveAnime");
    }
  }

  Status GetSaga(grpc::ServerContext* ctx, const pb::GetSagaRequest* req, pb::Saga* resp) override {
    if (auto denied = CheckBearer(tokens_, *ctx); !denied.ok()) return denied;
    if (!sagas_) return {StatusCode::UNIMPLEMENTED, "sagas are not enabled on this server"};
    if (!ids::CanonicalUuid(req->saga_id())) {
      return {StatusCode::INVALID_ARGUMENT,
              "saga_id: not a UUID: " + ids::QuoteForMessage(req->saga_id())};
    }
    try {
      auto v = sagas_->Get(req->saga_id());
      if (!v) return {StatusCode::NOT_FOUND, "no saga with id " + req->saga_id()};
      resp->set_saga_id(v->id);
      resp->set_type(v->type);
      resp->set_request_id(v->request_id);
      for (const auto& [k, val] : v->input) (*resp->mutable_input())[k] = val;
      resp->set_status(ToProto(v->status));
      resp->set_current_step(v->current_step);
      resp->set_attempts(v->attempts);
      resp->set_last_error(v->last_error);
      resp->set_created_at_ms(v->created_at_ms);
      resp->set_updated_at_ms(v->updated_at_ms);
      resp->set_finished_at_ms(v->finished_at_ms);
      for (const auto& s : v->steps) {
        auto* out = resp->add_steps();
        out->set_index(s.index);
        out->set_name(s.name);
        out->set_status(s.status);
        out->set_attempts(s.attempts);
        out->set_last_error(s.last_error);
        out->set_reply(s.reply);
        out->set_reply_detail(s.reply_detail);
        out->set_started_at_ms(s.started_at_ms);
        out->set_finished_at_ms(s.finished_at_ms);
        out->set_compensated_at_ms(s.compensated_at_ms);
      }
      return Status::OK;
    } catch (...) {
      return StatusFromCurrentException("PostgresWriteService.GetSaga");
    }
  }

  Status ApplyEvent(grpc::ServerContext* ctx, const pb::ApplyEventRequest* req,
                    pb::ApplyEventResponse* resp) override {
    if (auto denied = CheckBearer(tokens_, *ctx); !denied.ok()) return denied;
    if (!req->has_event()) return {StatusCode::INVALID_ARGUMENT, "event: required"};
    write::ApplyResult result;
    auto status = ApplyOne(applier_, req->event(), result);
    if (!status.ok()) return status;
    resp->set_outcome(ToProto(result.outcome));
    resp->set_version(result.version);
    resp->set_message(result.message);
    resp->set_merged_into(result.merged_into);
    if (result.change_token) resp->set_change_token(changes::FormatXid(result.change_token));
    return Status::OK;
  }

  Status ApplyEvents(grpc::ServerContext* ctx, const pb::ApplyEventsRequest* req,
                     pb::ApplyEventsResponse* resp) override {
    if (auto denied = CheckBearer(tokens_, *ctx); !denied.ok()) return denied;
    if (req->events_size() > kMaxBatch) {
      return {StatusCode::INVALID_ARGUMENT, "events: at most " + std::to_string(kMaxBatch) +
                                                " per call (got " +
                                                std::to_string(req->events_size()) + ")"};
    }
    // Decode all, then apply the decodable ones as one batch (one transaction, a savepoint
    // per event): each keeps its own outcome, the batch pays for one commit.
    std::vector<write::Event> events;
    std::vector<int> index;  // request position of each decoded event
    for (int i = 0; i < req->events_size(); ++i) {
      auto* out = resp->add_results();
      out->set_event_id(req->events(i).event_id());
      try {
        events.push_back(DecodeEnvelope(req->events(i)));
        index.push_back(i);
      } catch (const write::InvalidEvent& e) {
        out->set_outcome(pb::OUTCOME_REJECTED);
        out->set_code(StatusCode::INVALID_ARGUMENT);
        out->set_message(e.what());
      }
    }
    if (events.empty()) return Status::OK;
    try {
      auto items = applier_.ApplyBatch(std::move(events));
      for (size_t k = 0; k < items.size(); ++k) {
        auto* out = resp->mutable_results(index[k]);
        const auto& item = items[k];
        if (item.result) {
          out->set_outcome(ToProto(item.result->outcome));
          out->set_version(item.result->version);
          out->set_message(item.result->message);
          out->set_merged_into(item.result->merged_into);
          if (item.result->change_token) {
            out->set_change_token(changes::FormatXid(item.result->change_token));
          }
          continue;
        }
        using E = write::BatchItem::Error;
        out->set_outcome(item.error == E::kTransient ? pb::OUTCOME_FAILED : pb::OUTCOME_REJECTED);
        out->set_code(item.error == E::kInvalid    ? StatusCode::INVALID_ARGUMENT
                      : item.error == E::kNotFound ? StatusCode::NOT_FOUND
                                                   : StatusCode::UNAVAILABLE);
        out->set_message(item.message);
      }
    } catch (...) {
      auto status = StatusFromCurrentException("PostgresWriteService/ApplyEvents");
      for (int i : index) {
        auto* out = resp->mutable_results(i);
        out->set_outcome(pb::OUTCOME_FAILED);
        out->set_code(status.error_code());
        out->set_message(status.error_message());
      }
    }
    return Status::OK;
  }

 private:
  write::EventApplier& applier_;
  saga::SagaStore* sagas_;
  const BearerTokens* tokens_;
};

}  // namespace

void RegisterWriteService(GrpcServer& server, write::EventApplier& applier, saga::SagaStore* sagas,
                          const BearerTokens* tokens) {
  server.AddService(std::make_unique<WriteService>(applier, sagas, tokens),
                    pb::PostgresWriteService::service_full_name());
}

std::vector<events::HandleResult> HandleIngestMessages(write::EventApplier& applier,
                                                       const std::vector<events::Delivery>& batch) {
  using events::HandleResult;
  std::vector<HandleResult> out(batch.size());
  std::vector<write::Event> events;
  std::vector<size_t> where;
  for (size_t i = 0; i < batch.size(); ++i) {
    try {
      events.push_back(DecodeEnvelope(batch[i].payload));
      where.push_back(i);
    } catch (const write::InvalidEvent& e) {
      out[i] = HandleResult::DeadLetter(std::string("invalid event: ") + e.what());
    }
  }
  if (events.empty()) return out;
  std::vector<write::BatchItem> items;
  try {
    // One transaction for the whole fetch: one commit instead of one per message.
    items = applier.ApplyBatch(std::move(events));
  } catch (const db::DbError& e) {
    if (e.kind() == db::ErrorKind::kInternal) {
      spdlog::error("ingest: internal database error: {}", e.what());
    }
    for (size_t i : where) out[i] = HandleResult::Retry(std::string(db::ToString(e.kind())));
    return out;
  }
  for (size_t k = 0; k < where.size(); ++k) {
    const auto& item = items[k];
    HandleResult& r = out[where[k]];
    using E = write::BatchItem::Error;
    if (item.result) {
      // IGNORED_STALE is final (recorded in processed_event with its reason): a merged id's
      // reason names the survivor, which JetStream producers learn from AnimeMergeCompleted.
      r = {HandleResult::kAck,
           std::string(write::ToString(item.result->outcome)) +
               (item.result->message.empty() ? "" : ": " + item.result->message)};
    } else if (item.error == E::kNotFound) {
      // Its anime may still be on its way (a redelivered enrichment can come after the
      // episodes and updates that follow it in the stream): wait, then dead-letter.
      r = HandleResult::Later(item.message);
    } else if (item.db_error == db::ErrorKind::kInvalidInput ||
               item.db_error == db::ErrorKind::kConflict) {
      r = HandleResult::DeadLetter("rejected by the database: " +
                                   std::string(db::ToString(*item.db_error)));
    } else if (item.error == E::kInvalid) {
      r = HandleResult::DeadLetter("invalid event: " + item.message);
    } else {
      if (item.db_error == db::ErrorKind::kInternal) {
        spdlog::error("ingest: internal database error applying an event: {}", item.message);
      }
      r = HandleResult::Retry(item.message);
    }
  }
  return out;
}

events::HandleResult HandleIngestMessage(write::EventApplier& applier, std::string_view payload) {
  return HandleIngestMessages(applier, {{payload, 1}}).front();
}

}  // namespace psvc::api

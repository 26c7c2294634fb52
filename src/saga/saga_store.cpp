#include "saga/saga_store.h"

#include <algorithm>
#include <set>

#include "json/json_string.h"
#include "db/array_literal.h"
#include "db/error.h"
#include "db/pool.h"
#include "ids/uuid.h"
#include "saga/anime_sagas.h"
#include "saga/saga_statements.h"

namespace psvc::saga {

namespace {

constexpr std::size_t kMaxRequestId = 200;
constexpr std::size_t kMaxReason = 1000;
// Creation retries after a deadlock / serialization failure (both roll everything back).
constexpr int kCreateRetries = 3;

StartResult Refuse(Code code, std::string message) {
  StartResult r;
  r.code = code;
  r.message = std::move(message);
  return r;
}

std::optional<StartResult> CheckRequestId(const std::string& request_id) {
  if (request_id.empty()) return Refuse(Code::kInvalidArgument, "request_id: required");
  if (request_id.size() > kMaxRequestId) {
    return Refuse(Code::kInvalidArgument,
                  "request_id: at most " + std::to_string(kMaxRequestId) + " characters");
  }
  for (unsigned char c : request_id) {
    if (c < 0x20 || c == 0x7f) {
      return Refuse(Code::kInvalidArgument, "request_id: control characters are not allowed");
    }
  }
  return std::nullopt;
}

std::optional<std::string> Uuid(const std::string& text, const char* field, StartResult& error) {
  auto id = ids::CanonicalUuid(text);
  if (!id) {
    error = Refuse(Code::kInvalidArgument,
                   std::string(field) + ": not a UUID: " + ids::QuoteForMessage(text));
  }
  return id;
}

std::string InputJson(const std::vector<std::pair<std::string, std::string>>& input) {
  std::string out = "{";
  for (const auto& [k, v] : input) {
    if (out.size() > 1) out += ",";
    out += json::Quoted(k) + ":" + json::Quoted(v);
  }
  return out + "}";
}

}  // namespace

const char* ToString(Code code) {
  switch (code) {
    case Code::kOk: return "OK";
    case Code::kInvalidArgument: return "INVALID_ARGUMENT";
    case Code::kNotFound: return "NOT_FOUND";
    case Code::kFailedPrecondition: return "FAILED_PRECONDITION";
    case Code::kAlreadyExists: return "ALREADY_EXISTS";
  }
  return "?";
}

SagaStore::SagaStore(db::Pool& pool, std::function<void()> on_started)
    : pool_(pool), on_started_(std::move(on_started)) {}

StartResult SagaStore::StartMerge(const std::string& request_id, const std::string& duplicate_id,
                                  const std::string& survivor_id) {
  if (auto e = CheckRequestId(request_id)) return *e;
  StartResult error;
  auto dup = Uuid(duplicate_id, "duplicate_id", error);
  if (!dup) return error;
  auto surv = Uuid(survivor_id, "survivor_id", error);
  if (!surv) return error;
  if (*dup == *surv) {
    return Refuse(Code::kInvalidArgument,
                  "survivor_id: an anime cannot be merged into itself (" + *dup + ")");
  }
  return Start(kMergeAnime, request_id, {{"duplicate_id", *dup}, {"survivor_id", *surv}},
               {*dup, *surv});
}

StartResult SagaStore::StartRemove(const std::string& request_id, const std::string& anime_id,
                                   const std::string& reason) {
  if (auto e = CheckRequestId(request_id)) return *e;
  StartResult error;
  auto id = Uuid(anime_id, "anime_id", error);
  if (!id) return error;
  if (reason.find_first_not_of(" \t\r\n") == std::string::npos) {
    return Refuse(Code::kInvalidArgument, "reason: required");
  }
  if (reason.size() > kMaxReason) {
    return Refuse(Code::kInvalidArgument,
                  "reason: at most " + std::to_string(kMaxReason) + " bytes");
  }
  return Start(kRemoveAnime, request_id, {{"anime_id", *id}, {"reason", reason}}, {*id});
}

StartResult SagaStore::Start(const std::string& type, const std::string& request_id,
                             const std::vector<std::pair<std::string, std::string>>& input,
                             const std::vector<std::string>& anime_ids) {
  const std::string input_json = InputJson(input);
  const SagaDefinition* def = FindDefinition(type);
  std::vector<std::string> step_names;
  for (const auto& s : def->steps) step_names.push_back(s.name);

  auto conn = pool_.Acquire();
  for (int attempt = 0;; ++attempt) {
    try {
      db::Transaction tx(*conn);
      // The same request again (a client retry): the saga it started, whatever became of
      // the anime since. Checked first, so a finished merge still answers with its saga.
      auto existing = conn->Execute(sql::kFindByRequest, {request_id});
      if (existing.rows() == 1) {
        auto canonical = conn->Execute(sql::kCanonicalInput, {input_json});
        if (existing.Get(0, 1) == type && existing.Get(0, 2) == canonical.Get(0, 0)) {
          StartResult r;
          r.saga_id = std::string(existing.Get(0, 0));
          return r;
        }
        return Refuse(Code::kAlreadyExists,
                      "request_id: already used for a different request (saga " +
                          std::string(existing.Get(0, 0)) + ", " +
                          std::string(existing.Get(0, 1)) + ")");
      }

      // Locks the rows in id order: concurrent requests naming the same anime queue here.
      auto states = conn->Execute(sql::kAnimeStates, {db::ArrayLiteral(anime_ids)});
      for (const auto& id : anime_ids) {
        int row = -1;
        for (int i = 0; i < states.rows(); ++i) {
          if (states.Get(i, 0) == id) row = i;
        }
        if (row < 0) {
          auto retired = conn->Execute(sql::kRetiredId, {id});
          if (retired.rows() > 0 && retired.Get(0, 0) == "merged") {
            return Refuse(Code::kFailedPrecondition, "anime " + id + " was merged into " +
                                                         std::string(retired.Get(0, 1)));
          }
          if (retired.rows() > 0) {
            return Refuse(Code::kFailedPrecondition, "anime " + id + " was removed");
          }
          return Refuse(Code::kNotFound, "no anime with id " + id);
        }
        if (!states.Get(row, 1).empty()) {
          return Refuse(Code::kFailedPrecondition, "anime " + id + " is merged into " +
                                                       std::string(states.Get(row, 1)));
        }
        if (states.GetBool(row, 2)) {
          return Refuse(Code::kFailedPrecondition, "anime " + id + " is removed (hidden)");
        }
      }

      auto created = conn->Execute(sql::kCreateSaga, {type, request_id, input_json});
      if (created.rows() == 0) {
        // The same request id committed concurrently: answer from its row next round.
        if (attempt >= kCreateRetries) {
          throw db::DbError(db::ErrorKind::kSerialization, "saga creation kept conflicting");
        }
        continue;
      }
      std::string saga_id(created.Get(0, 0));
      std::set<std::string> wanted(anime_ids.begin(), anime_ids.end());
      auto locked = conn->Execute(sql::kLockAnime, {db::ArrayLiteral(anime_ids), saga_id});
      if (static_cast<std::size_t>(locked.rows()) < wanted.size()) {
        auto holders = conn->Execute(sql::kLockHolders, {db::ArrayLiteral(anime_ids)});
        std::string message = "anime is part of an unfinished saga";
        if (holders.rows() > 0) {
          message = "anime " + std::string(holders.Get(0, 0)) + " is part of unfinished saga " +
                    std::string(holders.Get(0, 1)) + " (" + std::string(holders.Get(0, 2)) + ")";
        }
        return Refuse(Code::kFailedPrecondition, message);  // rolls back the saga row
      }
      conn->Execute(sql::kCreateSteps, {saga_id, db::ArrayLiteral(step_names)});
      tx.Commit();
      if (on_started_) on_started_();
      StartResult r;
      r.saga_id = std::move(saga_id);
      r.created = true;
      return r;
    } catch (const db::DbError& e) {
      if (e.kind() != db::ErrorKind::kSerialization || attempt >= kCreateRetries) throw;
    }
  }
}

std::optional<SagaView> SagaStore::Get(const std::string& saga_id) {
  auto id = ids::CanonicalUuid(saga_id);
  if (!id) return std::nullopt;
  auto conn = pool_.Acquire();
  auto res = conn->Execute(sql::kGetSaga, {*id});
  if (res.rows() == 0) return std::nullopt;
  SagaView v;
  v.id = std::string(res.Get(0, 0));
  v.type = std::string(res.Get(0, 1));
  v.request_id = std::string(res.Get(0, 2));
  v.input_json = std::string(res.Get(0, 3));
  v.status = std::string(res.Get(0, 4));
  v.current_step = static_cast<int>(res.GetInt64(0, 5));
  v.attempts = static_cast<int>(res.GetInt64(0, 6));
  v.last_error = std::string(res.Get(0, 7));
  v.lease_owner = std::string(res.Get(0, 8));
  v.created_at_ms = res.GetInt64(0, 9);
  v.updated_at_ms = res.GetInt64(0, 10);
  v.finished_at_ms = res.GetInt64(0, 11);
  v.next_attempt_at_ms = res.GetInt64(0, 12);
  auto input = conn->Execute(sql::kLoadInput, {*id});
  for (int i = 0; i < input.rows(); ++i) {
    v.input.emplace_back(std::string(input.Get(i, 0)), std::string(input.Get(i, 1)));
  }
  auto steps = conn->Execute(sql::kGetSteps, {*id});
  for (int i = 0; i < steps.rows(); ++i) {
    StepView s;
    s.index = static_cast<int>(steps.GetInt64(i, 0));
    s.name = std::string(steps.Get(i, 1));
    s.status = std::string(steps.Get(i, 2));
    s.attempts = static_cast<int>(steps.GetInt64(i, 3));
    s.last_error = std::string(steps.Get(i, 4));
    s.reply = std::string(steps.Get(i, 5));
    s.reply_detail = std::string(steps.Get(i, 6));
    s.started_at_ms = steps.GetInt64(i, 7);
    s.finished_at_ms = steps.GetInt64(i, 8);
    s.compensated_at_ms = steps.GetInt64(i, 9);
    v.steps.push_back(std::move(s));
  }
  return v;
}

std::vector<SagaView> SagaStore::List(const std::string& status, int limit) {
  std::vector<std::string> ids;
  {
    auto conn = pool_.Acquire();
    auto res = conn->Execute(sql::kListSagas, {status, std::to_string(std::clamp(limit, 1, 1000))});
    for (int i = 0; i < res.rows(); ++i) ids.emplace_back(res.Get(i, 0));
  }
  std::vector<SagaView> out;
  for (const auto& id : ids) {
    if (auto v = Get(id)) out.push_back(std::move(*v));
  }
  return out;
}

std::vector<std::pair<std::string, int64_t>> SagaStore::CountByStatus() {
  auto conn = pool_.Acquire();
  auto res = conn->Execute(sql::kCountByStatus);
  std::vector<std::pair<std::string, int64_t>> out;
  for (int i = 0; i < res.rows(); ++i) out.emplace_back(std::string(res.Get(i, 0)), res.GetInt64(i, 1));
  return out;
}

ControlResult SagaStore::Retry(const std::string& saga_id) {
  auto id = ids::CanonicalUuid(saga_id);
  if (!id) return {Code::kInvalidArgument, "saga id: not a UUID: " + ids::QuoteForMessage(saga_id)};
  {
    auto conn = pool_.Acquire();
    auto res = conn->Execute(sql::kRetryNow, {*id});
    if (res.rows() == 0) {
      auto status = conn->Execute(sql::kStatusOf, {*id});
      if (status.rows() == 0) return {Code::kNotFound, "no saga with id " + *id};
      return {Code::kFailedPrecondition,
              "saga " + *id + " is finished (" + std::string(status.Get(0, 0)) + ")"};
    }
  }
  if (on_started_) on_started_();
  return {};
}

ControlResult SagaStore::Abort(const std::string& saga_id, const std::string& reason) {
  auto id = ids::CanonicalUuid(saga_id);
  if (!id) return {Code::kInvalidArgument, "saga id: not a UUID: " + ids::QuoteForMessage(saga_id)};
  auto view = Get(*id);
  if (!view) return {Code::kNotFound, "no saga with id " + *id};
  const SagaDefinition* def = FindDefinition(view->type);
  if (!def) return {Code::kFailedPrecondition, "unknown saga type " + view->type};
  {
    auto conn = pool_.Acquire();
    auto res = conn->Execute(sql::kAbort, {*id, std::to_string(def->point_of_no_return),
                                           reason.empty() ? "by operator" : reason});
    if (res.rows() == 0) {
      auto status = conn->Execute(sql::kStatusOf, {*id});
      std::string st = status.rows() ? std::string(status.Get(0, 0)) : "?";
      if (st != "RUNNING") return {Code::kFailedPrecondition, "saga " + *id + " is " + st};
      return {Code::kFailedPrecondition,
              "saga " + *id + " passed its point of no return (step '" +
                  def->steps[def->point_of_no_return].name + "' is done); it can only complete"};
    }
  }
  if (on_started_) on_started_();
  return {};
}

}  // namespace psvc::saga

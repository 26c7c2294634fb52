#include "saga/anime_sagas.h"

#include <cstdio>

#include "db/array_literal.h"
#include "db/connection.h"
#include "json/json_string.h"
#include "saga/anime_saga_statements.h"
#include "saga/saga_statements.h"

namespace psvc::saga {

namespace {

void LockBoth(StepContext& ctx, const std::string& a, const std::string& b) {
  ctx.conn.Execute(sql::kLockIds, {db::ArrayLiteral(std::vector<std::string>{a, b})});
}

/// The anime a step works on must still be there and in the state the saga left it in;
/// otherwise something outside the saga interfered and going on would corrupt data.
void ExpectAnime(StepContext& ctx, const std::string& id, const std::string& merged_into,
                 bool hidden, const char* role) {
  auto res = ctx.conn.Execute(sql::kAnimeStates, {db::ArrayLiteral(std::vector<std::string>{id})});
  if (res.rows() == 0) throw StepFailed(std::string(role) + " anime " + id + " no longer exists");
  if (std::string(res.Get(0, 1)) != merged_into) {
    throw StepFailed(std::string(role) + " anime " + id + " is in an unexpected merge state");
  }
  if (res.GetBool(0, 2) != hidden) {
    throw StepFailed(std::string(role) + " anime " + id + " is in an unexpected hidden state");
  }
}

void Outbox(StepContext& ctx, const std::string& aggregate, const char* type,
            const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string payload = "{\"schema\":1,\"event_type\":" + json::Quoted(type) +
                        ",\"anime_id\":" + json::Quoted(aggregate) +
                        ",\"saga_id\":" + json::Quoted(ctx.saga_id);
  for (const auto& [k, v] : fields) payload += "," + json::Quoted(k) + ":" + json::Quoted(v);
  payload += "}";
  ctx.conn.Execute(sql::kInsertOutbox, {aggregate, type, payload});
}

SagaDefinition BuildMerge() {
  SagaDefinition d;
  d.type = kMergeAnime;
  d.point_of_no_return = 1;

  // Before the point of no return the merge only checks and announces: it changes no
  // catalogue row, so no write made while it waits can be undone by its compensation
  // (docs/sagas.md).
  StepDefinition merge;
  merge.name = "merge";
  merge.action = [](StepContext& ctx) {
    const auto& dup = ctx.Field("duplicate_id");
    const auto& surv = ctx.Field("survivor_id");
    LockBoth(ctx, dup, surv);
    ExpectAnime(ctx, dup, "", false, "duplicate");
    ExpectAnime(ctx, surv, "", false, "survivor");
  };
  merge.compensation = [](StepContext& ctx) {
    const auto& dup = ctx.Field("duplicate_id");
    const auto& surv = ctx.Field("survivor_id");
    Outbox(ctx, dup, "AnimeMergeReverted", {{"duplicate_id", dup}, {"survivor_id", surv}});
  };
  d.steps.push_back(std::move(merge));

  StepDefinition confirm;
  confirm.name = "confirm";
  confirm.request = [](StepContext& ctx) {
    const auto& dup = ctx.Field("duplicate_id");
    return RemoteRequest{
        dup, "AnimeMerged", {{"duplicate_id", dup}, {"survivor_id", ctx.Field("survivor_id")}}};
  };
  d.steps.push_back(std::move(confirm));

  // The whole merge, in one transaction, on the rows as they are now (writes made while the
  // confirmation was awaited included).
  StepDefinition finalize;
  finalize.name = "finalize";
  finalize.action = [](StepContext& ctx) {
    const auto& dup = ctx.Field("duplicate_id");
    const auto& surv = ctx.Field("survivor_id");
    LockBoth(ctx, dup, surv);
    ctx.conn.Execute(sql::kLockAnimeRows, {db::ArrayLiteral(std::vector<std::string>{dup, surv})});
    ctx.conn.Execute(sql::kMergeHubEdges, {dup, surv});
    ctx.conn.Execute(sql::kMergeRelations, {dup, surv});
    ctx.conn.Execute(sql::kMergeEpisodesAndViews, {dup, surv});
    ctx.conn.Execute(sql::kMergeRedirect, {ctx.saga_id, dup, surv});
    ctx.conn.Execute(sql::kPurgeAnime, {dup});
    Outbox(ctx, surv, "AnimeMergeCompleted", {{"duplicate_id", dup}, {"survivor_id", surv}});
  };
  d.steps.push_back(std::move(finalize));
  return d;
}

SagaDefinition BuildRemove() {
  SagaDefinition d;
  d.type = kRemoveAnime;
  d.point_of_no_return = 1;

  StepDefinition hide;
  hide.name = "hide";
  hide.action = [](StepContext& ctx) {
    const auto& id = ctx.Field("anime_id");
    LockBoth(ctx, id, id);
    ExpectAnime(ctx, id, "", false, "removed");
    ctx.conn.Execute(sql::kRemoveSnapshot, {ctx.saga_id, id});
    ctx.conn.Execute(sql::kHide, {id});
  };
  hide.compensation = [](StepContext& ctx) {
    const auto& id = ctx.Field("anime_id");
    LockBoth(ctx, id, id);
    ctx.conn.Execute(sql::kUnhide, {ctx.saga_id, id});
    Outbox(ctx, id, "AnimeRemovalReverted", {{"reason", ctx.Field("reason")}});
  };
  d.steps.push_back(std::move(hide));

  StepDefinition confirm;
  confirm.name = "confirm";
  confirm.request = [](StepContext& ctx) {
    const auto& id = ctx.Field("anime_id");
    return RemoteRequest{id, "AnimeRemoved", {{"reason", ctx.Field("reason")}}};
  };
  d.steps.push_back(std::move(confirm));

  StepDefinition purge;
  purge.name = "purge";
  purge.action = [](StepContext& ctx) {
    const auto& id = ctx.Field("anime_id");
    LockBoth(ctx, id, id);
    ctx.conn.Execute(sql::kTombstone, {ctx.saga_id, id, ctx.Field("reason")});
    ctx.conn.Execute(sql::kPurgeAnime, {id});
  };
  d.steps.push_back(std::move(purge));
  return d;
}

constexpr const db::Statement* kAllStatements[] = {
    // engine
    &sql::kClaim, &sql::kLockSaga, &sql::kLoadInput, &sql::kLoadStep, &sql::kStepDone,
    &sql::kStepRequestSent, &sql::kStepFailed, &sql::kStepCompensated, &sql::kFailAwaiting,
    &sql::kLastDoneStep, &sql::kAdvance, &sql::kCompensationProgress, &sql::kRelease,
    &sql::kBeginCompensation, &sql::kFinish, &sql::kRecordReply, &sql::kInsertOutbox,
    // store
    &sql::kFindByRequest, &sql::kCreateSaga, &sql::kCanonicalInput, &sql::kCreateSteps,
    &sql::kLockAnime, &sql::kLockHolders, &sql::kAnimeStates, &sql::kRetiredId, &sql::kGetSaga,
    &sql::kGetSteps, &sql::kListSagas, &sql::kCountByStatus, &sql::kRetryNow, &sql::kAbort,
    &sql::kStatusOf,
    // MergeAnime, RemoveAnime
    &sql::kLockIds, &sql::kLockAnimeRows, &sql::kMergeHubEdges, &sql::kMergeRelations,
    &sql::kMergeEpisodesAndViews, &sql::kMergeRedirect, &sql::kPurgeAnime, &sql::kRemoveSnapshot,
    &sql::kHide, &sql::kUnhide, &sql::kTombstone};

}  // namespace

const std::string& StepContext::Field(const std::string& key) const {
  auto it = input.find(key);
  if (it == input.end()) throw StepFailed("saga input has no field '" + key + "'");
  return it->second;
}

const SagaDefinition& MergeAnimeSaga() {
  static const SagaDefinition d = BuildMerge();  // immutable once built
  return d;
}

const SagaDefinition& RemoveAnimeSaga() {
  static const SagaDefinition d = BuildRemove();
  return d;
}

const SagaDefinition* FindDefinition(const std::string& type) {
  if (type == kMergeAnime) return &MergeAnimeSaga();
  if (type == kRemoveAnime) return &RemoveAnimeSaga();
  return nullptr;
}

db::StatementList AllStatements() { return kAllStatements; }

}  // namespace psvc::saga

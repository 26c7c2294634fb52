#pragma once
/// Starting and inspecting sagas: what the gRPC methods and the CLI call. Driving them is
/// SagaRunner's job; a started saga is picked up by any running runner.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace psvc::db {
class Pool;
}

namespace psvc::saga {

/// How a request fared, as far as a caller must decide (maps 1:1 to gRPC codes).
enum class Code {
  kOk,
  kInvalidArgument,     ///< malformed input (not a UUID, merge into itself, empty reason)
  kNotFound,            ///< unknown anime / saga
  kFailedPrecondition,  ///< the anime is merged, removed or part of an unfinished saga
  kAlreadyExists,       ///< the request id was used before for a different request
};

/// The answer of StartMerge / StartRemove: the saga id, and whether this call created it
/// (false: the same request id was seen before; the original saga is returned).
struct StartResult {
  Code code = Code::kOk;
  std::string message;
  std::string saga_id;
  bool created = false;
};

/// One step of a saga as stored.
struct StepView {
  int index = 0;
  std::string name, status;
  int attempts = 0;
  std::string last_error, reply, reply_detail;
  int64_t started_at_ms = 0, finished_at_ms = 0, compensated_at_ms = 0;
};

/// A saga as stored.
struct SagaView {
  std::string id, type, request_id;
  std::vector<std::pair<std::string, std::string>> input;
  std::string input_json;
  std::string status;  ///< RUNNING COMPENSATING COMPLETED COMPENSATED
  int current_step = 0;
  int attempts = 0;
  std::string last_error, lease_owner;
  int64_t created_at_ms = 0, updated_at_ms = 0, finished_at_ms = 0, next_attempt_at_ms = 0;
  std::vector<StepView> steps;
};

/// The answer of an operator action (retry, abort).
struct ControlResult {
  Code code = Code::kOk;
  std::string message;
};

/// Thread-safe (each call borrows a pooled connection).
class SagaStore {
 public:
  /// `on_started` runs after a saga was created (e.g. wakes the local SagaRunner).
  explicit SagaStore(db::Pool& pool, std::function<void()> on_started = {});

  /// MergeAnime(duplicate, survivor). Refuses (nothing written): malformed ids, a merge into
  /// itself, unknown ids, a duplicate or survivor that is merged, removed or already part of
  /// an unfinished saga (so A->B and B->A cannot both start). Database failures throw
  /// db::DbError.
  StartResult StartMerge(const std::string& request_id, const std::string& duplicate_id,
                         const std::string& survivor_id);
  /// RemoveAnime(id, reason); refuses like StartMerge.
  StartResult StartRemove(const std::string& request_id, const std::string& anime_id,
                          const std::string& reason);

  std::optional<SagaView> Get(const std::string& saga_id);
  /// Newest first; `status` empty = any.
  std::vector<SagaView> List(const std::string& status, int limit);
  /// Saga counts by status (metrics).
  std::vector<std::pair<std::string, int64_t>> CountByStatus();

  /// Runs an unfinished saga now: skips its backoff or the rest of a reply wait.
  ControlResult Retry(const std::string& saga_id);
  /// Compensates a running saga that has not passed its point of no return.
  ControlResult Abort(const std::string& saga_id, const std::string& reason);

 private:
  StartResult Start(const std::string& type, const std::string& request_id,
                    const std::vector<std::pair<std::string, std::string>>& input,
                    const std::vector<std::string>& anime_ids);

  db::Pool& pool_;
  std::function<void()> on_started_;
};

const char* ToString(Code code);

}  // namespace psvc::saga

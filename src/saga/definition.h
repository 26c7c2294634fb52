#pragma once
/// What a saga type is made of: ordered steps, each with an action and a compensation.
/// The engine (SagaRunner) persists progress; a definition holds no state.

#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace psvc::db {
class Connection;
}

namespace psvc::saga {

/// A saga's input, as stored in saga.input (flat string fields).
using SagaInput = std::map<std::string, std::string>;

/// What a step's code may use. The connection is inside the engine's transaction: the step's
/// writes commit together with the saga's state change, or not at all.
struct StepContext {
  db::Connection& conn;
  const std::string& saga_id;
  const SagaInput& input;
  /// The input field `key`; throws StepFailed when missing (a corrupt saga row).
  const std::string& Field(const std::string& key) const;
};

/// Thrown by a step that can never succeed as things stand (a precondition no longer
/// holds): the saga stops going forward and compensates. Any other exception is transient
/// and the step is retried with backoff.
class StepFailed : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The request a remote step publishes through the outbox. The engine adds saga_id,
/// saga_type, step, attempt and reply_subject to the payload.
struct RemoteRequest {
  std::string aggregate_id;  ///< qdrant_outbox.aggregate_id (an anime id)
  std::string event_type;    ///< e.g. "AnimeMerged"
  std::vector<std::pair<std::string, std::string>> fields;  ///< extra string fields
};

/// One step. A local step runs `action` in a transaction. A remote step (request set)
/// publishes its request, then waits for the participant's reply (confirm / refuse) with a
/// timeout and bounded retries. A step's compensation (optional) undoes its action.
struct StepDefinition {
  std::string name;
  std::function<void(StepContext&)> action;
  std::function<void(StepContext&)> compensation;
  std::function<RemoteRequest(StepContext&)> request;
  bool remote() const { return static_cast<bool>(request); }
};

/// A saga type. Once step `point_of_no_return` is done the saga only goes forward (its
/// later steps are retried until they succeed and it can no longer be aborted).
struct SagaDefinition {
  std::string type;
  std::vector<StepDefinition> steps;
  int point_of_no_return = 0;
};

/// The definitions the service knows, by type ("MergeAnime", "RemoveAnime").
const SagaDefinition* FindDefinition(const std::string& type);

}  // namespace psvc::saga

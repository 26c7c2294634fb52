#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "graphql/ast.h"
#include "graphql/error.h"
#include "graphql/schema.h"
#include "graphql/value.h"

namespace psvc::graphql {

namespace detail {
struct ExecutionState;
}

/// What to run: a validated document, the operation to pick and its raw variables.
struct ExecutionRequest {
  const Document* document = nullptr;
  std::string_view operation_name;      // empty: the document's only operation
  const ValueMap* variables = nullptr;  // raw JSON-decoded values, coerced here
  Value root_value;                     // parent of the root fields
  void* context = nullptr;              // handed to every resolver
};

/// The outcome of executing one operation; serialise it with AppendJson.
class ExecutionResult {
 public:
  ExecutionResult();
  ExecutionResult(ExecutionResult&&) noexcept;
  ExecutionResult& operator=(ExecutionResult&&) noexcept;
  ~ExecutionResult();

  /// False for request errors (bad variables, unknown operation): the response has no "data".
  bool has_data() const;
  const std::vector<Error>& errors() const;
  /// Appends {"errors":[...],"data":{...}} (errors only when there are any).
  void AppendJson(std::string& out) const;

 private:
  friend ExecutionResult Execute(const Schema&, ExecutionRequest&&);
  friend ExecutionResult MakeErrorResult(std::vector<Error>);
  std::unique_ptr<detail::ExecutionState> state_;
};

/// Executes a validated document (spec §6). The document and any borrowed resolver data must
/// outlive the result.
ExecutionResult Execute(const Schema& schema, ExecutionRequest&& request);

/// A subscription's source stream, as far as the engine knows it (§6.2.3.1): its single root
/// field and coerced arguments. The caller creates the stream and runs Execute once per event
/// with the event as ExecutionRequest::root_value.
struct SubscriptionField {
  std::string name;           // the field's name in the schema
  std::string response_key;   // its alias, or the name
  ValueMap args;              // coerced, defaults applied
  std::vector<Error> errors;  // request errors (variables, operation): no stream
};

/// Picks the operation (as Execute does), checks it is a subscription and coerces variables
/// and the root field's arguments. The document must be valid.
SubscriptionField ResolveSubscriptionField(const Schema& schema, const Document& document,
                                           std::string_view operation_name,
                                           const ValueMap* variables);

/// A result carrying request errors only (for parse/validation failures).
ExecutionResult MakeErrorResult(std::vector<Error> errors);

/// Appends one error as JSON: {"message":..,"locations":[..],"path":[..]}.
void AppendErrorJson(std::string& out, const Error& error);

}  // namespace psvc::graphql

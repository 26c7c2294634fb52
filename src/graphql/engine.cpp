#include "graphql/engine.h"

#include "graphql/json.h"

namespace psvc::graphql {

Engine::Engine(std::shared_ptr<const Schema> schema, EngineOptions options)
    : schema_(std::move(schema)),
      options_(options),
      cache_(std::make_unique<DocumentCache>(options.document_cache_entries,
                                             options.document_cache_max_bytes)) {}

std::shared_ptr<const PreparedDocument> Engine::Prepare(std::string_view query) const {
  if (auto cached = cache_->Find(query)) return cached;
  documents_prepared_.fetch_add(1, std::memory_order_relaxed);
  auto prepared = std::make_shared<PreparedDocument>();
  prepared->parsed = graphql::Parse(query, options_.parse);
  if (!prepared->parsed.error) {
    prepared->validation_errors =
        Validate(*schema_, *prepared->parsed.document, options_.validation);
  }
  cache_->Insert(query, prepared);
  return prepared;
}

EngineResponse Engine::Execute(const EngineRequest& request) const {
  EngineResponse response;
  auto error_response = [&](std::vector<Error> errors) {
    MakeErrorResult(std::move(errors)).AppendJson(response.json);
    return std::move(response);
  };
  std::shared_ptr<const PreparedDocument> own;
  const PreparedDocument* prepared = request.prepared;
  if (!prepared) {
    own = Prepare(request.query);
    prepared = own.get();
  }
  if (prepared->parsed.error) return error_response({*prepared->parsed.error});
  if (!prepared->validation_errors.empty()) return error_response(prepared->validation_errors);

  std::optional<Value> decoded;
  const ValueMap* variables = request.variables;
  if (!variables && !request.variables_json.empty()) {
    std::string why;
    decoded = ParseJson(request.variables_json, &why);
    if (!decoded) return error_response({Error{"Variables are not valid JSON: " + why, {}, {}}});
    if (decoded->IsNull()) {
      decoded = Value(ValueMap{});
    } else if (!decoded->IsMap()) {
      return error_response({Error{"Variables must be a JSON object.", {}, {}}});
    }
    variables = &decoded->AsMap();
  }
  ExecutionRequest exec;
  exec.document = prepared->parsed.document.get();
  exec.operation_name = request.operation_name;
  exec.variables = variables;
  exec.context = request.context;
  if (request.root_value) exec.root_value = Value::Ref(*request.root_value);
  ExecutionResult result = graphql::Execute(*schema_, std::move(exec));
  response.has_data = result.has_data();
  result.AppendJson(response.json);
  return response;
}

}  // namespace psvc::graphql

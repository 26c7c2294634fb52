#include "graphql/engine.h"

#include "graphql/json.h"

namespace psvc::graphql {

Engine::Engine(std::shared_ptr<const Schema> schema, EngineOptions options)
    : schema_(std::move(schema)), options_(options) {}

ParseResult Engine::Parse(std::string_view query) const {
  return graphql::Parse(query, options_.parse);
}

EngineResponse Engine::Execute(const EngineRequest& request) const {
  EngineResponse response;
  auto error_response = [&](std::vector<Error> errors) {
    MakeErrorResult(std::move(errors)).AppendJson(response.json);
    return std::move(response);
  };
  ParseResult own;
  const ParseResult* parsed = request.parsed;
  if (!parsed) {
    own = Parse(request.query);
    parsed = &own;
  }
  if (parsed->error) return error_response({*parsed->error});
  std::vector<Error> errors = Validate(*schema_, *parsed->document, options_.validation);
  if (!errors.empty()) return error_response(std::move(errors));

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
  exec.document = parsed->document.get();
  exec.operation_name = request.operation_name;
  exec.variables = variables;
  exec.context = request.context;
  ExecutionResult result = graphql::Execute(*schema_, std::move(exec));
  response.has_data = result.has_data();
  result.AppendJson(response.json);
  return response;
}

}  // namespace psvc::graphql

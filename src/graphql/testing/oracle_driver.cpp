// Test helper for tests/js/graphql_oracle.mjs: runs documents through our engine and prints
// JSON the graphql-js oracle compares against.
//   graphql_oracle_driver sdl        -> the test schema as SDL
//   graphql_oracle_driver run < reqs -> reqs: [{"query","variables"?,"operationName"?}, ...]
//                                       out:  [{"valid":bool,"errors":[...],"response":{...}}]
#include <iostream>
#include <iterator>
#include <string>

#include "graphql/engine.h"
#include "graphql/executor.h"
#include "graphql/json.h"
#include "graphql/testing/anime_schema.h"

using namespace psvc::graphql;

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  auto schema = testing::BuildAnimeSchema();
  if (mode == "sdl") {
    std::cout << schema->PrintSdl();
    return 0;
  }
  if (mode != "run") {
    std::cerr << "usage: graphql_oracle_driver sdl|run\n";
    return 2;
  }
  std::string input((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  std::string error;
  auto requests = ParseJson(input, &error);
  if (!requests || !requests->IsList()) {
    std::cerr << "bad input: " << error << "\n";
    return 2;
  }
  std::string out = "[";
  bool first = true;
  for (const Value& req : requests->AsList()) {
    if (!first) out += ",\n";
    first = false;
    const Value* query = req.Find("query");
    const Value* variables = req.Find("variables");
    const Value* op_name = req.Find("operationName");
    ParseResult parsed = Parse(query ? query->AsString() : "");
    std::vector<Error> errors;
    if (parsed.error) {
      errors.push_back(*parsed.error);
    } else {
      errors = Validate(*schema, *parsed.document);
    }
    out += "{\"valid\":";
    out += errors.empty() ? "true" : "false";
    out += ",\"errors\":[";
    for (size_t i = 0; i < errors.size(); ++i) {
      if (i) out += ",";
      AppendErrorJson(out, errors[i]);
    }
    out += "]";
    if (errors.empty()) {
      auto data = testing::LoadAnimeData(testing::DefaultAnimeDataPath());
      ExecutionRequest exec;
      exec.document = parsed.document.get();
      exec.operation_name = op_name && op_name->IsString() ? op_name->AsString() : "";
      exec.variables = variables && variables->IsMap() ? &variables->AsMap() : nullptr;
      exec.context = data.get();
      ExecutionResult result = Execute(*schema, std::move(exec));
      out += ",\"response\":";
      result.AppendJson(out);
    }
    out += "}";
  }
  out += "]\n";
  std::cout << out;
  return 0;
}

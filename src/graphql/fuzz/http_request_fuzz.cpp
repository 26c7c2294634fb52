// libFuzzer target: a raw GraphQL-over-HTTP request as serve decodes it. An input starting
// with '?' is a GET query string, anything else a POST body. The decoded parameters then go
// through the engine (parse, validate, variable coercion, execution of queries) over the
// in-memory test data. Built with clang by src/graphql/CMakeLists.txt; CTest runs it for a
// bounded time.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "graphql/engine.h"
#include "graphql/request_params.h"
#include "graphql/testing/anime_schema.h"

using namespace psvc::graphql;

namespace {

struct Fixture {
  std::shared_ptr<const Schema> schema = testing::BuildAnimeSchema();
  std::unique_ptr<testing::AnimeData> data =
      testing::LoadAnimeData(testing::DefaultAnimeDataPath());
  Engine engine{schema, [] {
                  EngineOptions o;
                  o.parse.lexer.max_tokens = 2000;  // keeps each run fast
                  o.document_cache_entries = 0;     // every input parsed afresh
                  return o;
                }()};
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  // Built once per process: the harness's only long-lived state; queries never modify it.
  static Fixture fixture;
  std::string_view text(reinterpret_cast<const char*>(bytes), size);
  RequestParams p = !text.empty() && text.front() == '?' ? DecodeQueryString(text.substr(1))
                                                         : DecodeJsonBody(text);
  if (!p.error.empty() || !p.query) return 0;
  auto prepared = fixture.engine.Prepare(*p.query);
  if (prepared->parsed.error || !prepared->validation_errors.empty()) return 0;
  for (const auto& op : prepared->parsed.document->operations) {
    if (op.operation != OperationType::kQuery) return 0;  // mutations would change the data
  }
  EngineRequest request;
  request.query = *p.query;
  request.operation_name = p.operation_name;
  request.prepared = prepared.get();
  if (p.variables) request.variables = &p.variables->AsMap();
  request.context = fixture.data.get();
  EngineResponse response = fixture.engine.Execute(request);
  return static_cast<int>(response.json.empty());  // always 0: a response is never empty
}

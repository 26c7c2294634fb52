// libFuzzer target: lexer + parser + validator (+ execution of valid queries over the in-memory
// test data). Built with clang by src/graphql/CMakeLists.txt; run by CTest for a bounded time.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "graphql/executor.h"
#include "graphql/parser.h"
#include "graphql/testing/anime_schema.h"
#include "graphql/validator.h"

using namespace psvc::graphql;

namespace {

struct Fixture {
  std::unique_ptr<Schema> schema = testing::BuildAnimeSchema();
  std::unique_ptr<testing::AnimeData> data =
      testing::LoadAnimeData(testing::DefaultAnimeDataPath());
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  // Built once per process: the harness's only long-lived state; queries never modify it.
  static Fixture fixture;
  std::string_view text(reinterpret_cast<const char*>(bytes), size);
  ParseOptions options;
  options.lexer.max_tokens = 2000;  // keeps each run fast; the cap itself is exercised too
  ParseResult parsed = Parse(text, options);
  if (!parsed.document) return 0;
  std::vector<Error> errors = Validate(*fixture.schema, *parsed.document);
  if (!errors.empty()) return 0;
  for (const auto& op : parsed.document->operations) {
    if (op.operation != OperationType::kQuery) return 0;  // mutations would change the data
  }
  ExecutionRequest request;
  request.document = parsed.document.get();
  request.operation_name = parsed.document->operations.front().name;
  request.context = fixture.data.get();
  ExecutionResult result = Execute(*fixture.schema, std::move(request));
  std::string json;
  result.AppendJson(json);
  return 0;
}

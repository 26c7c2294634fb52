// Parse + validate + execute of a hydration document (5 object levels, ~40 fields, fragments,
// variables) over in-memory data: operations per second and heap allocations per operation,
// then the same document and data through graphql-js (bench/graphql/graphql_js_bench.mjs).
//   graphql_bench [--json FILE] [Google Benchmark flags, e.g. --benchmark_min_time=0.2]
// --json appends one JSON object per benchmark to FILE, graphql-js's included (bench/run reads
// these): {"bench":"graphql_engine","case":...,"mode":"ours"|"graphql-js","ms_per_op":...,
// "rate":...,"allocs_per_op":...}. Both engines run single-threaded, so these are CPU time per
// operation: on a shared machine wall time also counts the time other processes held the CPU.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "alloc_counter.h"
#include "graphql/engine.h"
#include "graphql/testing/anime_schema.h"

namespace psvc::graphql {
namespace {

constexpr int kAnime = 400;
constexpr int kCharacters = 1200;
constexpr int kStudios = 200;

// Deterministic data set in the shape of testdata/anime_data.json.
std::string GenerateData() {
  static const char* kTypes[] = {"TV", "MOVIE", "OVA", "ONA", "SPECIAL"};
  std::ostringstream j;
  uint64_t seed = 42;
  auto next = [&] {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<uint32_t>(seed >> 33);
  };
  j << "{\"anime\":[";
  for (int i = 0; i < kAnime; ++i) {
    char uuid[37];
    snprintf(uuid, sizeof uuid, "%08x-0000-4000-8000-%012x", i, i * 7);
    j << (i ? "," : "") << "{\"__typename\":\"Anime\",\"id\":\"a" << i << "\",\"uuid\":\"" << uuid
      << "\",\"title\":\"Anime title number " << i << "\",\"synonyms\":[\"Syn " << i << "\",\"Alt "
      << i << "\"],\"type\":\"" << kTypes[i % 5]
      << "\",\"episodes\":" << (i % 7 == 0 ? std::string("null") : std::to_string(12 + i % 40))
      << ",\"score\":" << (5 + (i % 50) / 10.0) << ",\"airing\":" << (i % 3 == 0 ? "true" : "false")
      << ",\"views\":" << i * 13 << ",\"legacyRating\":null,\"characterIds\":[";
    for (int k = 0; k < 10; ++k) j << (k ? "," : "") << "\"c" << next() % kCharacters << "\"";
    j << "],\"studioIds\":[\"s" << i % kStudios << "\",\"s" << (i * 7 + 3) % kStudios << "\"]}";
  }
  j << "],\"characters\":[";
  for (int i = 0; i < kCharacters; ++i) {
    j << (i ? "," : "") << "{\"__typename\":\"Character\",\"id\":\"c" << i
      << "\",\"name\":\"Character " << i << "\",\"role\":\"" << (i % 4 ? "SUPPORTING" : "MAIN")
      << "\",\"nickname\":" << (i % 5 ? "null" : "\"Nick\"") << "}";
  }
  j << "],\"studios\":[";
  for (int i = 0; i < kStudios; ++i) {
    j << (i ? "," : "") << "{\"__typename\":\"Studio\",\"id\":\"s" << i << "\",\"name\":\"Studio "
      << i << "\"}";
  }
  j << "]}";
  return j.str();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const char* kVariables =
    R"({"ids":["a1","a17","a42","a99","a123","a200","a256","a311","a350","a399"]})";

struct Fixture {
  std::string dir = std::string(PSVC_BINARY_DIR);
  std::string data_path = dir + "/bench_graphql_data.json";
  std::string document =
      ReadFile(std::string(PSVC_SOURCE_DIR) + "/bench/graphql/hydration.graphql");
  std::unique_ptr<testing::AnimeData> data;
  std::shared_ptr<const Schema> schema;
  std::unique_ptr<Engine> engine;

  Fixture() {
    std::ofstream(data_path) << GenerateData();
    data = testing::LoadAnimeData(data_path);
    schema = testing::BuildAnimeSchema();
    std::ofstream(dir + "/bench_graphql_schema.graphql") << schema->PrintSdl();
    EngineOptions options;
    options.validation.max_cost = 1'000'000;  // the benchmark measures work, not the budget
    engine = std::make_unique<Engine>(schema, options);
  }
};

Fixture& GetFixture() {
  static Fixture fixture;
  return fixture;
}

void BM_HydrationParseValidateExecute(benchmark::State& state) {
  Fixture& f = GetFixture();
  EngineRequest req;
  req.query = f.document;
  req.variables_json = kVariables;
  req.context = f.data.get();
  size_t bytes = 0;
  uint64_t allocs_before = bench::AllocationCount();
  for (auto _ : state) {
    EngineResponse resp = f.engine->Execute(req);
    bytes = resp.json.size();
    benchmark::DoNotOptimize(resp);
  }
  uint64_t allocs = bench::AllocationCount() - allocs_before;
  state.counters["allocs/op"] =
      static_cast<double>(allocs) / static_cast<double>(state.iterations());
  state.counters["response_bytes"] = static_cast<double>(bytes);
  state.counters["ops/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_HydrationParseValidateExecute)->Unit(benchmark::kMicrosecond);

void BM_ParseValidateOnly(benchmark::State& state) {
  Fixture& f = GetFixture();
  uint64_t allocs_before = bench::AllocationCount();
  for (auto _ : state) {
    ParseResult parsed = Parse(f.document);
    auto errors = Validate(*f.schema, *parsed.document, f.engine->options().validation);
    benchmark::DoNotOptimize(errors);
  }
  state.counters["allocs/op"] = static_cast<double>(bench::AllocationCount() - allocs_before) /
                                static_cast<double>(state.iterations());
}
BENCHMARK(BM_ParseValidateOnly)->Unit(benchmark::kMicrosecond);

// The console table as usual, and each run as a JSON line when a file is given.
class JsonLinesReporter : public benchmark::ConsoleReporter {
 public:
  explicit JsonLinesReporter(FILE* json) : json_(json) {}
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    if (json_ == nullptr) return;
    for (const Run& run : runs) {
      if (run.error_occurred || run.iterations == 0) continue;
      double seconds_per_op = run.cpu_accumulated_time / static_cast<double>(run.iterations);
      auto allocs = run.counters.find("allocs/op");
      std::fprintf(json_,
                   "{\"bench\":\"graphql_engine\",\"case\":\"%s\",\"mode\":\"ours\","
                   "\"ms_per_op\":%.4f,\"rate\":%.1f,\"allocs_per_op\":%.0f}\n",
                   run.benchmark_name().c_str(), 1000 * seconds_per_op, 1 / seconds_per_op,
                   allocs == run.counters.end() ? 0.0 : allocs->second.value);
      std::fflush(json_);
    }
  }

 private:
  FILE* json_;
};

}  // namespace
}  // namespace psvc::graphql

int main(int argc, char** argv) {
  // --json FILE is ours; every other flag goes to Google Benchmark.
  std::string json_path;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
      json_path = argv[++i];
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  FILE* json = json_path.empty() ? nullptr : std::fopen(json_path.c_str(), "a");
  if (!json_path.empty() && json == nullptr) {
    std::fprintf(stderr, "cannot open %s\n", json_path.c_str());
    return 1;
  }
  benchmark::Initialize(&argc, argv);
  psvc::graphql::JsonLinesReporter reporter(json);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  if (json != nullptr) std::fclose(json);
  // The same document and data through graphql-js, in the same run.
  auto& f = psvc::graphql::GetFixture();
  std::string cmd =
      "node " + std::string(PSVC_SOURCE_DIR) + "/bench/graphql/graphql_js_bench.mjs " + f.dir +
      "/bench_graphql_schema.graphql " + f.data_path + " '" + psvc::graphql::kVariables + "'";
  if (!json_path.empty()) cmd = "PSVC_BENCH_JSON='" + json_path + "' " + cmd;
  std::cout << "\n--- graphql-js (same document, same data) ---\n" << std::flush;
  int rc = std::system(cmd.c_str());
  if (rc != 0) std::cout << "graphql-js run failed (needs node and tests/js/node_modules)\n";
  return 0;
}

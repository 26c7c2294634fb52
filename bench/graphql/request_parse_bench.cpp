// GraphQL-over-HTTP request decoding (graphql::DecodeJsonBody: JSON -> request parameters)
// on the worst 1 MiB bodies we can think of, beside RapidJSON's own iterative DOM parse of
// the same bytes (the baseline: the library alone, no depth limit, no Values built). Prints
// p50 / max over the rounds and throughput per shape. Linked with tcmalloc as serve is: the
// first round of a shape pays the kernel's first touch of its memory, later rounds reuse it.
//   request_parse_bench [--rounds N] [--json FILE]
// --json appends one JSON object per shape and decoder to FILE (bench/run reads these):
//   {"bench":"request_parse","case":...,"mode":"ours"|"rapidjson","outcome":"ok"|"400",
//    "p50_ms":...,"max_ms":...,"mb_s":...}
#include <rapidjson/document.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "graphql/engine.h"
#include "graphql/request_params.h"
#include "graphql/testing/anime_schema.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kSize = 1 << 20;

struct Shape {
  const char* name;
  std::string body;
};

std::string Fill(std::string head, const std::string& item, std::string tail) {
  std::string out = std::move(head);
  while (out.size() + item.size() + tail.size() < kSize) out += item;
  return out + tail;
}

std::vector<Shape> Shapes() {
  std::vector<Shape> s;
  std::string wide = "{\"query\":\"{ __typename }\"";
  for (int i = 0; wide.size() < kSize - 20; ++i) wide += ",\"key" + std::to_string(i) + "\":1";
  s.push_back({"object, distinct keys", wide + "}"});
  s.push_back({"object, one key repeated", Fill("{\"query\":\"{ __typename }\"", ",\"k\":1", "}")});
  s.push_back({"variables, distinct keys", [] {
                 std::string v = "{\"query\":\"{ __typename }\",\"variables\":{\"v0\":null";
                 for (int i = 1; v.size() < kSize - 20; ++i) {
                   v += ",\"v" + std::to_string(i) + "\":null";
                 }
                 return v + "}}";
               }()});
  s.push_back({"array of numbers",
               Fill("{\"query\":\"{ __typename }\",\"variables\":{\"v\":[0", ",1", "]}}")});
  s.push_back(
      {"array of small objects", Fill("{\"query\":\"{ __typename }\",\"variables\":{\"v\":[{}",
                                      ",{\"id\":\"a\",\"n\":1}", "]}}")});
  s.push_back({"string of \\u escapes",
               Fill("{\"query\":\"{ __typename }\",\"variables\":{\"v\":\"", "\\u00e9", "\"}}")});
  s.push_back(
      {"arrays 63 deep, repeated", Fill("{\"query\":\"{ __typename }\",\"variables\":{\"v\":[0",
                                        "," + std::string(60, '[') + std::string(60, ']'), "]}}")});
  // The largest bodies that are accepted: just under the 20,000-value cap, 1 MiB in all.
  s.push_back({"19,000 keys of 50 characters", [] {
                 std::string v = "{\"query\":\"{ __typename }\",\"variables\":{";
                 for (int i = 0; i < 19000; ++i) {
                   v += (i ? ",\"" : "\"") + std::string(44, 'k') + std::to_string(100000 + i) +
                        "\":0";
                 }
                 return v + "}}";
               }()});
  s.push_back({"19,000 strings of 50 characters", [] {
                 std::string v = "{\"query\":\"{ __typename }\",\"variables\":{\"v\":[";
                 for (int i = 0; i < 19000; ++i)
                   v += (i ? ",\"" : "\"") + std::string(50, 's') + "\"";
                 return v + "]}}";
               }()});
  s.push_back({"arrays 1M deep (refused)", std::string(kSize, '[')});
  s.push_back({"objects 200k deep (refused)", Fill("", "{\"a\":", "")});
  s.push_back({"junk after the document", Fill("{\"query\":\"{ __typename }\"} ", "x", "")});
  return s;
}

struct Result {
  double p50_ms, max_ms, mb_per_s;
};

Result Time(int rounds, const std::function<void()>& fn) {
  std::vector<double> ms;
  for (int i = 0; i < rounds; ++i) {
    auto t0 = Clock::now();
    fn();
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  double p50 = ms[ms.size() / 2];
  return {p50, ms.back(), (kSize / 1048576.0) / (p50 / 1000)};
}

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};

void Emit(FILE* json, const char* shape, const char* mode, const std::string& outcome,
          const Result& r) {
  if (json == nullptr) return;
  std::string name;  // shape names are ASCII; escape the one backslash some carry
  for (const char* c = shape; *c != 0; ++c)
    name += *c == '\\' ? std::string("\\\\") : std::string(1, *c);
  std::fprintf(json,
               "{\"bench\":\"request_parse\",\"case\":\"%s\",\"mode\":\"%s\",\"outcome\":\"%s\","
               "\"p50_ms\":%.4f,\"max_ms\":%.4f,\"mb_s\":%.1f}\n",
               name.c_str(), mode, outcome.c_str(), r.p50_ms, r.max_ms, r.mb_per_s);
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 21;
  std::unique_ptr<FILE, FileCloser> json;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--rounds") == 0) rounds = std::max(1, std::atoi(argv[i + 1]));
    if (std::strcmp(argv[i], "--json") == 0) {
      json.reset(std::fopen(argv[i + 1], "a"));
      if (!json) {
        std::fprintf(stderr, "cannot open %s\n", argv[i + 1]);
        return 1;
      }
    }
  }
  std::printf("%-30s %9s | %28s | %28s\n", "1 MiB body shape", "outcome",
              "DecodeJsonBody p50 / max ms  MB/s", "RapidJSON DOM p50 / max ms  MB/s");
  for (const Shape& shape : Shapes()) {
    std::string outcome;
    Result ours = Time(rounds, [&] {
      auto p = psvc::graphql::DecodeJsonBody(shape.body);
      outcome = p.error.empty() ? "ok" : "400";
    });
    Result base = Time(rounds, [&] {
      rapidjson::Document d;
      d.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseFullPrecisionFlag>(
          shape.body.data(), shape.body.size());
    });
    std::printf("%-30s %9s | %9.2f / %7.2f  %8.0f | %9.2f / %7.2f  %8.0f\n", shape.name,
                outcome.c_str(), ours.p50_ms, ours.max_ms, ours.mb_per_s, base.p50_ms, base.max_ms,
                base.mb_per_s);
    Emit(json.get(), shape.name, "ours", outcome, ours);
    Emit(json.get(), shape.name, "rapidjson", outcome, base);
  }
  // A document at the token cap (15,000) goes on to the parser and validator.
  std::string query = "{";
  for (int i = 0; i < 4990; ++i) query += " a" + std::to_string(i) + ": __typename";
  query += " }";
  std::string body = "{\"query\":\"" + query + "\"}";
  psvc::graphql::Engine engine(psvc::graphql::testing::BuildAnimeSchema(), [] {
    psvc::graphql::EngineOptions o;
    o.document_cache_entries = 0;
    return o;
  }());
  Result doc = Time(rounds, [&] {
    auto p = psvc::graphql::DecodeJsonBody(body);
    auto prepared = engine.Prepare(*p.query);
  });
  std::printf("%-30s %9s | %9.2f / %7.2f  (decode + parse + validate, %zu bytes)\n",
              "query of 15,000 tokens", "ok", doc.p50_ms, doc.max_ms, body.size());
  Emit(json.get(), "query of 15,000 tokens (decode + parse + validate)", "ours", "ok", doc);
  return 0;
}

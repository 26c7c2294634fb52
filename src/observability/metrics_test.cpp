// The /metrics output is checked with a parser of the Prometheus text format, not by eye.
#include "observability/metrics.h"

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "json/json_string.h"
#include "observability/logging.h"

namespace psvc::observability {

/// Parses exposition text; fails the test on any line that is not valid 0.0.4 format and
/// returns samples keyed by "name{labels}".
std::map<std::string, double> ParseExposition(const std::string& text) {
  static const std::regex kHelp(R"(^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*$)");
  static const std::regex kType(R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$)");
  static const std::regex kSample(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\\\|\\"|\\n)*"(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\\\|\\"|\\n)*")*)?\})? ([-+]?([0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?|Inf|NaN))$)");
  std::map<std::string, double> out;
  std::set<std::string> typed;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_match(line, kHelp)) continue;
    if (std::regex_match(line, m, kType)) {
      EXPECT_TRUE(typed.insert(m[1]).second) << "TYPE twice: " << line;
      continue;
    }
    if (!std::regex_match(line, m, kSample)) {
      ADD_FAILURE() << "not a valid exposition line: '" << line << "'";
      continue;
    }
    std::string name = m[1];
    std::string base = std::regex_replace(name, std::regex("_(bucket|sum|count)$"), "");
    EXPECT_TRUE(typed.contains(name) || typed.contains(base)) << "sample before its TYPE: " << line;
    out[name + m[2].str()] = std::stod(m[7].str() == "+Inf" ? "inf" : m[7].str());
  }
  return out;
}

namespace {

TEST(Metrics, RendersValidExpositionWithEscapedLabels) {
  MetricsRegistry r;
  r.GetCounter("psvc_requests_total", "Requests", {{"method", "/a.B/C"}, {"code", "OK"}}).Inc();
  r.GetCounter("psvc_requests_total", "Requests", {{"method", "/a.B/C"}, {"code", "OK"}}).Inc(2);
  r.GetCounter("psvc_requests_total", "Requests", {{"method", "weird\"\\\nlabel"}, {"code", "X"}}).Inc();
  auto& h = r.GetHistogram("psvc_latency_seconds", "Latency", {{"method", "m"}});
  h.Observe(0.0001);
  h.Observe(0.003);
  h.Observe(42);
  r.AddCollector([](SampleWriter& w) {
    w.Add("psvc_pool_connections", "Pool", "gauge", {{"state", "idle"}}, 3);
    w.Add("psvc_pool_connections", "Pool", "gauge", {{"state", "in_use"}}, 1);
  });
  r.AddCollector([](SampleWriter& w) {
    w.AddHistogram("psvc_external_seconds", "External", {0.1, 1}, {2, 0, 1}, 5.5);
  });
  AddProcessCollector(r);
  auto text = r.Render();
  auto samples = ParseExposition(text);
  EXPECT_EQ(samples["psvc_requests_total{method=\"/a.B/C\",code=\"OK\"}"], 3);
  EXPECT_EQ(samples["psvc_latency_seconds_count{method=\"m\"}"], 3);
  EXPECT_EQ(samples["psvc_latency_seconds_bucket{method=\"m\",le=\"0.0005\"}"], 1);
  EXPECT_EQ(samples["psvc_latency_seconds_bucket{method=\"m\",le=\"0.005\"}"], 2);
  EXPECT_EQ(samples["psvc_latency_seconds_bucket{method=\"m\",le=\"+Inf\"}"], 3);
  EXPECT_DOUBLE_EQ(samples["psvc_latency_seconds_sum{method=\"m\"}"], 42.0031);
  EXPECT_EQ(samples["psvc_pool_connections{state=\"in_use\"}"], 1);
  EXPECT_GT(samples["process_resident_memory_bytes"], 0);
  EXPECT_EQ(samples["psvc_external_seconds_bucket{le=\"1\"}"], 2);
  EXPECT_EQ(samples["psvc_external_seconds_bucket{le=\"+Inf\"}"], 3);
  EXPECT_EQ(samples["psvc_external_seconds_count"], 3);
  EXPECT_NE(text.find(R"(method="weird\"\\\nlabel")"), std::string::npos) << text;
}

TEST(Metrics, TheParserRejectsMalformedLines) {
  // The checker itself can fail: a sample with an unescaped quote is not accepted.
  EXPECT_NONFATAL_FAILURE(ParseExposition("# TYPE x counter\nx{a=\"b\"c\"} 1\n"), "not a valid");
  EXPECT_NONFATAL_FAILURE(ParseExposition("y 1\n"), "sample before its TYPE");
}

TEST(Metrics, CountersAreExactUnderConcurrency) {
  MetricsRegistry r;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) r.GetCounter("c_total", "c").Inc();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(r.GetCounter("c_total", "c").value(), 80000);
}

TEST(Logging, TraceparentAndEscaping) {
  EXPECT_EQ(TraceIdFromTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(TraceIdFromTraceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01"), "");
  EXPECT_EQ(TraceIdFromTraceparent("garbage"), "");
  EXPECT_EQ(TraceIdFromTraceparent("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"), "");
  std::string out;
  json::AppendEscaped(out, "a\"b\\c\nd\x01");
  EXPECT_EQ(out, "a\\\"b\\\\c\\nd\\u0001");
  EXPECT_THROW(ConfigureLogging("xml", "info"), std::invalid_argument);
  EXPECT_THROW(ConfigureLogging("json", "loud"), std::invalid_argument);
}

}  // namespace
}  // namespace psvc::observability

#include "observability/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <stdexcept>

#include "json/json_string.h"

namespace psvc::observability {

namespace {

/// %j: the log message, JSON-escaped, so every line stays one valid JSON object.
class JsonMessageFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    std::string escaped;
    json::AppendEscaped(escaped, std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(escaped.data(), escaped.data() + escaped.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonMessageFlag>();
  }
};

bool JsonLogs() { return spdlog::default_logger()->name() == "json"; }

constexpr const char* kAccessLogger = "access";

}  // namespace

void ConfigureLogging(std::string_view format, std::string_view level) {
  bool json;
  if (format == "json") {
    json = true;
  } else if (format == "text") {
    json = false;
  } else if (format == "auto") {
    json = !isatty(STDERR_FILENO);
  } else {
    throw std::invalid_argument("--log-format: expected auto, json or text, got '" +
                                std::string(format) + "'");
  }
  auto lvl = spdlog::level::from_str(std::string(level));
  if (lvl == spdlog::level::off && level != "off") {
    throw std::invalid_argument("--log-level: expected trace, debug, info, warn, error or off, got '" +
                                std::string(level) + "'");
  }
  auto logger = std::make_shared<spdlog::logger>(
      json ? "json" : "text", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  if (json) {
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    formatter->add_flag<JsonMessageFlag>('j').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%f%z","level":"%l","msg":"%j"})");
    logger->set_formatter(std::move(formatter));
  } else {
    logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
  }
  logger->set_level(lvl);
  logger->flush_on(spdlog::level::warn);
  // Request lines carry their fields as top-level JSON keys: a logger of their own whose
  // pattern leaves the object open for them.
  // Its own sink: in spdlog a pattern belongs to the sink, so a shared one would give both
  // loggers the same format. Each line is one write, so the two never interleave mid-line.
  auto access = std::make_shared<spdlog::logger>(
      kAccessLogger, std::make_shared<spdlog::sinks::stderr_sink_mt>());
  access->set_pattern(json ? R"({"time":"%Y-%m-%dT%H:%M:%S.%f%z","level":"%l",%v})"
                           : "%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
  access->set_level(lvl);
  spdlog::drop(kAccessLogger);
  spdlog::register_logger(access);
  spdlog::set_default_logger(std::move(logger));
}

void LogRequest(const RequestLogEntry& e) {
  auto access = spdlog::get(kAccessLogger);
  if (!access) access = spdlog::default_logger();
  if (!access->should_log(spdlog::level::info)) return;
  char duration[32];
  std::snprintf(duration, sizeof duration, "%.3f", e.duration_ms);
  if (JsonLogs()) {
    std::string line = R"("type":"request","surface":")";
    json::AppendEscaped(line, e.surface);
    line += R"(","method":")";
    json::AppendEscaped(line, e.method);
    line += R"(","status":")";
    json::AppendEscaped(line, e.status);
    line += R"(","duration_ms":)";
    line += duration;
    line += R"(,"request_id":")";
    json::AppendEscaped(line, e.request_id);
    line += '"';
    if (!e.trace_id.empty()) {
      line += R"(,"trace_id":")";
      json::AppendEscaped(line, e.trace_id);
      line += '"';
    }
    if (!e.peer.empty()) {
      line += R"(,"peer":")";
      json::AppendEscaped(line, e.peer);
      line += '"';
    }
    if (!e.operation.empty()) {
      line += R"(,"operation":")";
      json::AppendEscaped(line, e.operation);
      line += '"';
    }
    access->info(line);
  } else {
    access->info("{} {} {} {}ms req={}{}{}{}{}", e.surface, e.method, e.status, duration,
                 e.request_id, e.operation.empty() ? "" : " op=", e.operation,
                 e.trace_id.empty() ? "" : " trace=", e.trace_id);
  }
}

std::string TraceIdFromTraceparent(std::string_view tp) {
  // version "-" trace-id(32 hex) "-" parent-id(16 hex) "-" flags(2 hex)
  if (tp.size() < 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-') return {};
  auto id = tp.substr(3, 32);
  bool all_zero = true;
  for (char c : id) {
    bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    if (!hex) return {};
    all_zero &= c == '0';
  }
  return all_zero ? std::string() : std::string(id);
}

}  // namespace psvc::observability

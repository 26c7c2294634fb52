#pragma once
/// Structured logs: JSON lines (default when stderr is not a terminal) or readable text, and
/// the one-line-per-request access log.

#include <cstdint>
#include <string>
#include <string_view>

namespace psvc::observability {

enum class LogFormat { kAuto, kJson, kText };

/// Sets up spdlog's default logger on stderr. `level`: trace debug info warn error off.
/// Throws std::invalid_argument naming the bad value.
void ConfigureLogging(std::string_view format, std::string_view level);

/// One served request. Never carries SQL parameters or credentials.
struct RequestLogEntry {
  std::string_view surface;  ///< grpc | http
  std::string_view method;   ///< /anime.graph.v1.PostgresGraphService/KHop, POST /graphql
                             ///< (HTTP: the path only; query strings may carry variables)
  std::string_view status;   ///< OK, INVALID_ARGUMENT, 200, ...
  double duration_ms = 0;
  std::string_view request_id;
  std::string_view trace_id;  ///< from W3C traceparent when sent
  std::string_view peer;
  std::string_view operation;  ///< GraphQL operation type (query, mutation) when known
};

void LogRequest(const RequestLogEntry& entry);

/// The 32-hex trace id of a W3C traceparent header, or empty when it is malformed.
std::string TraceIdFromTraceparent(std::string_view traceparent);

}  // namespace psvc::observability

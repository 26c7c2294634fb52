#include "graphql_api/http_observability.h"

#include <array>
#include <chrono>
#include <string>

#include "observability/logging.h"
#include "observability/metrics.h"

namespace psvc::api {

namespace {

// Methods outside this set share one label value: clients choose the method string.
std::string_view MethodLabel(std::string_view method) {
  static constexpr std::array<std::string_view, 7> kKnown = {"GET",    "POST",  "HEAD",   "PUT",
                                                             "DELETE", "PATCH", "OPTIONS"};
  for (auto m : kKnown) {
    if (m == method) return m;
  }
  return method.empty() ? "none" : "other";
}

}  // namespace

http::RequestObserver MakeHttpObserver(observability::MetricsRegistry& metrics) {
  return [&metrics](const http::Request& req, const http::Response& resp, std::string_view route,
                    std::chrono::nanoseconds duration) {
    double seconds = std::chrono::duration<double>(duration).count();
    std::string status = std::to_string(resp.status);
    std::string method(MethodLabel(req.method));
    metrics
        .GetCounter("psvc_http_requests_total", "HTTP requests by route, method and status",
                    {{"route", std::string(route)}, {"method", method}, {"code", status}})
        .Inc();
    metrics
        .GetHistogram("psvc_http_request_duration_seconds", "HTTP request latency by route",
                      {{"route", std::string(route)}})
        .Observe(seconds);
    std::string line_method = method + " " + (route == "unmatched" ? req.path : std::string(route));
    std::string trace_id = observability::TraceIdFromTraceparent(req.Header("traceparent"));
    observability::LogRequest({.surface = "http",
                               .method = line_method,
                               .status = status,
                               .duration_ms = seconds * 1000,
                               .request_id = req.request_id,
                               .trace_id = trace_id,
                               .peer = req.remote_address,
                               .operation = resp.operation});
  };
}

}  // namespace psvc::api

#include "graphql_api/http_observability.h"

#include <array>
#include <chrono>
#include <memory>
#include <shared_mutex>
#include <string>
#include <unordered_map>

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

// The series of one (route, method, status), looked up in the registry once: the registry's
// look-up locks it and builds the label set, on every request from every thread otherwise.
// Routes are the registered paths plus "unmatched", methods and statuses few: the map stays
// small whatever clients send.
class HttpSeries {
 public:
  explicit HttpSeries(observability::MetricsRegistry& metrics) : metrics_(metrics) {}

  std::pair<observability::Counter*, observability::Histogram*> Get(std::string_view route,
                                                                    std::string_view method,
                                                                    int status) {
    std::string key;
    key.reserve(route.size() + method.size() + 8);
    key.append(route).append(1, ' ').append(method).append(1, ' ').append(std::to_string(status));
    {
      std::shared_lock lock(mu_);
      if (auto it = series_.find(key); it != series_.end()) return it->second;
    }
    auto* counter = &metrics_.GetCounter("psvc_http_requests_total",
                                         "HTTP requests by route, method and status",
                                         {{"route", std::string(route)},
                                          {"method", std::string(method)},
                                          {"code", std::to_string(status)}});
    auto* histogram =
        &metrics_.GetHistogram("psvc_http_request_duration_seconds",
                               "HTTP request latency by route", {{"route", std::string(route)}});
    std::unique_lock lock(mu_);
    return series_.try_emplace(std::move(key), counter, histogram).first->second;
  }

 private:
  observability::MetricsRegistry& metrics_;
  std::shared_mutex mu_;
  std::unordered_map<std::string, std::pair<observability::Counter*, observability::Histogram*>>
      series_;
};

}  // namespace

http::RequestObserver MakeHttpObserver(observability::MetricsRegistry& metrics) {
  auto series = std::make_shared<HttpSeries>(metrics);
  return [series](const http::Request& req, const http::Response& resp, std::string_view route,
                  std::chrono::nanoseconds duration) {
    double seconds = std::chrono::duration<double>(duration).count();
    std::string status = std::to_string(resp.status);
    std::string_view method = MethodLabel(req.method);
    auto [counter, histogram] = series->Get(route, method, resp.status);
    counter->Inc();
    histogram->Observe(seconds);
    std::string line_method =
        std::string(method) + " " + (route == "unmatched" ? req.path : std::string(route));
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

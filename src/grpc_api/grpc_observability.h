#pragma once
/// Per-call metrics and access logs for every gRPC method, as a server interceptor.

#include <memory>

namespace grpc::experimental {
class ServerInterceptorFactoryInterface;
}

namespace psvc::observability {
class MetricsRegistry;
}

namespace psvc::api {

/// Counts calls by method and status code, observes latency per method and writes one access
/// log line per call (request id, method, status, duration, W3C trace id when sent). Both are
/// recorded just after the status is sent, off the caller's latency.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeObservabilityInterceptor(
    observability::MetricsRegistry& metrics);

}  // namespace psvc::api

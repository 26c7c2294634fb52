#pragma once
/// Per-request metrics and access logs for the HTTP server (GraphQL, health, metrics).

#include "http/server.h"

namespace psvc::observability {
class MetricsRegistry;
}

namespace psvc::api {

/// Counts requests by route, method and status, observes latency per route and writes one
/// access log line per request: request id, method and path (never the query string, which
/// may carry GraphQL variables), status, duration, GraphQL operation type, the W3C trace id
/// when a `traceparent` header is sent, and the peer address. Headers (tokens) are not logged.
http::RequestObserver MakeHttpObserver(observability::MetricsRegistry& metrics);

}  // namespace psvc::api

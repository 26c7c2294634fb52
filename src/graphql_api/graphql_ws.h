#pragma once
/// GraphQL over WebSocket: the graphql-transport-ws protocol (as the graphql-ws library
/// speaks it) on the GraphQL path, for subscriptions (queries and mutations work too).

#include <chrono>
#include <string>

namespace psvc::http {
class Server;
}
namespace psvc::observability {
class MetricsRegistry;
}

namespace psvc::api {

class BearerTokens;
class SubscriptionHub;

/// The protocol's limits and who may connect.
struct GraphqlWsOptions {
  std::string path = "/graphql";
  /// A client that has not sent connection_init by then is closed with 4408.
  std::chrono::milliseconds init_timeout{3000};
  /// Operations (subscriptions, and single results not yet answered) at once per connection;
  /// a subscribe beyond it gets an `error` message.
  int max_operations = 100;
  /// When enabled, connection_init must carry a token (payload `authorization: "Bearer <t>"`,
  /// or `token: "<t>"`, or the upgrade request's Authorization header, or a verified client
  /// certificate); otherwise the socket is closed with 4403 Forbidden.
  const BearerTokens* read_tokens = nullptr;
  /// Mutations need one of these (an `error` message otherwise).
  const BearerTokens* write_tokens = nullptr;
  /// When set: subscribe requests by operation type and outcome (psvc_graphql_requests_total).
  observability::MetricsRegistry* metrics = nullptr;
};

/// Accepts WebSocket upgrades with subprotocol graphql-transport-ws on `options.path` (an
/// upgrade without it is accepted and closed with 4406). The hub and tokens must outlive the
/// server's connections: stop the server before the hub.
void RegisterGraphqlWebSocket(http::Server& server, SubscriptionHub& hub,
                              GraphqlWsOptions options = {});

}  // namespace psvc::api

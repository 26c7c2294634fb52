#pragma once
/// GraphQL over HTTP (the GraphQL-over-HTTP specification): POST and GET /graphql, and
/// GraphiQL for browsers, served from the project (no CDN).

#include <memory>
#include <string>

#include "graphql_api/graphql_api.h"

namespace psvc::http {
class Server;
}

namespace psvc::observability {
class MetricsRegistry;
}

namespace psvc::api {

class BearerTokens;

/// Where the routes live, where GraphiQL's files are, and who may call.
struct GraphqlHttpOptions {
  std::string path = "/graphql";
  bool graphiql = true;
  /// Folder holding web/graphiql (its node_modules come from `scripts/bootstrap --npm`);
  /// empty: the source tree's web/graphiql.
  std::string graphiql_dir;
  /// Mutations require `Authorization: Bearer <token>` when these are enabled (401 otherwise,
  /// nothing written). Must outlive the routes.
  const BearerTokens* write_tokens = nullptr;
  /// Queries too, when enabled (reads are open otherwise). A client certificate verified by
  /// the HTTPS server (mTLS, --tls-client-ca) stands in for a token in both cases.
  const BearerTokens* read_tokens = nullptr;
  /// When set: requests and latency per operation type (query, mutation) and outcome.
  observability::MetricsRegistry* metrics = nullptr;
  /// Automatic persisted queries: documents clients registered by hash, kept (least recently
  /// used dropped beyond this many; 0: clients cannot register).
  size_t persisted_query_entries = 1000;
  /// Folder of allowed documents, one per file (hash: SHA-256 of the file), loaded at start;
  /// empty: none. A document that does not validate stops start-up (std::runtime_error).
  std::string persisted_dir;
  /// Run only documents of the allowlist (named by hash, or sent as their exact text); any
  /// other document is refused and nothing is registered.
  bool persisted_only = false;
};

/// Registers POST/GET `path` (queries over GET only: a mutation there answers 405) and, when
/// enabled, GraphiQL (GET `path` from a browser, assets under `path`/assets/). Call before
/// Server::Start(). The API lives as long as the server's routes.
void RegisterGraphqlRoutes(http::Server& server, GraphqlApiOptions options,
                           GraphqlHttpOptions http_options = {});

/// Same, with an API built by the caller (tests use it to inspect the API directly).
void RegisterGraphqlRoutes(http::Server& server, std::shared_ptr<const GraphqlApi> api,
                           GraphqlHttpOptions http_options = {});

}  // namespace psvc::api

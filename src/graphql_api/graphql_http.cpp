#include "graphql_api/graphql_http.h"

#include "auth/auth.h"
#include "graphql_api/persisted_queries.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <shared_mutex>
#include <sstream>
#include <unordered_map>
#include <variant>

#include "graphql/document_cache.h"
#include "graphql/request_params.h"
#include "http/server.h"
#include "json/json_string.h"
#include "observability/metrics.h"

#ifndef PSVC_SOURCE_DIR
#define PSVC_SOURCE_DIR "."
#endif

namespace psvc::api {

namespace {

using graphql::Value;

constexpr std::string_view kJson = "application/json; charset=utf-8";
constexpr std::string_view kGraphqlResponse = "application/graphql-response+json; charset=utf-8";

enum class MediaType { kGraphqlResponse, kJson, kNone };

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return out;
}

std::string_view TrimView(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The media types of an Accept header, lower-case, parameters dropped.
std::vector<std::string> AcceptedTypes(std::string_view accept) {
  std::vector<std::string> out;
  while (!accept.empty()) {
    size_t comma = accept.find(',');
    std::string_view item = accept.substr(0, comma);
    accept = comma == std::string_view::npos ? std::string_view{} : accept.substr(comma + 1);
    item = TrimView(item.substr(0, item.find(';')));
    if (!item.empty()) out.push_back(Lower(item));
  }
  return out;
}

bool Accepts(const std::vector<std::string>& types, std::string_view type) {
  return std::find(types.begin(), types.end(), type) != types.end();
}

// GraphQL over HTTP §"Accept": the new media type when asked for, application/json for
// legacy clients, */* and a missing header.
MediaType Negotiate(std::string_view accept) {
  auto types = AcceptedTypes(accept);
  if (types.empty()) return MediaType::kJson;
  if (Accepts(types, "application/graphql-response+json")) return MediaType::kGraphqlResponse;
  if (Accepts(types, "application/json") || Accepts(types, "application/*") ||
      Accepts(types, "*/*")) {
    return MediaType::kJson;
  }
  return MediaType::kNone;
}

std::string ContentType(MediaType m) {
  return std::string(m == MediaType::kGraphqlResponse ? kGraphqlResponse : kJson);
}

http::Response ErrorResponse(int status, MediaType m, std::string_view message) {
  std::string body = "{\"errors\":[{\"message\":";
  json::AppendQuoted(body, message);
  body += "}]}";
  return {status, ContentType(m == MediaType::kNone ? MediaType::kJson : m), std::move(body), {}};
}

/// GraphiQL's page and its static files, read once at start-up.
struct GraphiqlAssets {
  bool available = false;
  std::string page;
  std::vector<std::pair<std::string, std::pair<std::string, std::string>>>
      files;  // name, type, body
};

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

GraphiqlAssets LoadGraphiql(const std::string& dir, const std::string& path) {
  GraphiqlAssets a;
  struct File {
    const char* name;
    const char* rel;
    const char* type;
  };
  static constexpr File kFiles[] = {
      {"react.production.min.js", "node_modules/react/umd/react.production.min.js",
       "text/javascript; charset=utf-8"},
      {"react-dom.production.min.js", "node_modules/react-dom/umd/react-dom.production.min.js",
       "text/javascript; charset=utf-8"},
      {"graphiql.min.js", "node_modules/graphiql/graphiql.min.js",
       "text/javascript; charset=utf-8"},
      {"graphiql.min.css", "node_modules/graphiql/graphiql.min.css", "text/css; charset=utf-8"},
      {"graphql-ws.min.js", "node_modules/graphql-ws/umd/graphql-ws.min.js",
       "text/javascript; charset=utf-8"},
  };
  a.available = true;
  for (const File& f : kFiles) {
    auto body = ReadFile(dir + "/" + f.rel);
    if (!body) {
      a.available = false;
      break;
    }
    a.files.push_back({f.name, {f.type, std::move(*body)}});
  }
  auto page = ReadFile(dir + "/index.html");
  if (!a.available || !page) {
    a.available = false;
    a.files.clear();
    spdlog::warn("GraphiQL assets not found under {} (run scripts/bootstrap --npm)", dir);
    return a;
  }
  // The page names its assets and endpoint relative to "{{PATH}}".
  for (size_t pos; (pos = page->find("{{PATH}}")) != std::string::npos;) {
    page->replace(pos, 8, path);
  }
  a.page = std::move(*page);
  return a;
}

const char* OperationName(OperationKind kind) {
  switch (kind) {
    case OperationKind::kQuery:
      return "query";
    case OperationKind::kMutation:
      return "mutation";
    case OperationKind::kSubscription:
      return "subscription";
    case OperationKind::kUnknown:
      break;
  }
  return "unknown";  // does not parse, or names no operation of the document
}

// The GraphQL request series of one registry, looked up there once per (operation, outcome):
// the registry's look-up locks it and builds the label set, on every request otherwise.
class GraphqlSeries {
 public:
  explicit GraphqlSeries(observability::MetricsRegistry* metrics) : metrics_(metrics) {}

  // One count per GraphQL request by operation type and outcome; latency of those that ran.
  // `outcome`: ok, field_error (data and errors), request_error (parse, validation,
  // variables: no data), unauthenticated, rejected (a mutation over GET). Malformed HTTP
  // requests (400) are not GraphQL requests: psvc_http_requests_total counts them.
  void Count(OperationKind kind, const char* outcome, double seconds = -1) const {
    if (!metrics_) return;
    std::string key = std::string(OperationName(kind)) + ' ' + outcome;
    std::pair<observability::Counter*, observability::Histogram*> s;
    {
      std::shared_lock lock(mu_);
      if (auto it = series_.find(key); it != series_.end()) s = it->second;
    }
    if (!s.first) {
      s.first = &metrics_->GetCounter("psvc_graphql_requests_total",
                                      "GraphQL requests by operation type and outcome",
                                      {{"operation", OperationName(kind)}, {"outcome", outcome}});
      s.second = &metrics_->GetHistogram("psvc_graphql_request_duration_seconds",
                                         "GraphQL execution latency by operation type",
                                         {{"operation", OperationName(kind)}});
      std::unique_lock lock(mu_);
      series_.try_emplace(std::move(key), s);
    }
    s.first->Inc();
    if (seconds >= 0) s.second->Observe(seconds);
  }

 private:
  observability::MetricsRegistry* metrics_;
  mutable std::shared_mutex mu_;
  mutable std::unordered_map<std::string,
                             std::pair<observability::Counter*, observability::Histogram*>>
      series_;
};

http::Response Run(const GraphqlApi& api, const GraphqlSeries& series, OperationKind kind,
                   const graphql::RequestParams& p, std::string_view query,
                   const graphql::PreparedDocument& prepared, MediaType m) {
  GraphqlRequest request;
  request.query = query;
  request.operation_name = p.operation_name;
  request.prepared = &prepared;
  if (p.variables) request.variables = &p.variables->AsMap();
  auto start = std::chrono::steady_clock::now();
  GraphqlResponse r = api.Execute(request);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // The executor writes "errors" first when there are any (executor.cpp).
  bool errors = std::string_view(r.json).starts_with("{\"errors\":");
  series.Count(kind, !r.has_data ? "request_error" : errors ? "field_error" : "ok", seconds);
  // Under application/json a request error is still 200 (legacy clients read the body);
  // under application/graphql-response+json it is 400 (spec §"Status Codes").
  int status = m == MediaType::kGraphqlResponse && !r.has_data ? 400 : 200;
  http::Response resp{status, ContentType(m), std::move(r.json), {}};
  resp.operation = OperationName(kind);
  return resp;
}

// A request turned away before execution, counted and labelled for the access log.
http::Response Rejected(const GraphqlSeries& series, OperationKind kind, const char* outcome,
                        http::Response r) {
  series.Count(kind, outcome);
  r.operation = OperationName(kind);
  return r;
}

/// Who may run this operation: mutations need a write token, everything a read token when
/// reads are protected. nullopt = allowed.
std::optional<http::Response> Deny(const GraphqlHttpOptions& auth, const http::Request& req,
                                   OperationKind kind, MediaType m) {
  bool mutation = kind == OperationKind::kMutation;
  const BearerTokens* tokens = mutation ? auth.write_tokens : auth.read_tokens;
  if (!tokens || !tokens->enabled() || req.client_verified ||
      tokens->Accepts(req.Header("authorization"))) {
    return std::nullopt;
  }
  http::Response r = ErrorResponse(
      401, m,
      std::string("Missing or invalid credentials: send `Authorization: Bearer <token>`") +
          (mutation ? " to run mutations." : "."));
  r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

/// The document a request runs: its text and its prepared form (from the persisted store or
/// the engine's cache), kept alive for the request.
struct RequestDocument {
  std::string_view text;
  std::shared_ptr<const graphql::PreparedDocument> prepared;
  std::shared_ptr<const PersistedDocument> persisted;  ///< holds `text` for persisted ones
};

RequestDocument FromStore(std::shared_ptr<const PersistedDocument> d) {
  RequestDocument r{d->text, d->prepared, nullptr};
  r.persisted = std::move(d);
  return r;
}

/// A request error in the GraphQL response shape with an `extensions.code` (the persisted
/// query protocol's clients look for the code). 200 under application/json, 400 under
/// application/graphql-response+json, like other request errors.
http::Response CodedError(MediaType m, std::string_view message, std::string_view code) {
  std::string body = "{\"errors\":[{\"message\":";
  json::AppendQuoted(body, message);
  body += ",\"extensions\":{\"code\":";
  json::AppendQuoted(body, code);
  body += "}}]}";
  int status = m == MediaType::kGraphqlResponse ? 400 : 200;
  return {status, ContentType(m), std::move(body), {}};
}

/// A subscription's fields resolve from committed changes, which only the WebSocket at the same
/// path delivers: over HTTP it is a request error (as in graphql-http's reference server), not a
/// null answer.
http::Response SubscriptionOverHttp(const GraphqlSeries& series, MediaType m) {
  return Rejected(series, OperationKind::kSubscription, "rejected",
                  ErrorResponse(m == MediaType::kGraphqlResponse ? 400 : 200, m,
                                "Subscriptions are served over WebSocket (graphql-transport-ws) "
                                "at this path, not over HTTP."));
}

/// Finds or registers the request's document (automatic persisted queries, the allowlist),
/// or answers why it will not run.
std::variant<http::Response, RequestDocument> ResolveDocument(const GraphqlApi& api,
                                                              const GraphqlHttpOptions& o,
                                                              PersistedQueryStore& store,
                                                              const graphql::RequestParams& p,
                                                              MediaType m) {
  const std::string& hash = p.persisted_query_hash;
  if (!hash.empty() && !p.query) {
    if (auto found = store.Find(hash)) return FromStore(std::move(found));
    return CodedError(m, "PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND");
  }
  std::string actual = hash.empty() && !o.persisted_only ? std::string() : Sha256Hex(*p.query);
  if (!hash.empty() && actual != hash) {
    return ErrorResponse(400, m,
                         "extensions.persistedQuery.sha256Hash is not the SHA-256 of `query` "
                         "(expected " +
                             actual + ").");
  }
  if (o.persisted_only) {
    if (auto allowed = store.Find(actual); allowed && store.Allowed(actual)) {
      return FromStore(std::move(allowed));
    }
    return CodedError(m,
                      "This server runs only persisted documents: send the sha256Hash of an "
                      "allowed document in extensions.persistedQuery.",
                      "PERSISTED_QUERY_ONLY");
  }
  if (hash.empty()) return RequestDocument{*p.query, api.Prepare(*p.query), nullptr};
  if (auto found = store.Find(hash)) return FromStore(std::move(found));
  auto document = std::make_shared<PersistedDocument>();
  document->text = *p.query;
  document->prepared = api.Prepare(document->text);
  // Only documents that can run are worth a hash: a parse or validation error is answered
  // as usual and not kept.
  if (!document->prepared->parsed.error && document->prepared->validation_errors.empty()) {
    store.Register(hash, document);
  }
  return FromStore(std::move(document));
}

http::Response HandlePost(const GraphqlApi& api, const GraphqlHttpOptions& auth,
                          const GraphqlSeries& series, PersistedQueryStore& store,
                          const http::Request& req) {
  MediaType m = Negotiate(req.Header("accept"));
  if (m == MediaType::kNone) {
    return ErrorResponse(406, MediaType::kJson,
                         "Accept application/graphql-response+json or application/json.");
  }
  std::string_view ct = req.Header("content-type");
  std::string type = Lower(TrimView(ct.substr(0, ct.find(';'))));
  if (type != "application/json") {
    return ErrorResponse(415, m, "Send the request as Content-Type: application/json.");
  }
  if (auto charset = Lower(ct).find("charset="); charset != std::string::npos) {
    std::string cs = Lower(TrimView(ct.substr(charset + 8)));
    if (cs != "utf-8" && cs != "\"utf-8\"") {
      return ErrorResponse(415, m, "Only the utf-8 charset is supported.");
    }
  }
  graphql::RequestParams p = graphql::DecodeJsonBody(req.body);
  if (!p.error.empty()) return ErrorResponse(400, m, p.error);
  auto resolved = ResolveDocument(api, auth, store, p, m);
  if (auto* refused = std::get_if<http::Response>(&resolved)) return std::move(*refused);
  const RequestDocument& doc = std::get<RequestDocument>(resolved);
  OperationKind kind = api.Classify(doc.prepared->parsed, p.operation_name);
  if (kind == OperationKind::kSubscription) return SubscriptionOverHttp(series, m);
  if (auto denied = Deny(auth, req, kind, m)) {
    return Rejected(series, kind, "unauthenticated", std::move(*denied));
  }
  return Run(api, series, kind, p, doc.text, *doc.prepared, m);
}

http::Response HandleGet(const GraphqlApi& api, const GraphqlHttpOptions& auth,
                         const GraphqlSeries& series, PersistedQueryStore& store,
                         const GraphiqlAssets& graphiql, const http::Request& req) {
  graphql::RequestParams p = graphql::DecodeQueryString(req.query);
  if (!p.query && p.persisted_query_hash.empty() &&
      Accepts(AcceptedTypes(req.Header("accept")), "text/html")) {
    if (!graphiql.available) {
      return {503,
              "text/plain; charset=utf-8",
              "GraphiQL is not installed on this server (scripts/bootstrap --npm).\n",
              {}};
    }
    return {200, "text/html; charset=utf-8", graphiql.page, {}};
  }
  MediaType m = Negotiate(req.Header("accept"));
  if (m == MediaType::kNone) {
    return ErrorResponse(406, MediaType::kJson,
                         "Accept application/graphql-response+json or application/json.");
  }
  if (!p.error.empty()) return ErrorResponse(400, m, p.error);
  // GraphQL over HTTP: GET is for queries; a mutation must not run through it (405, POST only).
  auto resolved = ResolveDocument(api, auth, store, p, m);
  if (auto* refused = std::get_if<http::Response>(&resolved)) return std::move(*refused);
  const RequestDocument& doc = std::get<RequestDocument>(resolved);
  OperationKind kind = api.Classify(doc.prepared->parsed, p.operation_name);
  if (kind == OperationKind::kSubscription) return SubscriptionOverHttp(series, m);
  if (kind == OperationKind::kMutation) {
    http::Response r = ErrorResponse(405, m, "Mutations must be sent with POST.");
    r.headers.emplace_back("Allow", "POST");
    return Rejected(series, kind, "rejected", std::move(r));
  }
  if (auto denied = Deny(auth, req, kind, m)) {
    return Rejected(series, kind, "unauthenticated", std::move(*denied));
  }
  return Run(api, series, kind, p, doc.text, *doc.prepared, m);
}

}  // namespace

void RegisterGraphqlRoutes(http::Server& server, std::shared_ptr<const GraphqlApi> api,
                           GraphqlHttpOptions options) {
  auto graphiql = std::make_shared<GraphiqlAssets>();
  if (options.graphiql) {
    std::string dir = options.graphiql_dir.empty() ? std::string(PSVC_SOURCE_DIR) + "/web/graphiql"
                                                   : options.graphiql_dir;
    *graphiql = LoadGraphiql(dir, options.path);
    for (const auto& [name, file] : graphiql->files) {
      server.Route("GET", options.path + "/assets/" + name,
                   [type = file.first, body = file.second](const http::Request&) {
                     return http::Response{200, type, body, {{"Cache-Control", "max-age=86400"}}};
                   });
    }
  }
  if (options.metrics) {
    // Whether the document cache and persisted queries spare the parse: a request whose text
    // (or persisted hash) the server already holds prepared adds nothing here.
    options.metrics->AddCollector([api](observability::SampleWriter& w) {
      w.Add("psvc_graphql_documents_prepared_total",
            "GraphQL documents parsed and validated (requests whose document was not already "
            "held prepared by the document cache or the persisted queries)",
            "counter", {}, static_cast<double>(api->documents_prepared()));
    });
  }
  auto store = std::make_shared<PersistedQueryStore>(options.persisted_query_entries);
  if (!options.persisted_dir.empty()) store->LoadAllowlist(options.persisted_dir, *api);
  if (options.persisted_only && store->allowlisted() == 0) {
    spdlog::warn(
        "GraphQL runs only persisted documents and none were loaded: every request "
        "will be refused");
  }
  auto series = std::make_shared<const GraphqlSeries>(options.metrics);
  server.Route("POST", options.path, [api, options, series, store](const http::Request& req) {
    return HandlePost(*api, options, *series, *store, req);
  });
  server.Route("GET", options.path,
               [api, graphiql, options, series, store](const http::Request& req) {
                 return HandleGet(*api, options, *series, *store, *graphiql, req);
               });
}

void RegisterGraphqlRoutes(http::Server& server, GraphqlApiOptions options,
                           GraphqlHttpOptions http_options) {
  RegisterGraphqlRoutes(server, std::make_shared<const GraphqlApi>(options),
                        std::move(http_options));
}

}  // namespace psvc::api

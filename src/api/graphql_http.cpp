#include "api/graphql_http.h"

#include "api/auth.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>

#include "graphql/document_cache.h"
#include "graphql/json.h"
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

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded decoding ('+' is a space).
std::string UrlDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && HexDigit(s[i + 1]) >= 0 &&
               HexDigit(s[i + 2]) >= 0) {
      out += static_cast<char>(HexDigit(s[i + 1]) * 16 + HexDigit(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> QueryParams(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (item.empty()) continue;
    size_t eq = item.find('=');
    out.emplace_back(UrlDecode(item.substr(0, eq)),
                     eq == std::string_view::npos ? std::string() : UrlDecode(item.substr(eq + 1)));
  }
  return out;
}

/// The GraphQL request parameters of one HTTP request, decoded and checked.
struct Params {
  std::string query;
  std::string operation_name;
  std::optional<Value> variables;  // an object, or nullopt
  std::string error;               // non-empty: a 400 with this message
};

// Checks the parameter members of a decoded JSON object (POST body).
Params FromJsonObject(const Value& body) {
  Params p;
  const Value* query = body.Find("query");
  if (!query) {
    p.error = "The request has no `query` parameter.";
    return p;
  }
  if (!query->IsString()) {
    p.error = "The `query` parameter must be a string.";
    return p;
  }
  p.query = std::string(query->AsString());
  if (const Value* op = body.Find("operationName"); op && !op->IsNull()) {
    if (!op->IsString()) {
      p.error = "The `operationName` parameter must be a string or null.";
      return p;
    }
    p.operation_name = std::string(op->AsString());
  }
  if (const Value* vars = body.Find("variables"); vars && !vars->IsNull()) {
    if (!vars->IsMap()) {
      p.error = "The `variables` parameter must be an object or null.";
      return p;
    }
    p.variables = *vars;
  }
  if (const Value* ext = body.Find("extensions"); ext && !ext->IsNull() && !ext->IsMap()) {
    p.error = "The `extensions` parameter must be an object or null.";
  }
  return p;
}

/// GraphiQL's page and its four static files, read once at start-up.
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

// One count per GraphQL request by operation type and outcome; latency of those that ran.
// `outcome`: ok, field_error (data and errors), request_error (parse, validation, variables:
// no data), unauthenticated, rejected (a mutation over GET). Malformed HTTP requests (400)
// are not GraphQL requests: psvc_http_requests_total counts them.
void Count(const GraphqlHttpOptions& o, OperationKind kind, const char* outcome,
           double seconds = -1) {
  if (!o.metrics) return;
  o.metrics
      ->GetCounter("psvc_graphql_requests_total", "GraphQL requests by operation type and outcome",
                   {{"operation", OperationName(kind)}, {"outcome", outcome}})
      .Inc();
  if (seconds >= 0) {
    o.metrics
        ->GetHistogram("psvc_graphql_request_duration_seconds",
                       "GraphQL execution latency by operation type",
                       {{"operation", OperationName(kind)}})
        .Observe(seconds);
  }
}

http::Response Run(const GraphqlApi& api, const GraphqlHttpOptions& o, OperationKind kind,
                   const Params& p, const graphql::PreparedDocument& prepared, MediaType m) {
  GraphqlRequest request;
  request.query = p.query;
  request.operation_name = p.operation_name;
  request.prepared = &prepared;
  if (p.variables) request.variables = &p.variables->AsMap();
  auto start = std::chrono::steady_clock::now();
  GraphqlResponse r = api.Execute(request);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // The executor writes "errors" first when there are any (executor.cpp).
  bool errors = std::string_view(r.json).starts_with("{\"errors\":");
  Count(o, kind, !r.has_data ? "request_error" : errors ? "field_error" : "ok", seconds);
  // Under application/json a request error is still 200 (legacy clients read the body);
  // under application/graphql-response+json it is 400 (spec §"Status Codes").
  int status = m == MediaType::kGraphqlResponse && !r.has_data ? 400 : 200;
  http::Response resp{status, ContentType(m), std::move(r.json), {}};
  resp.operation = OperationName(kind);
  return resp;
}

// A request turned away before execution, counted and labelled for the access log.
http::Response Rejected(const GraphqlHttpOptions& o, OperationKind kind, const char* outcome,
                        http::Response r) {
  Count(o, kind, outcome);
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

http::Response HandlePost(const GraphqlApi& api, const GraphqlHttpOptions& auth,
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
  if (req.body.empty()) return ErrorResponse(400, m, "The request body is empty.");
  std::string why;
  auto body = graphql::ParseJson(req.body, &why);
  if (!body) return ErrorResponse(400, m, "The request body is not valid JSON: " + why);
  if (!body->IsMap()) return ErrorResponse(400, m, "The request body must be a JSON object.");
  Params p = FromJsonObject(*body);
  if (!p.error.empty()) return ErrorResponse(400, m, p.error);
  auto prepared = api.Prepare(p.query);
  OperationKind kind = api.Classify(prepared->parsed, p.operation_name);
  if (auto denied = Deny(auth, req, kind, m)) {
    return Rejected(auth, kind, "unauthenticated", std::move(*denied));
  }
  return Run(api, auth, kind, p, *prepared, m);
}

http::Response HandleGet(const GraphqlApi& api, const GraphqlHttpOptions& auth,
                         const GraphiqlAssets& graphiql, const http::Request& req) {
  auto params = QueryParams(req.query);
  auto find = [&](std::string_view name) -> const std::string* {
    for (const auto& [k, v] : params) {
      if (k == name) return &v;
    }
    return nullptr;
  };
  const std::string* query = find("query");
  if (!query && Accepts(AcceptedTypes(req.Header("accept")), "text/html")) {
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
  if (!query) return ErrorResponse(400, m, "The request has no `query` parameter.");
  Params p;
  p.query = *query;
  if (const std::string* op = find("operationName")) p.operation_name = *op;
  for (const char* name : {"variables", "extensions"}) {
    const std::string* text = find(name);
    if (!text || text->empty()) continue;
    std::string why;
    auto v = graphql::ParseJson(*text, &why);
    if (!v || !(v->IsMap() || v->IsNull())) {
      return ErrorResponse(400, m,
                           std::string("The `") + name + "` parameter must be a JSON object.");
    }
    if (std::string_view(name) == "variables" && v->IsMap()) p.variables = std::move(*v);
  }
  // GraphQL over HTTP: GET is for queries; a mutation must not run through it (405, POST only).
  auto prepared = api.Prepare(p.query);
  OperationKind kind = api.Classify(prepared->parsed, p.operation_name);
  if (kind == OperationKind::kMutation) {
    http::Response r = ErrorResponse(405, m, "Mutations must be sent with POST.");
    r.headers.emplace_back("Allow", "POST");
    return Rejected(auth, kind, "rejected", std::move(r));
  }
  if (auto denied = Deny(auth, req, kind, m)) {
    return Rejected(auth, kind, "unauthenticated", std::move(*denied));
  }
  return Run(api, auth, kind, p, *prepared, m);
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
  server.Route("POST", options.path,
               [api, options](const http::Request& req) { return HandlePost(*api, options, req); });
  server.Route("GET", options.path, [api, graphiql, options](const http::Request& req) {
    return HandleGet(*api, options, *graphiql, req);
  });
}

void RegisterGraphqlRoutes(http::Server& server, GraphqlApiOptions options,
                           GraphqlHttpOptions http_options) {
  RegisterGraphqlRoutes(server, std::make_shared<const GraphqlApi>(options),
                        std::move(http_options));
}

}  // namespace psvc::api

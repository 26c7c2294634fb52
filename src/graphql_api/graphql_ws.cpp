#include "graphql_api/graphql_ws.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <memory>
#include <string_view>
#include <unordered_map>

#include "auth/auth.h"
#include "graphql/document_cache.h"
#include "graphql/executor.h"
#include "graphql/json.h"
#include "graphql_api/graphql_api.h"
#include "graphql_api/subscription_hub.h"
#include "http/server.h"
#include "json/json_string.h"
#include "observability/metrics.h"

namespace psvc::api {

namespace {

using graphql::Value;

constexpr std::string_view kSubprotocol = "graphql-transport-ws";

// Close codes of the protocol (enisdenjo/graphql-ws PROTOCOL.md).
constexpr uint16_t kBadRequest = 4400;
constexpr uint16_t kUnauthorized = 4401;
constexpr uint16_t kForbidden = 4403;
constexpr uint16_t kSubprotocolNotAcceptable = 4406;
constexpr uint16_t kInitTimeout = 4408;
constexpr uint16_t kSubscriberExists = 4409;
constexpr uint16_t kTooManyInits = 4429;

// The JSON of one message the server sends.
std::string Message(std::string_view type, std::string_view id = {},
                    std::string_view payload_json = {}) {
  std::string out = "{";
  if (!id.empty()) {
    out += "\"id\":";
    json::AppendQuoted(out, id);
    out += ',';
  }
  out += "\"type\":";
  json::AppendQuoted(out, type);
  if (!payload_json.empty()) {
    out += ",\"payload\":";
    out += payload_json;
  }
  out += '}';
  return out;
}

std::string ErrorsJson(const std::vector<graphql::Error>& errors) {
  std::string out = "[";
  for (size_t i = 0; i < errors.size(); ++i) {
    if (i) out += ',';
    graphql::AppendErrorJson(out, errors[i]);
  }
  return out + "]";
}

std::string OneError(std::string_view message) {
  return ErrorsJson({graphql::Error{std::string(message), {}, {}}});
}

bool ListsProtocol(std::string_view header) {
  while (!header.empty()) {
    size_t comma = header.find(',');
    std::string_view item = header.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item == kSubprotocol) return true;
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
  }
  return false;
}

void Count(const GraphqlWsOptions& o, const char* operation, const char* outcome) {
  if (!o.metrics) return;
  o.metrics
      ->GetCounter("psvc_graphql_requests_total", "GraphQL requests by operation type and outcome",
                   {{"operation", operation}, {"outcome", outcome}})
      .Inc();
}

// Delivers one subscription's events to its connection. A `next` message is this
// subscription's head, the result's payload (shared by every subscriber of the execution) and
// the closing brace: nothing is formatted or copied per subscriber.
class Sink final : public SubscriptionSink {
 public:
  Sink(std::shared_ptr<http::WebSocket> ws, const std::string& id)
      : ws_(std::move(ws)), head_(std::make_shared<const std::string>(NextHead(id))) {}
  void Next(const SubscriptionResult& result) override {
    if (!active_.load()) return;
    ws_->Send(http::SharedText{{head_, result.payload, Tail()}, result.on_written});
  }
  void Deactivate() { active_ = false; }

 private:
  // Message("next", id, payload) up to the payload.
  static std::string NextHead(const std::string& id) {
    std::string m = Message("next", id, "@");
    m.resize(m.size() - 2);  // the "@}" stand-in and the closing brace
    return m;
  }
  static const std::shared_ptr<const std::string>& Tail() {
    static const auto tail = std::make_shared<const std::string>("}");
    return tail;
  }

  std::shared_ptr<http::WebSocket> ws_;
  std::shared_ptr<const std::string> head_;
  std::atomic<bool> active_{true};
};

// One graphql-transport-ws connection. Every member runs on the connection's strand; work
// that may block (parsing, validation, the database) goes to the hub's workers and comes back
// with WebSocket::Post.
class Connection final : public http::WebSocketHandler,
                         public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<http::WebSocket> ws, SubscriptionHub& hub,
             std::shared_ptr<const GraphqlWsOptions> options, std::string header_authorization,
             bool client_verified)
      : ws_(std::move(ws)),
        hub_(hub),
        owned_options_(std::move(options)),
        options_(*owned_options_),
        header_authorization_(std::move(header_authorization)),
        client_verified_(client_verified) {}

  void Start() {
    ws_->After(options_.init_timeout, [weak = weak_from_this()] {
      auto self = weak.lock();
      if (self && !self->init_) self->ws_->Close(kInitTimeout, "Connection initialisation timeout");
    });
  }

  void OnMessage(std::string_view text) override {
    std::string why;
    graphql::JsonLimits limits;
    limits.max_values = 20000;
    auto message = graphql::ParseJson(text, &why, limits);
    const Value* type = message ? message->Find("type") : nullptr;
    if (!type || !type->IsString()) return Invalid("Invalid message received");
    std::string_view t = type->AsString();
    const Value* payload = message->Find("payload");
    if (t == "connection_init") return Init(payload);
    if (t == "ping") {
      ws_->Send(Message("pong"));
      return;
    }
    if (t == "pong") return;
    if (t == "subscribe") return Subscribe(*message);
    if (t == "complete") return Complete(*message);
    Invalid("Invalid message received: unexpected type \"" + std::string(t.substr(0, 40)) + "\"");
  }

  void OnClose() override {
    closed_ = true;
    for (auto& [id, op] : ops_) Drop(op);
    ops_.clear();
  }

 private:
  struct Operation {
    bool streaming = false;  // a subscription registered with the hub
    SubscriptionHub::Handle handle = 0;
    std::shared_ptr<Sink> sink;
  };

  void Invalid(std::string reason) { ws_->Close(kBadRequest, std::move(reason)); }

  bool Authorized(const BearerTokens* tokens) const {
    if (!tokens || !tokens->enabled() || client_verified_) return true;
    return tokens->Accepts(authorization_) || tokens->Accepts(header_authorization_);
  }

  void Init(const Value* payload) {
    if (init_) return ws_->Close(kTooManyInits, "Too many initialisation requests");
    init_ = true;
    if (payload && !payload->IsNull() && !payload->IsMap()) {
      return Invalid("Invalid message received: connection_init payload must be an object");
    }
    if (payload && payload->IsMap()) {
      for (const char* key : {"authorization", "Authorization"}) {
        if (const Value* v = payload->Find(key); v && v->IsString()) {
          authorization_ = std::string(v->AsString());
        }
      }
      if (const Value* v = payload->Find("token"); v && v->IsString() && authorization_.empty()) {
        authorization_ = "Bearer " + std::string(v->AsString());
      }
    }
    if (!Authorized(options_.read_tokens)) {
      Count(options_, "connection", "unauthenticated");
      return ws_->Close(kForbidden, "Forbidden");
    }
    acked_ = true;
    ws_->Send(Message("connection_ack"));
  }

  static const std::string* IdOf(const Value& message) {
    const Value* id = message.Find("id");
    if (!id || !std::holds_alternative<std::string>(id->storage())) return nullptr;
    const auto& s = std::get<std::string>(id->storage());
    return s.empty() ? nullptr : &s;
  }

  void Subscribe(const Value& message) {
    if (!acked_) return ws_->Close(kUnauthorized, "Unauthorized");
    const std::string* id = IdOf(message);
    const Value* payload = message.Find("payload");
    const Value* query = payload ? payload->Find("query") : nullptr;
    const Value* name = payload ? payload->Find("operationName") : nullptr;
    const Value* variables = payload ? payload->Find("variables") : nullptr;
    if (!id || !query || !query->IsString() || (name && !name->IsNull() && !name->IsString()) ||
        (variables && !variables->IsNull() && !variables->IsMap())) {
      return Invalid("Invalid message received: subscribe needs an id and payload.query");
    }
    if (id->size() > 256) return Invalid("Invalid message received: id longer than 256 bytes");
    if (ops_.contains(*id)) {
      return ws_->Close(kSubscriberExists,
                        "Subscriber for " + id->substr(0, 64) + " already exists");
    }
    if (static_cast<int>(ops_.size()) >= options_.max_operations) {
      Count(options_, "subscription", "rejected");
      ws_->Send(Message("error", *id,
                        OneError("Too many operations on this connection: at most " +
                                 std::to_string(options_.max_operations) + " at once.")));
      return;
    }
    ops_.emplace(*id, Operation{});
    auto work = std::make_shared<Subscription>();
    work->query = std::string(query->AsString());
    if (name && name->IsString()) work->operation_name = std::string(name->AsString());
    if (variables && variables->IsMap()) {
      work->variables = variables->AsMap();
      graphql::AppendJson(work->variables_json, *variables);
    }
    bool may_write = Authorized(options_.write_tokens);
    hub_.RunOnWorker([self = shared_from_this(), id = *id, work, may_write] {
      self->Prepare(id, std::move(*work), may_write);
    });
  }

  // On a worker thread: parse, validate, then start the stream or run the single result.
  void Prepare(const std::string& id, Subscription sub, bool may_write) {
    const GraphqlApi& api = hub_.api();
    sub.prepared = api.Prepare(sub.query);
    const auto& prepared = *sub.prepared;
    if (prepared.parsed.error || !prepared.validation_errors.empty()) {
      Count(options_, "unknown", "request_error");
      return Reply(id,
                   Message("error", id,
                           ErrorsJson(prepared.parsed.error
                                          ? std::vector<graphql::Error>{*prepared.parsed.error}
                                          : prepared.validation_errors)),
                   false);
    }
    OperationKind kind = api.Classify(prepared.parsed, sub.operation_name);
    if (kind == OperationKind::kSubscription) {
      sub.stream = api.ResolveSubscription(prepared, sub.operation_name, &sub.variables);
      if (!sub.stream.error_json.empty()) {
        Count(options_, "subscription", "request_error");
        return Reply(id, Message("error", id, sub.stream.error_json), false);
      }
      Count(options_, "subscription", "ok");
      auto shared = std::make_shared<Subscription>(std::move(sub));
      ws_->Post([self = shared_from_this(), id, shared] { self->Start(id, std::move(*shared)); });
      return;
    }
    if (kind == OperationKind::kUnknown) {
      Count(options_, "unknown", "request_error");
      return Reply(
          id,
          Message("error", id,
                  OneError(sub.operation_name.empty()
                               ? "Must provide operation name if query contains "
                                 "multiple operations."
                               : "Unknown operation named \"" + sub.operation_name + "\".")),
          false);
    }
    const char* op = kind == OperationKind::kMutation ? "mutation" : "query";
    if (kind == OperationKind::kMutation && !may_write) {
      Count(options_, op, "unauthenticated");
      return Reply(id,
                   Message("error", id,
                           OneError("Missing or invalid credentials: send a token in the "
                                    "connection_init payload to run mutations.")),
                   false);
    }
    GraphqlRequest request;
    request.query = sub.query;
    request.operation_name = sub.operation_name;
    request.variables = &sub.variables;
    request.prepared = sub.prepared.get();
    GraphqlResponse r = api.Execute(request);
    bool errors = std::string_view(r.json).starts_with("{\"errors\":");
    Count(options_, op, !r.has_data ? "request_error" : errors ? "field_error" : "ok");
    Reply(id, Message("next", id, r.json), true);
  }

  // Back on the strand: answers an operation unless the client completed it meanwhile.
  void Reply(const std::string& id, std::string message, bool then_complete) {
    ws_->Post([self = shared_from_this(), id, message = std::move(message), then_complete] {
      auto it = self->ops_.find(id);
      if (it == self->ops_.end()) return;  // completed by the client meanwhile
      self->ops_.erase(it);
      self->ws_->Send(message);
      if (then_complete) self->ws_->Send(Message("complete", id));
    });
  }

  void Start(const std::string& id, Subscription sub) {
    auto it = ops_.find(id);
    if (it == ops_.end() || closed_) return;  // completed meanwhile
    auto sink = std::make_shared<Sink>(ws_, id);
    it->second.streaming = true;
    it->second.sink = sink;
    it->second.handle = hub_.Add(std::move(sub), sink);
  }

  void Drop(Operation& op) {
    if (op.sink) op.sink->Deactivate();
    if (op.streaming) hub_.Remove(op.handle);
  }

  void Complete(const Value& message) {
    const std::string* id = IdOf(message);
    if (!id) return Invalid("Invalid message received: complete needs an id");
    auto it = ops_.find(*id);
    if (it == ops_.end()) return;  // already finished: nothing to stop
    Drop(it->second);
    ops_.erase(it);
  }

  std::shared_ptr<http::WebSocket> ws_;
  SubscriptionHub& hub_;
  std::shared_ptr<const GraphqlWsOptions> owned_options_;
  const GraphqlWsOptions& options_;
  std::string header_authorization_;
  bool client_verified_;
  std::string authorization_;
  bool init_ = false;
  bool acked_ = false;
  bool closed_ = false;
  std::unordered_map<std::string, Operation> ops_;
};

// An upgrade that did not ask for graphql-transport-ws: closed at once, as the protocol says.
class NotAcceptable final : public http::WebSocketHandler {
 public:
  void OnMessage(std::string_view) override {}
  void OnClose() override {}
};

}  // namespace

void RegisterGraphqlWebSocket(http::Server& server, SubscriptionHub& hub,
                              GraphqlWsOptions options) {
  auto o = std::make_shared<const GraphqlWsOptions>(std::move(options));
  server.RouteWebSocket(o->path, [&hub, o](const http::Request& req) {
    http::WebSocketAccept accept;
    if (!ListsProtocol(req.Header("sec-websocket-protocol"))) {
      accept.open = [](std::shared_ptr<http::WebSocket> ws) {
        ws->Close(kSubprotocolNotAcceptable, "Subprotocol not acceptable");
        return std::make_shared<NotAcceptable>();
      };
      return accept;
    }
    accept.subprotocol = std::string(kSubprotocol);
    accept.open = [&hub, o, authorization = std::string(req.Header("authorization")),
                   verified = req.client_verified](std::shared_ptr<http::WebSocket> ws) {
      auto c = std::make_shared<Connection>(std::move(ws), hub, o, authorization, verified);
      c->Start();
      return c;
    };
    return accept;
  });
}

}  // namespace psvc::api

#include "http/server.h"

#include <openssl/ssl.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/version.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <type_traits>
#include <unordered_map>

namespace psvc::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

std::size_t SharedText::size() const {
  std::size_t n = 0;
  for (const auto& piece : pieces) {
    if (piece) n += piece->size();
  }
  return n;
}

// Most bytes one WebSocket read appends to the message being received.
constexpr std::size_t kReadChunk = 64 * 1024;

std::string_view Request::Header(std::string_view lower_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lower_name) return v;
  }
  return {};
}

namespace {

using Routes = std::map<std::string, std::map<std::string, Handler>>;  // path → method → handler

constexpr std::string_view kTextPlain = "text/plain; charset=utf-8";

Response Overloaded() {
  return {503, std::string(kTextPlain), "overloaded: retry shortly\n", {{"Retry-After", "1"}}};
}

bool CorsAllows(const ServerOptions& o, std::string_view origin) {
  if (origin.empty()) return false;
  for (const auto& allowed : o.cors_origins) {
    if (allowed == "*" || allowed == origin) return true;
  }
  return false;
}

// The methods a path answers (HEAD with GET), for Allow and preflights.
std::string AllowedMethods(const std::map<std::string, Handler>& methods) {
  std::string allow;
  for (const auto& [m, _] : methods) allow += (allow.empty() ? "" : ", ") + m;
  return allow;
}

// A CORS preflight (Fetch standard §3.2.2), or nullopt when the request is not one.
std::optional<Response> Preflight(const Routes& routes, const ServerOptions& o,
                                  const Request& req) {
  if (o.cors_origins.empty() || req.method != "OPTIONS" || req.Header("origin").empty() ||
      req.Header("access-control-request-method").empty()) {
    return std::nullopt;
  }
  auto it = routes.find(req.path);
  if (it == routes.end()) return Response{404, std::string(kTextPlain), "not found\n", {}};
  if (!CorsAllows(o, req.Header("origin"))) {
    return Response{403, std::string(kTextPlain), "origin not allowed (--cors-origins)\n", {}};
  }
  std::string_view asked = req.Header("access-control-request-headers");
  return Response{204,
                  std::string(kTextPlain),
                  {},
                  {{"Access-Control-Allow-Methods", AllowedMethods(it->second) + ", OPTIONS"},
                   {"Access-Control-Allow-Headers",
                    asked.empty() ? "authorization, content-type" : std::string(asked)},
                   {"Access-Control-Max-Age", "600"}}};
}

// CORS headers for an answer to an allowed origin.
void AddCorsHeaders(const ServerOptions& o, const Request& req, Response& resp) {
  if (o.cors_origins.empty()) return;
  std::string_view origin = req.Header("origin");
  // The answer depends on Origin whenever CORS is on: caches must key on it.
  resp.headers.emplace_back("Vary", "Origin");
  if (!CorsAllows(o, origin)) return;
  resp.headers.emplace_back("Access-Control-Allow-Origin", std::string(origin));
  resp.headers.emplace_back("Access-Control-Expose-Headers", "X-Request-Id, Retry-After");
}

Response Dispatch(const Routes& routes, const ServerOptions& o, const Request& req) {
  if (auto preflight = Preflight(routes, o, req)) return std::move(*preflight);
  auto it = routes.find(req.path);
  if (it == routes.end()) return {404, "text/plain; charset=utf-8", "not found\n", {}};
  auto h = it->second.find(req.method);
  if (h == it->second.end() && req.method == "HEAD") h = it->second.find("GET");
  if (h == it->second.end()) {
    return {405,
            std::string(kTextPlain),
            "method not allowed\n",
            {{"Allow", AllowedMethods(it->second)}}};
  }
  try {
    return h->second(req);
  } catch (const std::exception&) {
    // Handlers translate their own errors; anything escaping is a bug, never leaked.
    return {500, "text/plain; charset=utf-8", "internal error\n", {}};
  }
}

// What Server::Stop needs of an open WebSocket connection.
class WsSessionBase {
 public:
  virtual ~WsSessionBase() = default;
  virtual void Shutdown() = 0;  // close 1001 Going Away
};

// The open WebSocket connections and their counters.
struct WsRegistry {
  std::mutex mu;
  std::unordered_map<const WsSessionBase*, std::weak_ptr<WsSessionBase>> sessions;
  std::atomic<int64_t> open{0};  // reserved at the upgrade decision, released when finished
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> refused_full{0};
  std::atomic<uint64_t> slow_consumers{0};
  std::atomic<uint64_t> messages_sent{0};
  std::atomic<bool> stopping{false};
};

// The pieces of a Server that sessions share (read-only after Start, except the counters).
struct Shared {
  const Routes& routes;
  const std::map<std::string, WebSocketRoute>& ws_routes;
  const ServerOptions& options;
  std::atomic<int>& in_flight;
  std::atomic<uint64_t>& next_request_id;
  uint64_t request_id_prefix;
  asio::thread_pool& handlers;
  WsRegistry& ws;
};

// One WebSocket connection, after the HTTP upgrade. Everything but the WebSocket methods
// runs on the connection's strand. The handler holds the session (through WebSocket) and the
// session the handler until it finishes, when it lets go of it.
template <class Stream>
class WsSession final : public WebSocket,
                        public WsSessionBase,
                        public std::enable_shared_from_this<WsSession<Stream>> {
 public:
  WsSession(const Shared& shared, Stream&& stream)
      : ws_(std::move(stream)), shared_(shared), close_timer_(ws_.get_executor()) {}

  void Start(bhttp::request<bhttp::string_body> req, std::string subprotocol,
             std::function<std::shared_ptr<WebSocketHandler>(std::shared_ptr<WebSocket>)> open) {
    beast::get_lowest_layer(ws_).expires_never();  // the websocket stream's own timeouts rule
    // Messages are small and pushed, never answered: without this a second message queued
    // behind an unacknowledged one waits for the peer's delayed ACK (Nagle, up to 40 ms).
    beast::error_code nodelay_ec;
    beast::get_lowest_layer(ws_).socket().set_option(tcp::no_delay(true), nodelay_ec);
    // Handshake 30 s, idle 300 s with pings from our side: a vanished peer is noticed.
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.set_option(websocket::stream_base::decorator([subprotocol](websocket::response_type& res) {
      res.set(bhttp::field::server, "postgres-service");
      if (!subprotocol.empty()) res.set(bhttp::field::sec_websocket_protocol, subprotocol);
    }));
    // No limit in Beast: its own (close 1009, then teardown) resets the connection while the
    // rest of the message is still arriving, and the client never sees the 1009. Read() keeps it.
    ws_.read_message_max(0);
    ws_.text(true);
    auto request = std::make_shared<bhttp::request<bhttp::string_body>>(std::move(req));
    {
      std::lock_guard lock(shared_.ws.mu);
      shared_.ws.sessions.emplace(this, this->weak_from_this());
    }
    ws_.async_accept(*request, [self = this->shared_from_this(), request,
                                open = std::move(open)](beast::error_code ec) {
      if (ec) return self->Finish();
      self->shared_.ws.accepted.fetch_add(1);
      try {
        self->handler_ = open(self);
      } catch (const std::exception&) {
        self->handler_.reset();
      }
      if (!self->handler_) return self->DoClose(1011, "internal error");
      self->Read();
    });
  }

  bool Send(std::string text) override {
    Outbound message;
    message.size = text.size();
    message.text = std::move(text);
    return Queue(std::move(message));
  }

  bool Send(SharedText text) override {
    Outbound message;
    message.size = text.size();
    message.shared = std::move(text);
    return Queue(std::move(message));
  }

  void Close(uint16_t code, std::string reason) override {
    asio::post(ws_.get_executor(),
               [self = this->shared_from_this(), code, reason] { self->DoClose(code, reason); });
  }

  void Post(std::function<void()> fn) override {
    asio::post(ws_.get_executor(), [self = this->shared_from_this(), fn = std::move(fn)] {
      if (!self->finished_) fn();
    });
  }

  void After(std::chrono::milliseconds delay, std::function<void()> fn) override {
    asio::post(ws_.get_executor(), [self = this->shared_from_this(), delay, fn = std::move(fn)] {
      if (self->finished_) return;
      auto timer = std::make_shared<asio::steady_timer>(self->ws_.get_executor(), delay);
      self->timers_.push_back(timer);
      timer->async_wait([self, timer, fn](beast::error_code ec) {
        self->timers_.remove(timer);
        if (!ec && !self->finished_) fn();
      });
    });
  }

  void Shutdown() override { Close(1001, "Server shutting down"); }

 private:
  // One queued message: its own bytes, or pieces shared with other connections.
  struct Outbound {
    std::string text;
    SharedText shared;
    std::size_t size = 0;
  };

  bool Queue(Outbound message) {
    if (closing_.load()) return false;
    const size_t size = message.size;
    if (queued_bytes_.fetch_add(size) + size > shared_.options.ws_max_queued_bytes) {
      queued_bytes_.fetch_sub(size);
      if (!slow_.exchange(true)) {
        asio::post(ws_.get_executor(), [self = this->shared_from_this()] {
          self->shared_.ws.slow_consumers.fetch_add(1);
          self->DoClose(self->shared_.options.ws_slow_close_code,
                        "Slow consumer: outbound queue full");
        });
      }
      return false;
    }
    asio::post(ws_.get_executor(),
               [self = this->shared_from_this(), message = std::move(message)]() mutable {
                 if (self->closing_.load()) {
                   self->queued_bytes_.fetch_sub(message.size);
                   return;
                 }
                 self->out_.push_back(std::move(message));
                 if (!self->writing_) self->Write();
               });
    return true;
  }

  // Reads in chunks so that a message over `ws_max_message` is never held whole: it is closed
  // with 1009 (RFC 6455 §7.4.1, Message Too Big), and what the peer sends until its close frame
  // is read and dropped, so the close frame reaches it instead of a connection reset.
  void Read() {
    ws_.async_read_some(in_, kReadChunk,
                        [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                          if (ec) return self->Finish();
                          if (self->closing_.load()) {
                            self->in_.consume(self->in_.size());
                          } else if (self->in_.size() > self->shared_.options.ws_max_message) {
                            self->in_.consume(self->in_.size());
                            self->DoClose(1009, "Message too big");
                          } else if (self->ws_.is_message_done()) {
                            std::string message = beast::buffers_to_string(self->in_.data());
                            self->in_.consume(self->in_.size());
                            if (self->handler_) self->handler_->OnMessage(message);
                          }
                          self->Read();
                        });
  }

  void Write() {
    writing_ = true;
    const Outbound& next = out_.front();
    // One gather write: shared pieces go out as they are, without being joined.
    std::array<asio::const_buffer, 3> buffers;
    if (next.shared.pieces[0] || next.shared.pieces[1] || next.shared.pieces[2]) {
      for (size_t i = 0; i < buffers.size(); ++i) {
        if (const auto& piece = next.shared.pieces[i]) buffers[i] = asio::buffer(*piece);
      }
    } else {
      buffers[0] = asio::buffer(next.text);
    }
    ws_.async_write(buffers, [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
      self->writing_ = false;
      Outbound done = std::move(self->out_.front());
      self->out_.pop_front();
      self->queued_bytes_.fetch_sub(done.size);
      if (ec) return self->DropSocket();
      self->shared_.ws.messages_sent.fetch_add(1);
      if (done.shared.on_written) (*done.shared.on_written)();
      if (!self->out_.empty() && !self->closing_.load()) self->Write();
    });
  }

  void DoClose(uint16_t code, std::string reason) {
    if (closing_.exchange(true) || finished_) return;
    // Messages not yet started are dropped; one being written finishes first (Beast suspends
    // the close until then).
    while (out_.size() > (writing_ ? 1u : 0u)) {
      queued_bytes_.fetch_sub(out_.back().size);
      out_.pop_back();
    }
    if (reason.size() > 123) reason.resize(123);  // RFC 6455 §5.5: control frames ≤ 125 bytes
    close_timer_.expires_after(shared_.options.ws_close_timeout);
    close_timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
      if (!ec) self->DropSocket();  // the peer did not drain or answer: give up on it
    });
    ws_.async_close(websocket::close_reason(static_cast<websocket::close_code>(code), reason),
                    [self = this->shared_from_this()](beast::error_code ec) {
                      if (ec) self->DropSocket();
                      // Otherwise the read loop ends when the peer's close frame arrives.
                    });
  }

  void DropSocket() {
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().close(ec);
  }

  void Finish() {
    if (finished_) return;
    finished_ = true;
    closing_ = true;
    close_timer_.cancel();
    for (auto& t : timers_) t->cancel();
    if (auto handler = std::move(handler_)) {
      try {
        handler->OnClose();
      } catch (const std::exception&) {
        // The connection is gone either way.
      }
    }
    DropSocket();
    {
      std::lock_guard lock(shared_.ws.mu);
      shared_.ws.sessions.erase(this);
    }
    shared_.ws.open.fetch_sub(1);
  }

  websocket::stream<Stream> ws_;
  const Shared& shared_;
  std::shared_ptr<WebSocketHandler> handler_;
  beast::flat_buffer in_;
  std::deque<Outbound> out_;
  std::atomic<size_t> queued_bytes_{0};
  std::atomic<bool> closing_{false};
  std::atomic<bool> slow_{false};
  bool writing_ = false;
  bool finished_ = false;
  asio::steady_timer close_timer_;
  std::list<std::shared_ptr<asio::steady_timer>> timers_;
};

// One connection. `Stream` is beast::tcp_stream (HTTP) or ssl_stream<tcp_stream> (HTTPS).
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

 public:
  template <class... StreamArgs>
  Session(const Shared& shared, StreamArgs&&... args)
      : stream_(std::forward<StreamArgs>(args)...), shared_(shared) {}

  void Run() {
    asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if constexpr (kTls) {
        self->Lowest().expires_after(self->shared_.options.read_timeout);
        self->stream_.async_handshake(asio::ssl::stream_base::server,
                                      [self](beast::error_code ec) { self->OnHandshake(ec); });
      } else {
        self->Read();
      }
    });
  }

 private:
  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }

  void OnHandshake(beast::error_code ec) {
    if (ec) return;  // not TLS, or a certificate the client CA does not vouch for: drop
    if constexpr (kTls) {
      // With verify_peer (and no fail_if_no_peer_cert) a bad certificate fails the handshake,
      // so a certificate present here has been verified against the client CA.
      SSL* ssl = stream_.native_handle();
      client_verified_ = !shared_.options.tls_client_ca_file.empty() &&
                         SSL_get0_peer_certificate(ssl) != nullptr &&
                         SSL_get_verify_result(ssl) == X509_V_OK;
    }
    Read();
  }

  void Read() {
    parser_.emplace();
    parser_->body_limit(shared_.options.body_limit);
    parser_->header_limit(static_cast<std::uint32_t>(shared_.options.header_limit));
    Lowest().expires_after(first_ ? shared_.options.read_timeout : shared_.options.idle_timeout);
    bhttp::async_read(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, std::size_t) { self->OnRead(ec); });
  }

  std::string NextRequestId() {
    char id[32];
    std::snprintf(id, sizeof id, "%010llx%06llx",
                  static_cast<unsigned long long>(shared_.request_id_prefix),
                  static_cast<unsigned long long>(shared_.next_request_id.fetch_add(1) & 0xffffff));
    return id;
  }

  void OnRead(beast::error_code ec) {
    first_ = false;
    if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
        ec == asio::ssl::error::stream_truncated) {
      return Close();
    }
    auto start = std::chrono::steady_clock::now();
    Request req;
    req.request_id = NextRequestId();
    req.client_verified = client_verified_;
    if (remote_address_.empty()) {  // a connection's peer never changes: one syscall per session
      beast::error_code rec;
      auto ep = Lowest().socket().remote_endpoint(rec);
      if (!rec) remote_address_ = ep.address().to_string();
    }
    req.remote_address = remote_address_;
    if (ec) {
      int status = ec == bhttp::error::body_limit     ? 413
                   : ec == bhttp::error::header_limit ? 431
                                                      : 400;
      std::string msg = status == 413   ? "request body too large\n"
                        : status == 431 ? "request headers too large\n"
                                        : "malformed HTTP request: " + ec.message() + "\n";
      Response resp{status, std::string(kTextPlain), msg, {}};
      Observe(req, resp, "unmatched", start);
      return Write(MakeResponse(std::move(resp), req, {11, false, false, false}),
                   /*release=*/false);
    }
    auto& msg = parser_->get();
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    auto q = req.target.find('?');
    req.path = req.target.substr(0, q);
    if (q != std::string::npos) req.query = req.target.substr(q + 1);
    for (const auto& field : msg) {
      std::string name(field.name_string());
      std::transform(name.begin(), name.end(), name.begin(), ::tolower);
      req.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    req.body = std::move(msg.body());
    Reply reply{msg.version(), msg.keep_alive(), req.method == "HEAD",
                shared_.routes.contains(req.path) || shared_.ws_routes.contains(req.path)};
    if (websocket::is_upgrade(msg)) {
      if (auto ws = shared_.ws_routes.find(req.path); ws != shared_.ws_routes.end()) {
        return Upgrade(std::move(req), ws->second, reply, start);
      }
    }
    if (shared_.in_flight.fetch_add(1) >= shared_.options.max_in_flight) {
      Response resp = Overloaded();
      Observe(req, resp, reply.matched ? req.path : "unmatched", start);
      return Write(MakeResponse(std::move(resp), req, reply), /*release=*/true);
    }
    // Handlers may block on the database: they run on the handler pool, so the I/O threads
    // stay free to read requests and turn the excess away at once (above). Whichever comes
    // first claims the request: a handler thread (runs it) or the queue timer (answers 503
    // now, from this strand, not when a thread frees up).
    auto job = std::make_shared<QueuedRequest>(std::move(req), stream_.get_executor());
    job->timer.expires_after(shared_.options.queue_timeout);
    job->timer.async_wait(
        [self = this->shared_from_this(), job, reply, start](beast::error_code ec) {
          if (ec || !job->Claim(QueuedRequest::kTimedOut)) return;
          Response resp = Overloaded();
          self->Observe(job->req, resp, reply.matched ? job->req.path : "unmatched", start);
          // The slot stays taken until a handler thread drops the request (below).
          self->Write(self->MakeResponse(std::move(resp), job->req, reply), /*release=*/false);
        });
    asio::post(shared_.handlers, [self = this->shared_from_this(), job, reply, start] {
      if (!job->Claim(QueuedRequest::kRunning)) {
        self->shared_.in_flight.fetch_sub(1);  // answered 503 by the timer
        return;
      }
      Response resp = Dispatch(self->shared_.routes, self->shared_.options, job->req);
      self->Observe(job->req, resp, reply.matched ? job->req.path : "unmatched", start);
      auto out = self->MakeResponse(std::move(resp), job->req, reply);
      asio::post(self->stream_.get_executor(), [self, job, out = std::move(out)]() mutable {
        job->timer.cancel();
        self->Write(std::move(out), /*release=*/true);
      });
    });
  }

  // A request between the I/O thread and a handler thread; exactly one of them claims it.
  struct QueuedRequest {
    enum State { kQueued, kRunning, kTimedOut };
    template <class Executor>
    QueuedRequest(Request r, const Executor& ex) : req(std::move(r)), timer(ex) {}
    bool Claim(State to) {
      int expected = kQueued;
      return state.compare_exchange_strong(expected, to);
    }
    Request req;
    asio::steady_timer timer;  // used on the session's strand only
    std::atomic<int> state{kQueued};
  };

  // What the answer needs from the request once the parser is reused.
  struct Reply {
    unsigned version;
    bool keep_alive;
    bool head;
    bool matched;  // a route exists for the path (else metrics say "unmatched")
  };

  // A WebSocket upgrade: refused with an HTTP answer, or the stream moves to a WsSession and
  // this session ends. Decided here, on the I/O thread (routes decide quickly).
  void Upgrade(Request req, const WebSocketRoute& route, const Reply& reply,
               std::chrono::steady_clock::time_point start) {
    auto refuse = [&](Response resp) {
      Observe(req, resp, req.path, start);
      Write(MakeResponse(std::move(resp), req, reply), /*release=*/false);
    };
    if (shared_.ws.stopping.load()) return refuse(Overloaded());
    if (shared_.ws.open.fetch_add(1) >= shared_.options.ws_max_connections) {
      shared_.ws.open.fetch_sub(1);
      shared_.ws.refused_full.fetch_add(1);
      return refuse(Overloaded());
    }
    WebSocketAccept accept;
    try {
      accept = route(req);
    } catch (const std::exception&) {
      accept.refuse = Response{500, std::string(kTextPlain), "internal error\n", {}};
    }
    if (accept.refuse || !accept.open) {
      shared_.ws.open.fetch_sub(1);
      return refuse(accept.refuse ? std::move(*accept.refuse)
                                  : Response{404, std::string(kTextPlain), "not found\n", {}});
    }
    Response switching{101, std::string(kTextPlain), {}, {}};
    switching.operation = "websocket";
    Observe(req, switching, req.path, start);
    auto session = std::make_shared<WsSession<Stream>>(shared_, std::move(stream_));
    session->Start(parser_->release(), std::move(accept.subprotocol), std::move(accept.open));
  }

  void Observe(const Request& req, const Response& resp, std::string_view route,
               std::chrono::steady_clock::time_point start) {
    if (!shared_.options.observer) return;
    try {
      shared_.options.observer(req, resp, route, std::chrono::steady_clock::now() - start);
    } catch (const std::exception&) {
      // Logging or metrics failing must not cost the client its answer.
    }
  }

  bhttp::response<bhttp::string_body> MakeResponse(Response r, const Request& req,
                                                   const Reply& reply) {
    AddCorsHeaders(shared_.options, req, r);
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(r.status), reply.version};
    res.set(bhttp::field::server, "postgres-service");
    if (r.status != 204) res.set(bhttp::field::content_type, r.content_type);
    res.set("X-Request-Id", req.request_id);
    for (auto& [k, v] : r.headers) res.insert(k, v);
    res.keep_alive(reply.keep_alive);
    res.body() = std::move(r.body);
    res.prepare_payload();
    if (reply.head) res.body().clear();  // after prepare_payload: Content-Length stays
    return res;
  }

  // `release`: the answer frees the request's max_in_flight slot once written.
  void Write(bhttp::response<bhttp::string_body> res, bool release) {
    auto sp = std::make_shared<bhttp::response<bhttp::string_body>>(std::move(res));
    bool close = !sp->keep_alive();
    Lowest().expires_after(shared_.options.read_timeout);
    bhttp::async_write(
        stream_, *sp,
        [self = this->shared_from_this(), sp, close, release](beast::error_code ec, std::size_t) {
          if (release) self->shared_.in_flight.fetch_sub(1);
          if (ec || close) return self->Close();
          self->Read();
        });
  }

  void Close() {
    if constexpr (kTls) {
      // close_notify, bounded: a client that never answers it must not hold the session.
      Lowest().expires_after(std::chrono::seconds(1));
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {
        beast::error_code ec;
        self->Lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
      });
    } else {
      beast::error_code ec;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    }
  }

  Stream stream_;
  const Shared& shared_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bool first_ = true;
  bool client_verified_ = false;
  std::string remote_address_;
};

// Loads the server certificate (and the client CA for mTLS); errors name the setting.
std::unique_ptr<asio::ssl::context> MakeTlsContext(const ServerOptions& o) {
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                   asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
  auto load = [](const char* setting, const std::string& file, auto&& fn) {
    beast::error_code ec;
    fn(ec);
    if (ec) {
      throw std::runtime_error(std::string(setting) + ": cannot load " + file + ": " +
                               ec.message());
    }
  };
  load("--tls-cert", o.tls_cert_file,
       [&](beast::error_code& ec) { ctx->use_certificate_chain_file(o.tls_cert_file, ec); });
  load("--tls-key", o.tls_key_file, [&](beast::error_code& ec) {
    ctx->use_private_key_file(o.tls_key_file, asio::ssl::context::pem, ec);
  });
  if (!o.tls_client_ca_file.empty()) {
    load("--tls-client-ca", o.tls_client_ca_file,
         [&](beast::error_code& ec) { ctx->load_verify_file(o.tls_client_ca_file, ec); });
    // Ask for a certificate, verify it when sent, but serve clients without one (reads).
    ctx->set_verify_mode(asio::ssl::verify_peer);
  }
  return ctx;
}

}  // namespace

struct Server::Impl {
  ServerOptions options;
  Routes routes;
  std::map<std::string, WebSocketRoute> ws_routes;
  WsRegistry ws;
  // Before ioc: sessions still queued in it when it is destroyed refer to these.
  std::unique_ptr<asio::ssl::context> tls;  // set: HTTPS
  std::optional<Shared> shared;
  std::optional<asio::thread_pool> handlers;
  asio::io_context ioc;
  // A request on the handler pool has no I/O pending: without this, ioc.run() would return
  // once the acceptor closes (Stop) and the answer would never be written.
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::optional<tcp::acceptor> acceptor;
  std::vector<std::thread> threads;
  uint16_t port = 0;
  bool running = false;
  std::atomic<int> in_flight{0};
  std::atomic<uint64_t> next_request_id{0};

  void Accept() {
    acceptor->async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) {
        if (tls) {
          std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(*shared, std::move(s),
                                                                          *tls)
              ->Run();
        } else {
          std::make_shared<Session<beast::tcp_stream>>(*shared, std::move(s))->Run();
        }
      }
      Accept();
    });
  }
};

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
}

Server::~Server() { Stop(); }

void Server::Route(std::string method, std::string path, Handler handler) {
  impl_->routes[std::move(path)][std::move(method)] = std::move(handler);
}

void Server::RouteWebSocket(std::string path, WebSocketRoute route) {
  impl_->ws_routes[std::move(path)] = std::move(route);
}

void Server::Start() {
  const auto& o = impl_->options;
  if (o.tls_cert_file.empty() != o.tls_key_file.empty()) {
    throw std::runtime_error("--tls-cert and --tls-key go together: set both or neither");
  }
  if (!o.tls_client_ca_file.empty() && o.tls_cert_file.empty()) {
    throw std::runtime_error("--tls-client-ca needs --tls-cert and --tls-key");
  }
  if (!o.tls_cert_file.empty()) impl_->tls = MakeTlsContext(o);
  std::random_device rd;
  // Random per process, so request ids from replicas do not collide.
  uint64_t prefix = (static_cast<uint64_t>(rd()) << 32 | rd()) & 0xffffffffffull;
  auto& handlers = impl_->handlers.emplace(std::max(1, o.threads));
  impl_->shared.emplace(Shared{impl_->routes, impl_->ws_routes, impl_->options, impl_->in_flight,
                               impl_->next_request_id, prefix, handlers, impl_->ws});
  beast::error_code ec;
  auto addr = asio::ip::make_address(impl_->options.address, ec);
  if (ec) throw std::runtime_error("invalid HTTP listen address: " + impl_->options.address);
  tcp::endpoint ep{addr, impl_->options.port};
  auto& acc = impl_->acceptor.emplace(impl_->ioc);
  acc.open(ep.protocol(), ec);
  if (!ec) acc.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acc.bind(ep, ec);
  if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw std::runtime_error("cannot listen on " + impl_->options.address + ":" +
                             std::to_string(impl_->options.port) + ": " + ec.message());
  }
  impl_->port = acc.local_endpoint().port();
  impl_->Accept();
  impl_->running = true;
  impl_->work.emplace(impl_->ioc.get_executor());
  for (int i = 0; i < std::max(1, impl_->options.io_threads); ++i) {
    impl_->threads.emplace_back([this] { impl_->ioc.run(); });
  }
}

void Server::Stop(std::chrono::milliseconds grace) {
  if (!impl_ || !impl_->running) return;
  impl_->running = false;
  asio::post(impl_->ioc, [this] {
    beast::error_code ec;
    impl_->acceptor->close(ec);
  });
  // WebSocket clients are told the server is going away (1001) and get the grace to answer.
  impl_->ws.stopping = true;
  std::vector<std::shared_ptr<WsSessionBase>> open;
  {
    std::lock_guard lock(impl_->ws.mu);
    for (auto& [_, weak] : impl_->ws.sessions) {
      if (auto s = weak.lock()) open.push_back(std::move(s));
    }
  }
  for (auto& s : open) s->Shutdown();
  open.clear();
  // Requests already being handled finish and are answered; then everything stops.
  auto deadline = std::chrono::steady_clock::now() + grace;
  while ((impl_->in_flight.load() > 0 || impl_->ws.open.load() > 0) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  impl_->work.reset();
  impl_->ioc.stop();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
  impl_->handlers->join();  // handlers still running past the grace finish; their answers drop
}

uint16_t Server::port() const { return impl_->port; }

bool Server::tls() const { return impl_->tls != nullptr; }

WebSocketStats Server::websocket_stats() const {
  const WsRegistry& ws = impl_->ws;
  return {ws.open.load(), ws.accepted.load(), ws.refused_full.load(), ws.slow_consumers.load(),
          ws.messages_sent.load()};
}

}  // namespace psvc::http

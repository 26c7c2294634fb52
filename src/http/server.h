#pragma once
/// A small HTTP/1.1 server (Boost.Beast underneath, kept out of this header).

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace psvc::http {

/// One parsed request. Header names are lower-case.
struct Request {
  std::string method;
  std::string target;  ///< path + query as sent
  std::string path;
  std::string query;  ///< after '?', undecoded
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string remote_address;
  std::string request_id;        ///< assigned by the server, echoed as X-Request-Id
  bool client_verified = false;  ///< TLS client certificate verified against the client CA

  std::string_view Header(std::string_view lower_name) const;
};

/// What a handler answers.
struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  /// What ran, for access logs and metrics (GraphQL: "query" or "mutation"); may stay empty.
  std::string operation;
};

/// Called once per answered request, before the answer is written. `route` is the matched
/// path, or "unmatched" (so unknown paths cannot blow up metric label sets).
using RequestObserver = std::function<void(const Request&, const Response&, std::string_view route,
                                           std::chrono::nanoseconds duration)>;

using Handler = std::function<Response(const Request&)>;

/// A text message made of pieces other connections may share (one subscription result sent
/// to many sockets is formatted once): the message is the pieces one after another, null ones
/// skipped. Held by reference count until written, never copied per connection.
struct SharedText {
  std::array<std::shared_ptr<const std::string>, 3> pieces;
  /// When set: called on the I/O thread once the message has been written to the socket (not
  /// when it is dropped), e.g. to measure delivery latency.
  std::shared_ptr<const std::function<void()>> on_written;

  std::size_t size() const;
};

/// One accepted WebSocket connection as the application sees it (Boost.Beast stays in
/// server.cpp). Every method is thread-safe and never blocks.
class WebSocket {
 public:
  virtual ~WebSocket() = default;
  /// Queues a text message. When the messages queued and not yet written would exceed
  /// ServerOptions::ws_max_queued_bytes the connection is dropped instead (a subscriber whose
  /// socket does not drain must not grow memory): the queue is discarded and the connection
  /// closed with ServerOptions::ws_slow_close_code. False once the connection is closing.
  virtual bool Send(std::string text) = 0;
  /// The same for a message of shared pieces (same queue, same limit, same order).
  virtual bool Send(SharedText text) = 0;
  /// Closes with `code` and `reason` (messages still queued are dropped). A peer that does not
  /// answer the close within ServerOptions::ws_close_timeout loses the TCP connection.
  virtual void Close(uint16_t code, std::string reason) = 0;
  /// Runs `fn` on the connection's strand (where the handler runs), unless it has closed.
  virtual void Post(std::function<void()> fn) = 0;
  /// Runs `fn` on the connection's strand after `delay`, unless it has closed by then.
  virtual void After(std::chrono::milliseconds delay, std::function<void()> fn) = 0;
};

/// The application's side of one WebSocket connection. Called on the connection's strand, one
/// call at a time; must not block (hand slow work to another thread, come back with Post).
class WebSocketHandler {
 public:
  virtual ~WebSocketHandler() = default;
  /// One complete message (text, or binary bytes as sent).
  virtual void OnMessage(std::string_view message) = 0;
  /// The connection is gone (either side closed it, or the server stopped); called once.
  virtual void OnClose() = 0;
};

/// How a WebSocket route answers an upgrade request: an HTTP answer instead (`refuse`), or
/// accept with `subprotocol` (empty: none) and build the connection's handler with `open`.
struct WebSocketAccept {
  std::optional<Response> refuse;
  std::string subprotocol;
  std::function<std::shared_ptr<WebSocketHandler>(std::shared_ptr<WebSocket>)> open;
};

/// Decides an upgrade request (runs on an I/O thread: must be quick).
using WebSocketRoute = std::function<WebSocketAccept(const Request&)>;

/// Listening address, worker threads and the limits that protect the server from slow or
/// oversized clients.
struct ServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 0;   ///< 0 = pick a free port (tests)
  int threads = 2;     ///< run handlers (which may block on the database)
  int io_threads = 1;  ///< read, write, TLS handshakes and 503s; never run handlers
  std::size_t body_limit = 1 << 20;
  std::size_t header_limit = 16 << 10;
  std::chrono::milliseconds read_timeout{10000};  ///< whole request, headers and body
  std::chrono::milliseconds idle_timeout{60000};  ///< keep-alive between requests
  /// Requests accepted at once (running on `threads` or queued for them); beyond it the
  /// answer is 503 with Retry-After at once, from an I/O thread, so an overload costs little
  /// instead of queueing without bound.
  int max_in_flight = 256;
  /// A request still waiting for a handler thread after this long is answered 503 +
  /// Retry-After at that moment (from an I/O thread) and never runs: it is not run late,
  /// after its client may have given up. It keeps its max_in_flight slot until a handler
  /// thread has dropped it, so the queue stays bounded.
  std::chrono::milliseconds queue_timeout{1000};
  /// Browser origins (e.g. "https://app.example.com", or "*" for any) that may call the
  /// server cross-origin (CORS). Empty: no CORS headers and OPTIONS preflights answer 405.
  /// An allowed origin gets Access-Control-Allow-Origin on every answer, and its preflight
  /// (OPTIONS with Access-Control-Request-Method) on a known path answers 204 with the path's
  /// methods; a preflight from any other origin answers 403.
  std::vector<std::string> cors_origins;
  /// Access logs and metrics; runs on the worker thread, so it must be quick.
  RequestObserver observer;
  /// HTTPS when both are set (PEM files: certificate chain, private key).
  std::string tls_cert_file;
  std::string tls_key_file;
  /// PEM CA bundle: clients may present a certificate, verified against it (mTLS); a client
  /// that presents none is still served, with Request::client_verified false.
  std::string tls_client_ca_file;
  /// WebSocket connections at once; an upgrade beyond it answers 503 + Retry-After.
  int ws_max_connections = 1000;
  /// Bytes queued for one WebSocket connection and not yet written before it counts as a
  /// slow consumer and is closed with `ws_slow_close_code`.
  std::size_t ws_max_queued_bytes = 1 << 20;
  /// Close code for a slow consumer: 1013 (Try Again Later; graphql-ws clients reconnect).
  uint16_t ws_slow_close_code = 1013;
  /// Largest message a WebSocket client may send (larger: closed with 1009).
  std::size_t ws_max_message = 1 << 20;
  /// A close handshake (ours or the peer's) that has not finished by then drops the socket.
  std::chrono::milliseconds ws_close_timeout{5000};
};

/// WebSocket counters of a Server (for metrics).
struct WebSocketStats {
  int64_t open = 0;             ///< connections now
  uint64_t accepted = 0;        ///< upgrades accepted
  uint64_t refused_full = 0;    ///< upgrades refused at ws_max_connections
  uint64_t slow_consumers = 0;  ///< connections dropped for a full outbound queue
  uint64_t messages_sent = 0;   ///< messages written
};

/// Routes by exact path; a path with handlers for other methods answers 405.
class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Registers a handler; call before Start().
  void Route(std::string method, std::string path, Handler handler);
  /// Accepts WebSocket upgrades on `path` (a GET with `Upgrade: websocket`); other requests
  /// on the path go to its ordinary handlers. Call before Start().
  void RouteWebSocket(std::string path, WebSocketRoute route);
  /// Binds and starts the worker threads; throws std::runtime_error naming the address (or
  /// the TLS file that cannot be loaded).
  void Start();
  /// Stops accepting, closes WebSocket connections with 1001 (Going Away), lets requests in
  /// flight finish (up to `grace`), then closes connections and joins the threads. Idempotent.
  void Stop(std::chrono::milliseconds grace = std::chrono::milliseconds(5000));
  uint16_t port() const;
  /// True when serving HTTPS (after Start).
  bool tls() const;
  WebSocketStats websocket_stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace psvc::http

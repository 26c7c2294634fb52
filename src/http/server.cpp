#include "http/server.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/version.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <optional>
#include <thread>

namespace psvc::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

std::string_view Request::Header(std::string_view lower_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lower_name) return v;
  }
  return {};
}

namespace {

using Routes = std::map<std::string, std::map<std::string, Handler>>;  // path → method → handler

Response Dispatch(const Routes& routes, const Request& req) {
  auto it = routes.find(req.path);
  if (it == routes.end()) return {404, "text/plain; charset=utf-8", "not found\n", {}};
  auto h = it->second.find(req.method);
  if (h == it->second.end() && req.method == "HEAD") h = it->second.find("GET");
  if (h == it->second.end()) {
    std::string allow;
    for (const auto& [m, _] : it->second) allow += (allow.empty() ? "" : ", ") + m;
    return {405, "text/plain; charset=utf-8", "method not allowed\n", {{"Allow", allow}}};
  }
  try {
    return h->second(req);
  } catch (const std::exception&) {
    // Handlers translate their own errors; anything escaping is a bug, never leaked.
    return {500, "text/plain; charset=utf-8", "internal error\n", {}};
  }
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const Routes& routes, const ServerOptions& options,
          std::atomic<int>& in_flight)
      : stream_(std::move(socket)), routes_(routes), options_(options), in_flight_(in_flight) {}

  void Run() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->Read(); });
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->body_limit(options_.body_limit);
    parser_->header_limit(static_cast<std::uint32_t>(options_.header_limit));
    stream_.expires_after(first_ ? options_.read_timeout : options_.idle_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        self->OnRead(ec);
                      });
  }

  void OnRead(beast::error_code ec) {
    first_ = false;
    if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset) {
      return Close();
    }
    if (ec) {
      int status = ec == bhttp::error::body_limit ? 413
                   : ec == bhttp::error::header_limit ? 431
                                                      : 400;
      std::string msg = status == 413 ? "request body too large\n"
                        : status == 431 ? "request headers too large\n"
                                        : "malformed HTTP request: " + ec.message() + "\n";
      return Write(MakeResponse({status, "text/plain; charset=utf-8", msg, {}}, 11, false));
    }
    auto& msg = parser_->get();
    Request req;
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
    beast::error_code rec;
    auto ep = stream_.socket().remote_endpoint(rec);
    if (!rec) req.remote_address = ep.address().to_string();
    bool keep_alive = msg.keep_alive();
    Response resp;
    counted_ = true;  // released when the answer has been written (see Write)
    if (in_flight_.fetch_add(1) >= options_.max_in_flight) {
      resp = {503, "text/plain; charset=utf-8", "overloaded: retry shortly\n", {{"Retry-After", "1"}}};
    } else {
      resp = Dispatch(routes_, req);
    }
    auto out = MakeResponse(std::move(resp), msg.version(), keep_alive);
    if (req.method == "HEAD") {
      out.body().clear();
    }
    Write(std::move(out));
  }

  bhttp::response<bhttp::string_body> MakeResponse(Response r, unsigned version, bool keep_alive) {
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(r.status), version};
    res.set(bhttp::field::server, "postgres-service");
    res.set(bhttp::field::content_type, r.content_type);
    for (auto& [k, v] : r.headers) res.set(k, v);
    res.keep_alive(keep_alive);
    res.body() = std::move(r.body);
    res.prepare_payload();
    return res;
  }

  void Write(bhttp::response<bhttp::string_body> res) {
    auto sp = std::make_shared<bhttp::response<bhttp::string_body>>(std::move(res));
    bool close = !sp->keep_alive();
    stream_.expires_after(options_.read_timeout);
    bhttp::async_write(stream_, *sp,
                       [self = shared_from_this(), sp, close](beast::error_code ec, std::size_t) {
                         if (self->counted_) {
                           self->counted_ = false;
                           self->in_flight_.fetch_sub(1);
                         }
                         if (ec || close) return self->Close();
                         self->Read();
                       });
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  const Routes& routes_;
  const ServerOptions& options_;
  std::atomic<int>& in_flight_;
  bool counted_ = false;
  bool first_ = true;
};

}  // namespace

struct Server::Impl {
  ServerOptions options;
  Routes routes;
  asio::io_context ioc;
  std::optional<tcp::acceptor> acceptor;
  std::vector<std::thread> threads;
  uint16_t port = 0;
  bool running = false;
  std::atomic<int> in_flight{0};

  void Accept() {
    acceptor->async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) std::make_shared<Session>(std::move(s), routes, options, in_flight)->Run();
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

void Server::Start() {
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
  for (int i = 0; i < std::max(1, impl_->options.threads); ++i) {
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
  // Requests already being handled finish and are answered; then everything stops.
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (impl_->in_flight.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  impl_->ioc.stop();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
}

uint16_t Server::port() const { return impl_->port; }

}  // namespace psvc::http

#include "http/server.h"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <map>
#include <thread>
#include <vector>

namespace psvc::http {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

/// One GET on a fresh connection; the response status.
int GetStatus(uint16_t port, const char* target) {
  asio::io_context ioc;
  tcp::socket s(ioc);
  s.connect({asio::ip::make_address("127.0.0.1"), port});
  bhttp::request<bhttp::string_body> req{bhttp::verb::get, target, 11};
  req.set(bhttp::field::host, "x");
  bhttp::write(s, req);
  boost::beast::flat_buffer buf;
  bhttp::response<bhttp::string_body> res;
  bhttp::read(s, buf, res);
  return static_cast<int>(res.result_int());
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions o;
    o.body_limit = 1024;
    o.read_timeout = std::chrono::milliseconds(500);
    server_ = std::make_unique<Server>(o);
    server_->Route("GET", "/hello", [](const Request& r) {
      return Response{200, "text/plain", "hi " + std::string(r.Header("x-name")), {}};
    });
    server_->Route("POST", "/echo", [](const Request& r) {
      return Response{200, "application/json", r.body, {{"X-Query", r.query}}};
    });
    server_->Route("GET", "/peer", [](const Request& r) {
      return Response{200, "text/plain", r.remote_address, {}};
    });
    server_->Route("GET", "/boom",
                   [](const Request&) -> Response { throw std::runtime_error("secret detail"); });
    server_->Start();
    socket_.connect({asio::ip::make_address("127.0.0.1"), server_->port()});
  }

  bhttp::response<bhttp::string_body> RoundTrip(bhttp::request<bhttp::string_body> req) {
    req.set(bhttp::field::host, "localhost");
    req.prepare_payload();
    bhttp::write(socket_, req);
    bhttp::response<bhttp::string_body> res;
    bhttp::read(socket_, buffer_, res);
    return res;
  }

  std::string RawRoundTrip(const std::string& raw) {
    asio::write(socket_, asio::buffer(raw));
    bhttp::response<bhttp::string_body> res;
    boost::beast::error_code ec;
    bhttp::read(socket_, buffer_, res, ec);
    if (ec) return "error: " + ec.message();
    return std::to_string(res.result_int()) + " " + res.body();
  }

  asio::io_context ioc_;
  tcp::socket socket_{ioc_};
  boost::beast::flat_buffer buffer_;
  std::unique_ptr<Server> server_;
};

TEST_F(ServerTest, RoutesKeepsAliveAndPassesHeadersQueryAndBody) {
  bhttp::request<bhttp::string_body> get{bhttp::verb::get, "/hello", 11};
  get.set("X-Name", "there");
  auto r1 = RoundTrip(get);
  EXPECT_EQ(r1.result_int(), 200);
  EXPECT_EQ(r1.body(), "hi there");
  // Same connection again: keep-alive.
  bhttp::request<bhttp::string_body> post{bhttp::verb::post, "/echo?a=1", 11};
  post.body() = "{\"x\":1}";
  auto r2 = RoundTrip(post);
  EXPECT_EQ(r2.result_int(), 200);
  EXPECT_EQ(r2.body(), "{\"x\":1}");
  EXPECT_EQ(r2["X-Query"], "a=1");
}

TEST_F(ServerTest, HandlersSeeThePeerOnEveryRequestOfAConnection) {
  // The address is looked up once per connection; later requests reuse it.
  for (int i = 0; i < 3; ++i) {
    auto r = RoundTrip({bhttp::verb::get, "/peer", 11});
    EXPECT_EQ(r.body(), "127.0.0.1") << i;
  }
}

TEST_F(ServerTest, UnknownPathIs404AndWrongMethodIs405WithAllow) {
  auto r1 = RoundTrip({bhttp::verb::get, "/nope", 11});
  EXPECT_EQ(r1.result_int(), 404);
  auto r2 = RoundTrip({bhttp::verb::delete_, "/echo", 11});
  EXPECT_EQ(r2.result_int(), 405);
  EXPECT_EQ(r2[bhttp::field::allow], "POST");
}

TEST_F(ServerTest, OversizedBodyIs413) {
  bhttp::request<bhttp::string_body> post{bhttp::verb::post, "/echo", 11};
  post.body() = std::string(4096, 'x');
  auto r = RoundTrip(post);
  EXPECT_EQ(r.result_int(), 413);
}

TEST_F(ServerTest, MalformedRequestIs400) {
  EXPECT_EQ(RawRoundTrip("THIS IS NOT HTTP\r\n\r\n").substr(0, 3), "400");
}

TEST_F(ServerTest, HandlerExceptionIs500WithoutDetails) {
  auto r = RoundTrip({bhttp::verb::get, "/boom", 11});
  EXPECT_EQ(r.result_int(), 500);
  EXPECT_EQ(r.body().find("secret"), std::string::npos);
}

TEST_F(ServerTest, SlowClientIsDisconnectedAfterTheReadTimeout) {
  asio::write(socket_, asio::buffer(std::string("GET /hello HTTP/1.1\r\nHost: x\r\n")));
  auto start = std::chrono::steady_clock::now();
  char c;
  boost::system::error_code ec;
  asio::read(socket_, asio::buffer(&c, 1), ec);  // server closes: EOF
  EXPECT_TRUE(ec);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

// Handlers run off the I/O threads: with the only handler thread busy in a slow handler, the
// excess request is still read and refused at once rather than after the slow one.
TEST(ServerLifecycle, ABlockedHandlerDoesNotDelayTheOverloadAnswer) {
  ServerOptions o;
  o.threads = 1;
  o.max_in_flight = 1;
  Server server(o);
  std::atomic<bool> started{false};
  server.Route("GET", "/slow", [&](const Request&) {
    started = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(800));
    return Response{200, "text/plain", "done", {}};
  });
  server.Start();
  auto get = [&] { return GetStatus(server.port(), "/slow"); };
  int slow = 0;
  std::thread first([&] { slow = get(); });
  while (!started) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(get(), 503);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(300));
  first.join();
  EXPECT_EQ(slow, 200);
}

// A request queued behind a slow handler longer than queue_timeout is refused, not run late.
TEST(ServerLifecycle, ARequestQueuedTooLongIs503WithoutRunning) {
  ServerOptions o;
  o.threads = 1;
  o.max_in_flight = 4;
  o.queue_timeout = std::chrono::milliseconds(200);
  Server server(o);
  std::atomic<int> runs{0};
  server.Route("GET", "/slow", [&](const Request&) {
    ++runs;
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    return Response{200, "text/plain", "done", {}};
  });
  server.Start();
  auto get = [&] { return GetStatus(server.port(), "/slow"); };
  int first = 0;
  std::thread t([&] { first = get(); });
  while (runs == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  EXPECT_EQ(get(), 503);  // queued ~600 ms > 200 ms
  t.join();
  EXPECT_EQ(first, 200);
  EXPECT_EQ(runs, 1);
}

// The 503 for a request stuck in the queue comes at the queue timeout, while the handler
// ahead of it is still running, not when a thread frees up; the dropped request keeps its
// in-flight slot until a handler thread has discarded it, so the queue stays bounded.
TEST(ServerLifecycle, AQueuedRequestIsAnswered503AtTheQueueTimeoutNotWhenAThreadFrees) {
  ServerOptions o;
  o.threads = 1;
  o.max_in_flight = 2;
  o.queue_timeout = std::chrono::milliseconds(100);
  Server server(o);
  std::atomic<int> runs{0};
  std::atomic<bool> release{false};
  server.Route("GET", "/block", [&](const Request&) {
    ++runs;
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    return Response{200, "text/plain", "done", {}};
  });
  server.Start();
  int first = 0;
  std::thread t([&] { first = GetStatus(server.port(), "/block"); });
  while (runs == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  EXPECT_EQ(GetStatus(server.port(), "/block"), 503);  // the only thread is still blocked
  EXPECT_FALSE(release);
  EXPECT_EQ(GetStatus(server.port(), "/block"), 503);  // both slots still taken: at once
  release = true;
  t.join();
  EXPECT_EQ(first, 200);
  EXPECT_EQ(runs, 1);  // the timed-out request never ran
  // The dropped request's slot is given back once the thread has discarded it.
  for (int i = 0; i < 200 && GetStatus(server.port(), "/block") != 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(GetStatus(server.port(), "/block"), 200);
}

/// One request on a fresh connection: status and headers (lower-case names).
std::pair<int, std::map<std::string, std::string>> Exchange(
    uint16_t port, bhttp::verb verb, const char* target,
    std::vector<std::pair<std::string, std::string>> headers) {
  asio::io_context ioc;
  tcp::socket s(ioc);
  s.connect({asio::ip::make_address("127.0.0.1"), port});
  bhttp::request<bhttp::string_body> req{verb, target, 11};
  req.set(bhttp::field::host, "x");
  for (auto& [k, v] : headers) req.set(k, v);
  req.prepare_payload();
  bhttp::write(s, req);
  boost::beast::flat_buffer buf;
  bhttp::response<bhttp::string_body> res;
  bhttp::read(s, buf, res);
  std::map<std::string, std::string> out;
  for (const auto& f : res) {
    std::string name(f.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out[name] = std::string(f.value());
  }
  return {static_cast<int>(res.result_int()), out};
}

TEST(ServerCors, OffByDefaultPreflightIs405AndNoHeaders) {
  Server server(ServerOptions{});
  server.Route("POST", "/graphql", [](const Request&) {
    return Response{200, "text/plain", "", {}};
  });
  server.Start();
  auto [status, h] =
      Exchange(server.port(), bhttp::verb::options, "/graphql",
               {{"Origin", "https://a.example"}, {"Access-Control-Request-Method", "POST"}});
  EXPECT_EQ(status, 405);
  EXPECT_FALSE(h.contains("access-control-allow-origin"));
  auto [s2, h2] =
      Exchange(server.port(), bhttp::verb::post, "/graphql", {{"Origin", "https://a.example"}});
  EXPECT_EQ(s2, 200);
  EXPECT_FALSE(h2.contains("access-control-allow-origin"));
}

TEST(ServerCors, AllowedOriginsGetPreflightsAndHeadersOthersDoNot) {
  ServerOptions o;
  o.cors_origins = {"https://a.example"};
  Server server(o);
  server.Route("POST", "/graphql", [](const Request&) {
    return Response{200, "text/plain", "", {}};
  });
  server.Route("GET", "/graphql", [](const Request&) {
    return Response{200, "text/plain", "", {}};
  });
  server.Start();
  auto [status, h] = Exchange(server.port(), bhttp::verb::options, "/graphql",
                              {{"Origin", "https://a.example"},
                               {"Access-Control-Request-Method", "POST"},
                               {"Access-Control-Request-Headers", "authorization,content-type"}});
  EXPECT_EQ(status, 204);
  EXPECT_EQ(h["access-control-allow-origin"], "https://a.example");
  EXPECT_EQ(h["access-control-allow-methods"], "GET, POST, OPTIONS");
  EXPECT_EQ(h["access-control-allow-headers"], "authorization,content-type");
  EXPECT_EQ(h["vary"], "Origin");
  auto [s2, h2] =
      Exchange(server.port(), bhttp::verb::options, "/graphql",
               {{"Origin", "https://b.example"}, {"Access-Control-Request-Method", "POST"}});
  EXPECT_EQ(s2, 403);
  EXPECT_FALSE(h2.contains("access-control-allow-origin"));
  auto [s3, h3] =
      Exchange(server.port(), bhttp::verb::post, "/graphql", {{"Origin", "https://a.example"}});
  EXPECT_EQ(s3, 200);
  EXPECT_EQ(h3["access-control-allow-origin"], "https://a.example");
  EXPECT_EQ(h3["access-control-expose-headers"], "X-Request-Id, Retry-After");
  auto [s4, h4] =
      Exchange(server.port(), bhttp::verb::post, "/graphql", {{"Origin", "https://b.example"}});
  EXPECT_EQ(s4, 200);  // served; the browser withholds it from the page
  EXPECT_FALSE(h4.contains("access-control-allow-origin"));
  // A plain OPTIONS (no preflight headers) is still an ordinary request: 405.
  auto [s5, h5] = Exchange(server.port(), bhttp::verb::options, "/graphql", {});
  EXPECT_EQ(s5, 405);
}

TEST(ServerCors, AStarAllowsAnyOrigin) {
  ServerOptions o;
  o.cors_origins = {"*"};
  Server server(o);
  server.Route("GET", "/x", [](const Request&) { return Response{200, "text/plain", "", {}}; });
  server.Start();
  auto [status, h] =
      Exchange(server.port(), bhttp::verb::get, "/x", {{"Origin", "http://localhost:3000"}});
  EXPECT_EQ(status, 200);
  EXPECT_EQ(h["access-control-allow-origin"], "http://localhost:3000");
}

TEST(ServerLifecycle, StopLetsRequestsInFlightFinishAndOverloadIs503WithRetryAfter) {
  ServerOptions o;
  o.threads = 4;
  o.max_in_flight = 3;
  Server server(o);
  std::atomic<int> started{0};
  server.Route("GET", "/slow", [&](const Request&) {
    ++started;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    return Response{200, "text/plain", "done", {}};
  });
  server.Start();
  auto get = [&](std::string& body) {
    asio::io_context ioc;
    tcp::socket s(ioc);
    s.connect({asio::ip::make_address("127.0.0.1"), server.port()});
    bhttp::request<bhttp::string_body> req{bhttp::verb::get, "/slow", 11};
    req.set(bhttp::field::host, "x");
    bhttp::write(s, req);
    boost::beast::flat_buffer buf;
    bhttp::response<bhttp::string_body> res;
    boost::beast::error_code ec;
    bhttp::read(s, buf, res, ec);
    if (ec) return -1;
    body = res.body() + "|" + std::string(res["Retry-After"]);
    return static_cast<int>(res.result_int());
  };
  // Overload: 3 slots, 4 worker threads, 4 clients at once: one answered 503 at once.
  std::vector<int> codes(4);
  std::vector<std::string> bodies(4);
  std::vector<std::thread> clients;
  for (int i = 0; i < 4; ++i) clients.emplace_back([&, i] { codes[i] = get(bodies[i]); });
  for (auto& c : clients) c.join();
  int ok = 0, busy = 0;
  for (int i = 0; i < 4; ++i) {
    if (codes[i] == 200) ++ok;
    if (codes[i] == 503) {
      ++busy;
      EXPECT_EQ(bodies[i], "overloaded: retry shortly\n|1");
    }
  }
  EXPECT_EQ(ok, 3);
  EXPECT_EQ(busy, 1);
  // Graceful stop: two requests in flight when Stop() is called are still answered.
  started = 0;
  std::vector<int> late(2);
  std::vector<std::string> late_bodies(2);
  std::vector<std::thread> inflight;
  for (int i = 0; i < 2; ++i) inflight.emplace_back([&, i] { late[i] = get(late_bodies[i]); });
  while (started < 2) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  server.Stop(std::chrono::seconds(5));
  for (auto& t : inflight) t.join();
  EXPECT_EQ(late[0], 200);
  EXPECT_EQ(late[1], 200);
  // And nothing new is accepted afterwards.
  asio::io_context ioc;
  tcp::socket s(ioc);
  boost::system::error_code ec;
  s.connect({asio::ip::make_address("127.0.0.1"), server.port()}, ec);
  EXPECT_TRUE(ec);
}

}  // namespace
}  // namespace psvc::http

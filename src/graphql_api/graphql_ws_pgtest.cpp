// GraphQL subscriptions over WebSocket (graphql-transport-ws) against a real database, fed by
// changes pushed by hand (the real change feed is tested end to end in tests/js).
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "auth/auth.h"
#include "changes/change_source.h"
#include "db/connection.h"
#include "db/pool.h"
#include "graphql/json.h"
#include "graphql_api/graphql_api.h"
#include "graphql_api/graphql_ws.h"
#include "graphql_api/subscription_hub.h"
#include "http/server.h"
#include "observability/metrics.h"
#include "testing/test_database.h"
#include "testing/wait_until.h"
#include "write/event_applier.h"

namespace psvc::api {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
using namespace std::chrono_literals;
using graphql::Value;

constexpr const char* kFma = "a0000000-0000-4000-8000-000000000001";
constexpr const char* kAot = "a0000000-0000-4000-8000-000000000004";
constexpr const char* kToken = "subscription-test-token-0123456789";

constexpr const char* kFixture = R"sql(
INSERT INTO anime (id, title, type, status, year, version) VALUES
 ('a0000000-0000-4000-8000-000000000001', 'Fullmetal Alchemist', 'TV', 'FINISHED', 2003, 7),
 ('a0000000-0000-4000-8000-000000000004', 'Shingeki no Kyojin', 'TV', 'FINISHED', 2013, 3);
INSERT INTO company (id, name) VALUES ('b0000000-0000-4000-8000-000000000001', 'Bones');
INSERT INTO anime_company (anime_id, company_id, role) VALUES
 ('a0000000-0000-4000-8000-000000000001', 'b0000000-0000-4000-8000-000000000001', 'studio');
)sql";

// A ChangeSource the test feeds by hand.
class HandFedSource final : public changes::ChangeSource {
 public:
  ListenerId Subscribe(Listener listener) override {
    std::lock_guard lock(mu_);
    listeners_.emplace(next_, std::move(listener));
    return next_++;
  }
  void Unsubscribe(ListenerId id) override {
    std::lock_guard lock(mu_);
    listeners_.erase(id);
  }
  uint64_t watermark() const override { return 0; }

  void Push(const std::string& anime_id, const std::string& event_type,
            const std::string& payload) {
    changes::ChangeBatch batch;
    batch.changes.push_back({++outbox_id_, 0, anime_id, event_type, payload});
    batch.read_at = std::chrono::system_clock::now();
    std::lock_guard lock(mu_);
    for (auto& [_, l] : listeners_) l(batch);
  }

 private:
  std::mutex mu_;
  std::map<ListenerId, Listener> listeners_;
  ListenerId next_ = 1;
  int64_t outbox_id_ = 0;
};

// What a client reads next: a message, or the close (with its code), or nothing in time.
struct Frame {
  std::string text;
  Value json;
  bool closed = false;
  int code = 0;
  bool timed_out = false;
};

// A graphql-transport-ws client on its own io_context.
class WsClient {
 public:
  explicit WsClient(uint16_t port, std::string subprotocol = "graphql-transport-ws",
                    std::string authorization = "")
      : ws_(ioc_) {
    beast::get_lowest_layer(ws_).connect({asio::ip::make_address("127.0.0.1"), port});
    ws_.set_option(websocket::stream_base::decorator([=](websocket::request_type& req) {
      if (!subprotocol.empty()) req.set(beast::http::field::sec_websocket_protocol, subprotocol);
      if (!authorization.empty()) req.set(beast::http::field::authorization, authorization);
    }));
    ws_.handshake(response_, "127.0.0.1", "/graphql", ec_);
  }
  beast::error_code handshake_error() const { return ec_; }
  std::string subprotocol() const {
    return std::string(response_[beast::http::field::sec_websocket_protocol]);
  }

  void Send(const std::string& text) {
    ws_.text(true);
    ws_.write(asio::buffer(text));
  }

  Frame Read(std::chrono::milliseconds timeout = 15s) {
    Frame f;
    bool done = false;
    beast::error_code ec;
    ws_.async_read(buffer_, [&](beast::error_code e, std::size_t) {
      ec = e;
      done = true;
    });
    ioc_.restart();
    ioc_.run_for(timeout);
    if (!done) {
      f.timed_out = true;
      beast::get_lowest_layer(ws_).cancel();
      ioc_.restart();
      ioc_.run();
      return f;
    }
    if (ec) {
      f.closed = true;
      f.code = ws_.reason().code;
      return f;
    }
    f.text = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    std::string why;
    if (auto v = graphql::ParseJson(f.text, &why)) f.json = std::move(*v);
    return f;
  }

  // connection_init and its ack.
  void Init(const std::string& payload = "{}") {
    Send(R"({"type":"connection_init","payload":)" + payload + "}");
    Frame f = Read();
    ASSERT_EQ(Type(f), "connection_ack") << f.text;
  }

  void Subscribe(const std::string& id, const std::string& query,
                 const std::string& variables = "null") {
    std::string q;
    graphql::AppendJson(q, Value(query));
    Send(R"({"id":")" + id + R"(","type":"subscribe","payload":{"query":)" + q +
         R"(,"variables":)" + variables + "}}");
  }

  static std::string Type(const Frame& f) {
    if (f.closed) return "closed " + std::to_string(f.code);
    if (f.timed_out) return "timed out";
    const Value* t = f.json.Find("type");
    return t && t->IsString() ? std::string(t->AsString()) : "?";
  }

  // Stops reading from the socket: its receive buffer fills and the server's sends stall.
  void ShrinkReceiveBuffer() {
    beast::get_lowest_layer(ws_).socket().set_option(asio::socket_base::receive_buffer_size(4096));
  }

 private:
  asio::io_context ioc_;
  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buffer_;
  websocket::response_type response_;
  beast::error_code ec_;
};

std::string Json(const Value& v) {
  std::string out;
  graphql::AppendJson(out, v);
  return out;
}

const Value& At(const Value& root, std::initializer_list<std::string_view> path) {
  static const Value kMissing;
  const Value* v = &root;
  for (auto key : path) {
    v = v->Find(key);
    if (!v) return kMissing;
  }
  return *v;
}

class GraphqlWsTest : public ::testing::Test {
 protected:
  void SetUp() override { tdb_.Connect().Exec(kFixture); }
  void TearDown() override { StopServer(); }

  void StartServer(http::ServerOptions so = {}, GraphqlWsOptions wo = {}) {
    api_ = std::make_unique<GraphqlApi>(GraphqlApiOptions{.read_pool = pool_, .applier = applier_});
    hub_ = std::make_unique<SubscriptionHub>(*api_, source_, &metrics_);
    so.threads = 2;
    server_ = std::make_unique<http::Server>(so);
    RegisterGraphqlWebSocket(*server_, *hub_, wo);
    server_->Start();
  }
  void StopServer() {
    if (server_) server_->Stop();
    if (hub_) hub_->Stop();
    server_.reset();
    hub_.reset();
  }
  uint16_t port() const { return server_->port(); }

  testing::TestDatabase tdb_;
  db::Pool pool_{db::PoolOptions{.url = tdb_.url(), .size = 4}};
  write::EventApplier applier_{pool_};
  HandFedSource source_;
  observability::MetricsRegistry metrics_;
  std::unique_ptr<GraphqlApi> api_;
  std::unique_ptr<SubscriptionHub> hub_;
  std::unique_ptr<http::Server> server_;
};

TEST_F(GraphqlWsTest, AnimeChangedDeliversItsAnimeInOrderWithNestedFields) {
  StartServer();
  WsClient c(port());
  ASSERT_FALSE(c.handshake_error()) << c.handshake_error().message();
  EXPECT_EQ(c.subprotocol(), "graphql-transport-ws");
  c.Init();
  c.Subscribe("s1",
              "subscription($ids: [ID!]!) { animeChanged(ids: $ids) { kind animeId "
              "version changeId fields anime { title studios { name } } } }",
              std::string(R"({"ids":[")") + kFma + "\"]}");
  // The subscription is registered asynchronously: wait until the hub has it.
  ASSERT_TRUE(testing::WaitUntil([&] { return hub_->stats().subscriptions == 1; }, 10s));
  source_.Push(kAot, "AnimeUpdated", R"({"version":4,"fields":["title"]})");  // not followed
  source_.Push(kFma, "AnimeUpdated", R"({"version":8,"fields":["title","score"]})");
  source_.Push(kFma, "EpisodeAired", R"({"version":9})");
  Frame f = c.Read();
  ASSERT_EQ(WsClient::Type(f), "next") << f.text;
  EXPECT_EQ(Json(*f.json.Find("id")), "\"s1\"");
  const Value& change = At(f.json, {"payload", "data", "animeChanged"});
  EXPECT_EQ(Json(change),
            std::string(R"({"kind":"UPDATED","animeId":")") + kFma +
                R"(","version":8,"changeId":"2","fields":["title","score"],"anime":{"title":)"
                R"("Fullmetal Alchemist","studios":[{"name":"Bones"}]}})");
  f = c.Read();
  ASSERT_EQ(WsClient::Type(f), "next") << f.text;
  EXPECT_EQ(Json(At(f.json, {"payload", "data", "animeChanged", "kind"})), "\"EPISODE_AIRED\"");
  EXPECT_EQ(Json(At(f.json, {"payload", "data", "animeChanged", "version"})), "9");

  // complete from the client: nothing more for s1.
  c.Send(R"({"id":"s1","type":"complete"})");
  ASSERT_TRUE(testing::WaitUntil([&] { return hub_->stats().subscriptions == 0; }, 10s));
  source_.Push(kFma, "AnimeUpdated", R"({"version":10,"fields":["title"]})");
  c.Send(R"({"type":"ping"})");
  EXPECT_EQ(WsClient::Type(c.Read()), "pong");
}

TEST_F(GraphqlWsTest, CatalogueChangedFiltersByKindAndReportsMergesForBothAnime) {
  StartServer();
  WsClient c(port());
  c.Init();
  c.Subscribe("all",
              "subscription { catalogueChanged(kinds: [MERGED, VIEWED]) { kind animeId "
              "mergedInto viewCount version } }");
  ASSERT_TRUE(testing::WaitUntil([&] { return hub_->stats().subscriptions == 1; }, 10s));
  source_.Push(kAot, "AnimeUpdated", R"({"version":4})");        // filtered out
  source_.Push(kAot, "AnimeMerged", R"({"duplicate_id":"x"})");  // a request: not reported
  source_.Push(kAot, "AnimeViewed", R"({"version":4,"view_count":12})");
  source_.Push(kFma, "AnimeMergeCompleted",
               std::string(R"({"duplicate_id":")") + kAot + R"(","survivor_id":")" + kFma + "\"}");
  std::vector<std::string> got;
  for (int i = 0; i < 3; ++i) {
    Frame f = c.Read();
    ASSERT_EQ(WsClient::Type(f), "next") << f.text;
    got.push_back(Json(At(f.json, {"payload", "data", "catalogueChanged"})));
  }
  EXPECT_EQ(got[0], std::string(R"({"kind":"VIEWED","animeId":")") + kAot +
                        R"(","mergedInto":null,"viewCount":12,"version":4})");
  EXPECT_EQ(got[1], std::string(R"({"kind":"MERGED","animeId":")") + kFma +
                        R"(","mergedInto":null,"viewCount":null,"version":null})");
  EXPECT_EQ(got[2], std::string(R"({"kind":"MERGED","animeId":")") + kAot + R"(","mergedInto":")" +
                        kFma + R"(","viewCount":null,"version":null})");
}

TEST_F(GraphqlWsTest, SubscriptionsSharingADocumentShareOneExecution) {
  StartServer();
  WsClient a(port()), b(port());
  a.Init();
  b.Init();
  std::string doc = "subscription { animeChanged(ids: [\"" + std::string(kFma) +
                    "\"]) { version anime { title } } }";
  a.Subscribe("1", doc);
  b.Subscribe("x", doc);
  ASSERT_TRUE(testing::WaitUntil([&] { return hub_->stats().subscriptions == 2; }, 10s));
  source_.Push(kFma, "AnimeUpdated", R"({"version":8})");
  Frame fa = a.Read(), fb = b.Read();
  EXPECT_EQ(Json(*fa.json.Find("payload")), Json(*fb.json.Find("payload")));
  EXPECT_EQ(Json(*fb.json.Find("id")), "\"x\"");
  EXPECT_EQ(hub_->stats().executions, 1u);
  EXPECT_EQ(hub_->stats().deliveries, 2u);
}

TEST_F(GraphqlWsTest, EachResultWrittenToASocketIsTimedFromTheFeedsRead) {
  StartServer();
  WsClient a(port()), b(port());
  a.Init();
  b.Init();
  std::string doc = "subscription { animeChanged(ids: [\"" + std::string(kFma) +
                    "\"]) { version anime { title } } }";
  a.Subscribe("1", doc);
  b.Subscribe("2", doc);
  ASSERT_TRUE(testing::WaitUntil([&] { return hub_->stats().subscriptions == 2; }, 10s));
  auto sent = [&] {
    std::string text = metrics_.Render();
    const std::string name = "psvc_graphql_subscription_send_seconds_count ";
    size_t at = text.find(name);
    return at == std::string::npos ? -1 : std::stoi(text.substr(at + name.size()));
  };
  EXPECT_EQ(sent(), 0);
  source_.Push(kFma, "AnimeUpdated", R"({"version":8})");
  source_.Push(kFma, "AnimeUpdated", R"({"version":9})");
  for (WsClient* c : {&a, &b}) {
    for (int version : {8, 9}) {
      Frame f = c->Read();
      ASSERT_EQ(WsClient::Type(f), "next") << f.text;
      EXPECT_EQ(Json(At(f.json, {"payload", "data", "animeChanged", "version"})),
                std::to_string(version));
    }
  }
  // Observed when a write completes, which may be just after the client read it.
  EXPECT_TRUE(testing::WaitUntil([&] { return sent() == 4; }, 10s)) << sent();
}

TEST_F(GraphqlWsTest, SubscribersOnSeveralIoThreadsGetEveryResultOnceInOrder) {
  StartServer(http::ServerOptions{.io_threads = 2});
  constexpr int kClients = 20;
  constexpr int kChanges = 30;
  const std::string doc =
      "subscription { animeChanged(ids: [\"" + std::string(kFma) + "\"]) { version } }";
  std::vector<std::unique_ptr<WsClient>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<WsClient>(port()));
    clients.back()->Init();
    clients.back()->Subscribe("s" + std::to_string(i), doc);
  }
  ASSERT_TRUE(testing::WaitUntil([&] { return hub_->stats().subscriptions == kClients; }, 10s));
  for (int v = 1; v <= kChanges; ++v) {
    source_.Push(kFma, "AnimeUpdated", "{\"version\":" + std::to_string(v) + "}");
  }
  for (int i = 0; i < kClients; ++i) {
    for (int v = 1; v <= kChanges; ++v) {
      // The whole message, byte for byte: this subscription's id around the shared payload.
      ASSERT_EQ(clients[i]->Read().text,
                R"({"id":"s)" + std::to_string(i) +
                    R"(","type":"next","payload":{"data":{"animeChanged":{"version":)" +
                    std::to_string(v) + "}}}}")
          << "client " << i << ", change " << v;
    }
  }
  EXPECT_EQ(hub_->stats().executions, static_cast<uint64_t>(kChanges));
  EXPECT_EQ(hub_->stats().deliveries, static_cast<uint64_t>(kClients * kChanges));
}

TEST_F(GraphqlWsTest, InvalidSubscriptionsGetErrorMessagesAndTheConnectionStays) {
  StartServer();
  WsClient c(port());
  c.Init();
  struct Case {
    const char* query;
    const char* message;
  } cases[] = {
      {"subscription { nope }", "Cannot query field \"nope\" on type \"Subscription\"."},
      {"subscription { catalogueChanged { kind } animeChanged(ids: []) { kind } }",
       "Anonymous Subscription must select only one top level field."},
      {"subscription { animeChanged(ids: [\"zzz\"]) { kind } }", "ids[0]: not a UUID: 'zzz'"},
      {"subscription { animeChanged(ids: []) { kind } }", "ids: name at least one anime"},
      {"subscription { catalogueChanged(kinds: [EXPLODED]) { kind } }",
       "Value \"EXPLODED\" does not exist in \"ChangeKind\" enum."},
      {"subscription {", "Syntax Error: Expected Name, found <EOF>."},
  };
  int n = 0;
  for (const auto& k : cases) {
    std::string id = "e" + std::to_string(n++);
    c.Subscribe(id, k.query);
    Frame f = c.Read();
    ASSERT_EQ(WsClient::Type(f), "error") << k.query << " -> " << f.text;
    EXPECT_EQ(Json(*f.json.Find("id")), "\"" + id + "\"");
    const Value* payload = f.json.Find("payload");
    ASSERT_TRUE(payload && payload->IsList() && !payload->AsList().empty()) << f.text;
    EXPECT_EQ(Json(*payload->AsList()[0].Find("message")), Json(Value(std::string(k.message))))
        << k.query;
  }
  // A query runs once: next, then complete.
  c.Subscribe("q", std::string("{ anime(id: \"") + kFma + "\") { title } }");
  Frame f = c.Read();
  ASSERT_EQ(WsClient::Type(f), "next") << f.text;
  EXPECT_EQ(Json(*f.json.Find("payload")), R"({"data":{"anime":{"title":"Fullmetal Alchemist"}}})");
  f = c.Read();
  EXPECT_EQ(WsClient::Type(f), "complete") << f.text;
}

TEST_F(GraphqlWsTest, ProtocolViolationsCloseWithTheProtocolsCodes) {
  StartServer(http::ServerOptions{}, GraphqlWsOptions{.init_timeout = 300ms});
  {
    WsClient c(port());
    c.Subscribe("1", "subscription { catalogueChanged { kind } }");
    EXPECT_EQ(WsClient::Type(c.Read()), "closed 4401");
  }
  {
    WsClient c(port());
    c.Init();
    c.Send(R"({"type":"connection_init"})");
    EXPECT_EQ(WsClient::Type(c.Read()), "closed 4429");
  }
  {
    WsClient c(port());
    c.Send("not json");
    EXPECT_EQ(WsClient::Type(c.Read()), "closed 4400");
  }
  {
    WsClient c(port());
    c.Init();
    c.Send(R"({"type":"next","id":"1","payload":{}})");
    EXPECT_EQ(WsClient::Type(c.Read()), "closed 4400");
  }
  {
    WsClient c(port());
    c.Init();
    c.Subscribe("dup", "subscription { catalogueChanged { kind } }");
    ASSERT_TRUE(testing::WaitUntil([&] { return hub_->stats().subscriptions == 1; }, 10s));
    c.Subscribe("dup", "subscription { catalogueChanged { kind } }");
    EXPECT_EQ(WsClient::Type(c.Read()), "closed 4409");
  }
  {
    WsClient c(port());  // never sends connection_init
    EXPECT_EQ(WsClient::Type(c.Read()), "closed 4408");
  }
  {
    WsClient c(port(), "graphql-ws");  // the legacy protocol
    ASSERT_FALSE(c.handshake_error());
    EXPECT_EQ(WsClient::Type(c.Read()), "closed 4406");
  }
  ASSERT_TRUE(testing::WaitUntil([&] { return hub_->stats().subscriptions == 0; }, 10s));
}

TEST_F(GraphqlWsTest, TokensAreCheckedInConnectionInit) {
  BearerTokens tokens({kToken});
  StartServer(http::ServerOptions{},
              GraphqlWsOptions{.read_tokens = &tokens, .write_tokens = &tokens});
  {
    WsClient c(port());
    c.Send(R"({"type":"connection_init","payload":{}})");
    EXPECT_EQ(WsClient::Type(c.Read()), "closed 4403");
  }
  {
    WsClient c(port());
    c.Send(
        R"({"type":"connection_init","payload":{"authorization":"Bearer wrong-token-0123456789"}})");
    EXPECT_EQ(WsClient::Type(c.Read()), "closed 4403");
  }
  {
    WsClient c(port());
    c.Init(std::string(R"({"authorization":"Bearer )") + kToken + "\"}");
  }
  {
    WsClient c(port(), "graphql-transport-ws", std::string("Bearer ") + kToken);
    c.Init();  // the upgrade request's header counts too
  }
}

TEST_F(GraphqlWsTest, MutationsNeedAWriteToken) {
  BearerTokens tokens({kToken});
  BearerTokens none;
  StartServer(http::ServerOptions{},
              GraphqlWsOptions{.read_tokens = &none, .write_tokens = &tokens});
  WsClient c(port());
  c.Init();
  c.Subscribe("m", std::string("mutation { updateAnime(id: \"") + kFma +
                       "\", input: {title: \"X\"}, expectedVersion: 7) { version } }");
  Frame f = c.Read();
  ASSERT_EQ(WsClient::Type(f), "error") << f.text;
}

TEST_F(GraphqlWsTest, OperationsPerConnectionAreLimited) {
  StartServer(http::ServerOptions{}, GraphqlWsOptions{.max_operations = 2});
  WsClient c(port());
  c.Init();
  c.Subscribe("1", "subscription { catalogueChanged { kind } }");
  c.Subscribe("2", "subscription { catalogueChanged { kind } }");
  c.Subscribe("3", "subscription { catalogueChanged { kind } }");
  Frame f = c.Read();
  ASSERT_EQ(WsClient::Type(f), "error") << f.text;
  EXPECT_EQ(Json(*f.json.Find("id")), "\"3\"");
  EXPECT_NE(f.text.find("at most 2"), std::string::npos) << f.text;
  ASSERT_TRUE(testing::WaitUntil([&] { return hub_->stats().subscriptions == 2; }, 10s));
}

TEST_F(GraphqlWsTest, ConnectionsPerServerAreLimited) {
  StartServer(http::ServerOptions{.ws_max_connections = 1});
  WsClient a(port());
  a.Init();
  // A second upgrade, sent by hand to read the HTTP answer.
  asio::io_context ioc;
  asio::ip::tcp::socket socket(ioc);
  socket.connect({asio::ip::make_address("127.0.0.1"), port()});
  beast::http::request<beast::http::string_body> req{beast::http::verb::get, "/graphql", 11};
  req.set(beast::http::field::host, "localhost");
  req.set(beast::http::field::connection, "Upgrade");
  req.set(beast::http::field::upgrade, "websocket");
  req.set(beast::http::field::sec_websocket_version, "13");
  req.set(beast::http::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
  req.set(beast::http::field::sec_websocket_protocol, "graphql-transport-ws");
  beast::http::write(socket, req);
  beast::flat_buffer buffer;
  beast::http::response<beast::http::string_body> res;
  beast::http::read(socket, buffer, res);
  EXPECT_EQ(res.result_int(), 503);
  EXPECT_EQ(res[beast::http::field::retry_after], "1");
  EXPECT_EQ(server_->websocket_stats().refused_full, 1u);
}

TEST_F(GraphqlWsTest, ASlowConsumerIsDroppedWithBoundedMemory) {
  StartServer(http::ServerOptions{.ws_max_queued_bytes = 64 << 10, .ws_close_timeout = 1000ms});
  WsClient slow(port());
  slow.Init();
  slow.ShrinkReceiveBuffer();
  slow.Subscribe("s", "subscription { catalogueChanged { kind animeId changeId version } }");
  ASSERT_TRUE(testing::WaitUntil([&] { return hub_->stats().subscriptions == 1; }, 10s));
  // Never read again: pushes until the server gives up on it (kernel buffers fill first).
  bool dropped = testing::WaitUntil(
      [&] {
        for (int i = 0; i < 200; ++i) source_.Push(kFma, "AnimeUpdated", R"({"version":8})");
        return server_->websocket_stats().slow_consumers == 1;
      },
      60s);
  ASSERT_TRUE(dropped);
  ASSERT_TRUE(testing::WaitUntil([&] { return hub_->stats().subscriptions == 0; }, 10s));
  EXPECT_TRUE(testing::WaitUntil([&] { return server_->websocket_stats().open == 0; }, 10s));
}

TEST_F(GraphqlWsTest, StoppingTheServerClosesSubscribersWithGoingAway) {
  StartServer();
  WsClient c(port());
  c.Init();
  c.Subscribe("s", "subscription { catalogueChanged { kind } }");
  ASSERT_TRUE(testing::WaitUntil([&] { return hub_->stats().subscriptions == 1; }, 10s));
  std::thread stop([&] { server_->Stop(); });
  Frame f = c.Read();
  stop.join();
  EXPECT_EQ(WsClient::Type(f), "closed 1001");
}

// RFC 6455 §7.4.1: 1009 for a message too big to process. The close frame must reach the client
// even when the message is many times larger than the socket buffers (the rest of it is still
// arriving when the server closes); a message within the limit is served, and so are the next
// connections.
TEST_F(GraphqlWsTest, AMessageOverTheLimitIsClosedWith1009) {
  http::ServerOptions so;
  so.ws_max_message = 64 * 1024;
  StartServer(so);
  auto init = [](size_t pad) {
    return R"({"type":"connection_init","payload":{"pad":")" + std::string(pad, 'x') + R"("}})";
  };
  {
    WsClient c(port());
    c.Send(init(60 * 1024));
    EXPECT_EQ(WsClient::Type(c.Read()), "connection_ack");
  }
  for (size_t pad : {size_t{64 * 1024}, size_t{8} << 20}) {
    WsClient c(port());
    c.Send(init(pad));
    EXPECT_EQ(WsClient::Type(c.Read()), "closed 1009") << pad << " bytes";
  }
  WsClient after(port());
  after.Init();
  after.Subscribe("s", "subscription { catalogueChanged { kind } }");
  ASSERT_TRUE(testing::WaitUntil([&] { return hub_->stats().subscriptions == 1; }, 10s));
}

// The docs' kind table: a saga's confirmation requests are not changes, except the removal's,
// which hides the anime; asked again (attempt 2, 3) it is not a second removal. A compensated
// merge changed nothing a subscriber sees.
TEST(SubscriptionEvents, ARemovalIsReportedOnceHoweverOftenItsConfirmationIsAsked) {
  auto removed =
      SubscriptionHub::EventsOf(kFma, "AnimeRemoved", R"({"attempt":1,"reason":"r"})", 1);
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0].Find("kind")->AsString(), "REMOVED");
  EXPECT_EQ(removed[0].Find("animeId")->AsString(), kFma);
  EXPECT_TRUE(
      SubscriptionHub::EventsOf(kFma, "AnimeRemoved", R"({"attempt":2,"reason":"r"})", 2).empty());
  EXPECT_TRUE(SubscriptionHub::EventsOf(kFma, "AnimeMerged", R"({"attempt":1})", 3).empty());
  EXPECT_TRUE(SubscriptionHub::EventsOf(kFma, "AnimeMergeReverted", "{}", 4).empty());
  auto restored = SubscriptionHub::EventsOf(kFma, "AnimeRemovalReverted", "{}", 5);
  ASSERT_EQ(restored.size(), 1u);
  EXPECT_EQ(restored[0].Find("kind")->AsString(), "RESTORED");
}

}  // namespace
}  // namespace psvc::api

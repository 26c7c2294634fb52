// gRPC over TLS with optional client certificates (mTLS): a verified certificate stands in for
// a bearer token on the write service; one from another CA is refused in the handshake.
// Certificates are made at test time by tests/tls/make_test_pki.sh (openssl CLI).
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "anime/write/v1/write_service.grpc.pb.h"
#include "auth/auth.h"
#include "grpc_api/grpc_server.h"
#include "grpc_api/write_service.h"
#include "db/pool.h"
#include "testing/test_database.h"
#include "write/event_applier.h"

namespace psvc::api {
namespace {

namespace pb = anime::write::v1;
namespace ev = anime::events::v1;
using namespace std::chrono_literals;

constexpr const char* kToken = "tls-test-token-0123456789";

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A throwaway CA, server and client certificates in a temporary folder.
class Pki {
 public:
  Pki() {
    char tmpl[] = "/tmp/psvc-pki-XXXXXX";
    dir_ = mkdtemp(tmpl);
    std::string cmd = "bash " PSVC_SOURCE_DIR "/tests/tls/make_test_pki.sh " + dir_.string();
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("make_test_pki.sh failed");
  }
  ~Pki() { std::filesystem::remove_all(dir_); }
  std::string path(const char* name) const { return (dir_ / name).string(); }
  std::string pem(const char* name) const { return ReadFile(dir_ / name); }

 private:
  std::filesystem::path dir_;
};

ev::EventEnvelope Enriched(int n) {
  char id[40];
  ev::EventEnvelope env;
  std::snprintf(id, sizeof id, "00000000-0000-4000-8000-%012x", 0x900000 + n);
  env.set_event_id(id);
  env.mutable_occurred_at()->set_seconds(1700000000 + n);
  env.set_producer("test");
  env.set_schema_version(1);
  auto* a = env.mutable_anime_enriched();
  std::snprintf(id, sizeof id, "00000000-0000-4000-8000-%012x", n);
  a->set_anime_id(id);
  a->mutable_fields()->set_title("Anime " + std::to_string(n));
  a->mutable_fields()->set_type(ev::ANIME_TYPE_TV);
  a->mutable_fields()->set_year(2010);
  a->mutable_fields()->set_season(ev::SEASON_FALL);
  return env;
}

class GrpcTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { pki_ = std::make_unique<Pki>(); }
  static void TearDownTestSuite() { pki_.reset(); }

  void SetUp() override {
    pool_ = std::make_unique<db::Pool>(db::PoolOptions{.url = tdb_.url(), .size = 2});
    applier_ = std::make_unique<write::EventApplier>(*pool_);
    server_ =
        std::make_unique<GrpcServer>(GrpcServerOptions{.address = "127.0.0.1:0",
                                                       .tls_cert_file = pki_->path("server.pem"),
                                                       .tls_key_file = pki_->path("server.key"),
                                                       .tls_client_ca_file = pki_->path("ca.pem")});
    RegisterWriteService(*server_, *applier_, nullptr, &tokens_);
    server_->Start();
    conn_.emplace(tdb_.Connect());
  }

  std::shared_ptr<grpc::ChannelCredentials> Tls(const char* client = nullptr) {
    grpc::SslCredentialsOptions o;
    o.pem_root_certs = pki_->pem("ca.pem");
    if (client) {
      o.pem_cert_chain = pki_->pem((std::string(client) + ".pem").c_str());
      o.pem_private_key = pki_->pem((std::string(client) + ".key").c_str());
    }
    return grpc::SslCredentials(o);
  }

  grpc::Status Apply(std::shared_ptr<grpc::ChannelCredentials> creds, int n,
                     const char* token = nullptr) {
    // "localhost" is the name the server certificate carries.
    auto stub = pb::PostgresWriteService::NewStub(
        grpc::CreateChannel("localhost:" + std::to_string(server_->port()), creds));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    if (token) ctx.AddMetadata("authorization", std::string("Bearer ") + token);
    pb::ApplyEventRequest req;
    *req.mutable_event() = Enriched(n);
    pb::ApplyEventResponse resp;
    return stub->ApplyEvent(&ctx, req, &resp);
  }

  int64_t Anime() { return conn_->Exec("SELECT count(*) FROM anime").GetInt64(0, 0); }

  static std::unique_ptr<Pki> pki_;  // one PKI for the suite: key generation is the slow part
  testing::TestDatabase tdb_;
  BearerTokens tokens_{{kToken}};
  std::unique_ptr<db::Pool> pool_;
  std::unique_ptr<write::EventApplier> applier_;
  std::unique_ptr<GrpcServer> server_;
  std::optional<db::Connection> conn_;
};

std::unique_ptr<Pki> GrpcTlsTest::pki_;

TEST_F(GrpcTlsTest, WithoutCertificateOrTokenAWriteIsUnauthenticatedAndWritesNothing) {
  auto s = Apply(Tls(), 1);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  EXPECT_EQ(Anime(), 0);
}

TEST_F(GrpcTlsTest, AVerifiedClientCertificateAuthorizesWrites) {
  auto s = Apply(Tls("client"), 2);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(Anime(), 1);
}

TEST_F(GrpcTlsTest, ABearerTokenStillWorksOverTlsWithoutACertificate) {
  auto s = Apply(Tls(), 3, kToken);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(Anime(), 1);
}

TEST_F(GrpcTlsTest, ACertificateFromAnotherCaFailsTheHandshake) {
  auto s = Apply(Tls("rogue"), 4, kToken);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_EQ(Anime(), 0);
}

TEST_F(GrpcTlsTest, PlaintextClientsCannotTalkToTheTlsPort) {
  auto s = Apply(grpc::InsecureChannelCredentials(), 5, kToken);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_EQ(Anime(), 0);
}

TEST_F(GrpcTlsTest, BadTlsSettingsFailStartUpNamingTheSetting) {
  auto start = [](GrpcServerOptions o) {
    o.address = "127.0.0.1:0";
    GrpcServer server(o);
    try {
      server.Start();
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("started");
  };
  EXPECT_NE(start({.tls_cert_file = pki_->path("server.pem")}).find("--tls-key"),
            std::string::npos);
  EXPECT_NE(start({.tls_cert_file = "/nonexistent.pem", .tls_key_file = pki_->path("server.key")})
                .find("--tls-cert: cannot read a PEM file at /nonexistent.pem"),
            std::string::npos);
  EXPECT_NE(start({.tls_client_ca_file = pki_->path("ca.pem")}).find("--tls-client-ca"),
            std::string::npos);
}

}  // namespace
}  // namespace psvc::api

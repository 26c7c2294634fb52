// Sagas driven by the real binary: `postgres-service serve` processes (PostgreSQL + NATS of the
// local stack) are killed with SIGKILL in the middle of a MergeAnime saga, a second process
// resumes it, and the test participant (playing the Qdrant Sync Service) confirms or refuses.
// Also the operator CLI `saga start merge|remove`. The binary comes from PSVC_BINARY (set by
// CTest to the postgres-service target).
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <thread>

#include "anime/write/v1/write_service.grpc.pb.h"
#include "db/connection.h"
#include "saga/saga_test_support.h"
#include "testing/child_process.h"
#include "testing/test_database.h"

namespace psvc::saga {
namespace {

namespace pb = anime::write::v1;
using namespace std::chrono_literals;
using namespace fixture;

std::string Binary() {
  const char* bin = std::getenv("PSVC_BINARY");
  if (!bin || !*bin) {
    ADD_FAILURE() << "PSVC_BINARY is not set (CTest sets it to the postgres-service binary)";
    return "postgres-service";
  }
  return bin;
}

using Process = psvc::testing::ChildProcess;

/// A `postgres-service` child process (PSVC_BINARY) with stdout and stderr in `log`.
std::unique_ptr<Process> Spawn(const std::vector<std::string>& args,
                               const std::filesystem::path& log) {
  std::vector<std::string> argv{Binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return std::make_unique<Process>(argv, log);
}

/// Runs the binary to completion; returns its exit code (-1: killed after 15 s), its output
/// (stdout + stderr) in `out`.
int RunCli(const std::vector<std::string>& args, std::string& out,
           const std::filesystem::path& log) {
  auto p = Spawn(args, log);
  int code = p->Wait(15s);
  out = p->Log();
  return code;
}

/// POSTs a GraphQL document to 127.0.0.1:<port>/graphql; returns the response body ("" on
/// failure). One request per connection (Connection: close), read to EOF.
std::string PostGraphql(int port, const std::string& query) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    std::string body = "{\"query\":\"" + query + "\"}";
    std::string req =
        "POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        "Connection: close\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\n\r\n" + body;
    if (write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
      char buf[4096];
      for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
    }
  }
  close(fd);
  auto p = out.find("\r\n\r\n");
  return p == std::string::npos ? "" : out.substr(p + 4);
}

class SagaProcessTest : public ::testing::Test {
 protected:
  SagaProcessTest() : conn_(tdb_.Connect()) {
    std::string n = tdb_.name();
    for (char& c : n) c = static_cast<char>(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
    name_ = n;
    dir_ = std::filesystem::temp_directory_path() / ("psvc_" + n);
    std::filesystem::create_directories(dir_);
    SeedCatalogue(conn_);
    participant_ = std::make_unique<Participant>("t." + n + ".changes");
  }
  ~SagaProcessTest() override {
    processes_.clear();
    participant_.reset();
    DeleteStreams({"T_SAGAP_" + name_, "T_SAGAP_IN_" + name_});
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  /// Starts `serve` on free ports with this test's NATS subjects and short saga timings;
  /// returns once it listens.
  Process& Serve() {
    int index = static_cast<int>(processes_.size());
    auto log = dir_ / ("serve" + std::to_string(index) + ".log");
    // clang-format off
    std::vector<std::string> args = {
        "serve", "--database-url", tdb_.url(), "--nats-url", NatsUrl(),
        "--grpc-address", "127.0.0.1:0", "--http-port", "0",
        "--changes-stream", "T_SAGAP_" + name_, "--changes-prefix", "t." + name_ + ".changes",
        "--ingest-stream", "T_SAGAP_IN_" + name_, "--ingest-subjects", "t." + name_ + ".ingest.>",
        "--ingest-durable", "d_" + name_, "--dead-letter-subject", "t." + name_ + ".dlq",
        "--saga-reply-prefix", "t." + name_ + ".replies",
        "--saga-lease-ms", "3000", "--saga-reply-timeout-ms", "1500",
        "--log-format", "text", "--pool-size", "4", "--read-pool-size", "2"};
    // clang-format on
    processes_.push_back(Spawn(args, log));
    Process& p = *processes_.back();
    std::smatch m;
    static const std::regex kGrpc("gRPC on ([0-9.]+:[0-9]+)");
    std::string text;
    bool up = WaitUntil(
        [&] {
          text = p.Log();
          return std::regex_search(text, m, kGrpc) || !p.Alive();
        },
        20s);
    EXPECT_TRUE(up && p.Alive()) << "serve did not start:\n" << text;
    if (std::regex_search(text, m, kGrpc)) grpc_address_ = m[1];
    static const std::regex kHttp("HTTP on http://127\\.0\\.0\\.1:([0-9]+)");
    if (std::regex_search(text, m, kHttp)) http_port_ = std::stoi(m[1]);
    return p;
  }

  std::string StartMergeOverGrpc(const std::string& request_id) {
    auto stub = pb::PostgresWriteService::NewStub(
        grpc::CreateChannel(grpc_address_, grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    pb::StartMergeAnimeRequest req;
    req.set_request_id(request_id);
    req.set_duplicate_id(kA);
    req.set_survivor_id(kB);
    pb::StartSagaResponse resp;
    auto status = stub->StartMergeAnime(&ctx, req, &resp);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_TRUE(resp.created());
    return resp.saga_id();
  }

  std::string Scalar(const std::string& sql) {
    auto res = conn_.Exec(sql);
    return res.rows() && !res.IsNull(0, 0) ? std::string(res.Get(0, 0)) : "";
  }
  int64_t Count(const std::string& sql) { return std::stoll(Scalar(sql)); }
  std::string Status(const std::string& saga_id) {
    return Scalar("SELECT status FROM saga WHERE id = '" + saga_id + "'");
  }
  bool WaitStatus(const std::string& saga_id, const std::string& status) {
    return WaitUntil([&] { return Status(saga_id) == status; }, 30s);
  }
  std::string Logs() {
    std::string out;
    for (auto& p : processes_) out += "---- serve log\n" + p->Log();
    return out;
  }

  int Cli(const std::vector<std::string>& args, std::string& out) {
    std::vector<std::string> full = args;
    full.push_back("--database-url");
    full.push_back(tdb_.url());
    return RunCli(full, out, dir_ / ("cli" + std::to_string(++cli_runs_) + ".log"));
  }

  psvc::testing::TestDatabase tdb_;
  db::Connection conn_;
  std::string name_;
  std::filesystem::path dir_;
  std::unique_ptr<Participant> participant_;
  std::vector<std::unique_ptr<Process>> processes_;
  std::string grpc_address_;
  int http_port_ = 0;
  int cli_runs_ = 0;
};

// Crash between step (a) and its confirmation: step (a) is committed (it changes no catalogue
// row), the AnimeMerged request is out, nobody answered. The next process asks again once the reply
// deadline has passed.
TEST_F(SagaProcessTest, KilledWhileAwaitingConfirmationIsResumedAndCompletes) {
  participant_->set_mode(Participant::Mode::kSilent);
  auto& first = Serve();
  std::string id = StartMergeOverGrpc("kill-await");
  ASSERT_TRUE(WaitUntil([&] { return participant_->Requests("AnimeMerged") >= 1; }, 15s)) << Logs();
  EXPECT_EQ(first.Kill(), SIGKILL);
  // Half-way: unconfirmed, still running, nothing moved yet.
  EXPECT_EQ(Scalar("SELECT count(*) FROM anime_character WHERE anime_id = '" + kA + "'"), "2");
  EXPECT_EQ(Status(id), "RUNNING");
  EXPECT_EQ(Scalar("SELECT status FROM saga_step WHERE saga_id = '" + id + "' AND step_index = 1"),
            "AWAITING");

  participant_->set_mode(Participant::Mode::kConfirm);
  Serve();
  ASSERT_TRUE(WaitStatus(id, "COMPLETED")) << Status(id) << "\n" << Logs();
  ExpectMerged(conn_);
  // The redirect through the restarted service's GraphQL API; search finds only the survivor.
  std::string body =
      PostGraphql(http_port_, "{ anime(id: \\\"" + kA +
                                  "\\\") { id } search(query: \\\"show\\\", limit: 10) "
                                  "{ node { ... on Anime { id } } } }");
  EXPECT_NE(body.find("\"anime\":{\"id\":\"" + kB + "\"}"), std::string::npos) << body;
  EXPECT_NE(body.find("\"search\":[{"), std::string::npos) << body;
  EXPECT_EQ(body.find("\"id\":\"" + kA + "\""), std::string::npos) << body;
  EXPECT_EQ(
      Count("SELECT count(*) FROM saga_step WHERE saga_id = '" + id + "' AND status = 'DONE'"), 3);
}

// Crash inside step (c): the finalize transaction is blocked (the test holds a lock it needs),
// the process holds the saga's lease when it dies. The next process must wait for the lease to
// expire, then finalize exactly once.
TEST_F(SagaProcessTest, KilledMidStepLosesItsLeaseAndTheNextProcessFinishes) {
  auto blocker = tdb_.Connect();
  blocker.Exec("BEGIN");
  blocker.Exec("LOCK TABLE anime_redirect IN SHARE ROW EXCLUSIVE MODE");
  auto& first = Serve();
  std::string id = StartMergeOverGrpc("kill-finalize");
  ASSERT_TRUE(WaitUntil(
      [&] {
        return Count(
                   "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                   "WHERE NOT l.granted AND d.datname = current_database() AND "
                   "l.relation = 'anime_redirect'::regclass") > 0;
      },
      15s))
      << "finalize never reached the lock\n"
      << Logs();
  EXPECT_EQ(Scalar("SELECT current_step FROM saga WHERE id = '" + id + "'"), "2");
  std::string owner = Scalar("SELECT lease_owner FROM saga WHERE id = '" + id + "'");
  std::string expires = Scalar("SELECT lease_expires_at FROM saga WHERE id = '" + id + "'");
  EXPECT_FALSE(owner.empty());
  EXPECT_EQ(first.Kill(), SIGKILL);
  blocker.Exec("ROLLBACK");
  // The dead process's transaction never commits: nothing of finalize is visible.
  EXPECT_EQ(Count("SELECT count(*) FROM anime WHERE id = '" + kA + "'"), 1);

  Serve();
  ASSERT_TRUE(WaitStatus(id, "COMPLETED")) << Status(id) << "\n" << Logs();
  ExpectMerged(conn_);
  EXPECT_EQ(Scalar("SELECT finished_at >= '" + expires + "'::timestamptz FROM saga WHERE id = '" +
                   id + "'"),
            "t")
      << "taken over before the dead process's lease expired";
  EXPECT_EQ(Count("SELECT count(*) FROM qdrant_outbox WHERE event_type = 'AnimeMerged'"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM anime_redirect"), 1);
}

// A refusal that arrives after the restart: every row is as it was (the merge changes nothing
// before its confirmation, so there is nothing to restore).
TEST_F(SagaProcessTest, RefusalAfterRestartLeavesEveryRowAsItWas) {
  auto before = DumpSagaTables(conn_);
  participant_->set_mode(Participant::Mode::kSilent);
  auto& first = Serve();
  std::string id = StartMergeOverGrpc("kill-refuse");
  ASSERT_TRUE(WaitUntil([&] { return participant_->Requests("AnimeMerged") >= 1; }, 15s)) << Logs();
  EXPECT_EQ(first.Kill(), SIGKILL);
  EXPECT_EQ(DumpSagaTables(conn_), before);

  participant_->set_mode(Participant::Mode::kRefuse);
  Serve();
  ASSERT_TRUE(WaitStatus(id, "COMPENSATED")) << Status(id) << "\n" << Logs();
  EXPECT_EQ(DumpSagaTables(conn_), before);
  EXPECT_EQ(Count("SELECT count(*) FROM qdrant_outbox WHERE event_type = 'AnimeMergeReverted'"), 1);
  EXPECT_NE(Scalar("SELECT last_error FROM saga WHERE id = '" + id + "'").find("refused"),
            std::string::npos);
}

TEST_F(SagaProcessTest, CliStartsSagasIdempotentlyAndTheServiceDrivesThem) {
  std::string out;
  ASSERT_EQ(
      Cli({"saga", "start", "merge", "--duplicate", kA, "--survivor", kB, "--request-id", "ops-1"},
          out),
      0)
      << out;
  std::smatch m;
  ASSERT_TRUE(
      std::regex_search(out, m, std::regex("^started ([0-9a-f-]{36}) \\(request id ops-1\\)")))
      << out;
  std::string merge = m[1];
  ASSERT_EQ(
      Cli({"saga", "start", "merge", "--duplicate", kA, "--survivor", kB, "--request-id", "ops-1"},
          out),
      0)
      << out;
  EXPECT_EQ(out, "already started " + merge + " (request id ops-1)\n");

  ASSERT_EQ(Cli({"saga", "start", "remove", "--anime", kE, "--reason", "takedown #7"}, out), 0)
      << out;
  ASSERT_TRUE(std::regex_search(
      out, m, std::regex("^started ([0-9a-f-]{36}) \\(request id (cli-[0-9a-f]+)\\)")))
      << out;
  std::string remove = m[1];
  std::string remove_request = m[2];
  ASSERT_EQ(Cli({"saga", "start", "remove", "--anime", kE, "--reason", "takedown #7",
                 "--request-id", remove_request},
                out),
            0);
  EXPECT_EQ(out, "already started " + remove + " (request id " + remove_request + ")\n");

  // Refusals: a clear message, exit 1, nothing started.
  EXPECT_EQ(Cli({"saga", "start", "merge", "--duplicate", kC, "--survivor", kC}, out), 1);
  EXPECT_NE(out.find("cannot be merged into itself"), std::string::npos) << out;
  EXPECT_EQ(Cli({"saga", "start", "merge", "--duplicate", kC, "--survivor", kUnknown}, out), 1);
  EXPECT_NE(out.find("no anime with id " + kUnknown), std::string::npos) << out;
  EXPECT_EQ(Cli({"saga", "start", "merge", "--duplicate", kB, "--survivor", kC}, out), 1);
  EXPECT_NE(out.find("unfinished saga " + merge), std::string::npos) << out;
  EXPECT_EQ(
      Cli({"saga", "start", "merge", "--duplicate", kC, "--survivor", kD, "--request-id", "ops-1"},
          out),
      1);
  EXPECT_NE(out.find("already used"), std::string::npos) << out;
  EXPECT_NE(Cli({"saga", "start", "remove", "--anime", kF}, out), 0);  // --reason is required
  EXPECT_EQ(Count("SELECT count(*) FROM saga"), 2);

  // Nothing drives them until a service runs.
  EXPECT_EQ(Status(merge), "RUNNING");
  EXPECT_EQ(Scalar("SELECT merged_into FROM anime WHERE id = '" + kA + "'"), "");
  Serve();
  ASSERT_TRUE(WaitStatus(merge, "COMPLETED")) << Status(merge) << "\n" << Logs();
  ASSERT_TRUE(WaitStatus(remove, "COMPLETED")) << Status(remove) << "\n" << Logs();
  ExpectMerged(conn_);
  EXPECT_EQ(Scalar("SELECT reason FROM anime_tombstone WHERE anime_id = '" + kE + "'"),
            "takedown #7");
  ASSERT_EQ(Cli({"saga", "show", merge}, out), 0) << out;
  EXPECT_NE(out.find("status      COMPLETED"), std::string::npos) << out;
  EXPECT_NE(out.find("request_id  ops-1"), std::string::npos) << out;
}

}  // namespace
}  // namespace psvc::saga

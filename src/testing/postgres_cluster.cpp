#include "testing/postgres_cluster.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include "db/connection.h"
#include "testing/child_process.h"

namespace psvc::testing {

namespace {

std::string PgBin() {
  const char* bin = std::getenv("PSVC_PG_BIN");
  return bin && *bin ? bin : "/usr/lib/postgresql/15/bin";
}

// PostgreSQL refuses to run as root; scripts/stack runs it as `postgres` the same way.
bool AsPostgresUser() { return geteuid() == 0; }

}  // namespace

PostgresCluster::PostgresCluster() : port_(FreeTcpPort()) {
  std::random_device rd;
  dir_ = std::filesystem::path("/var/tmp") /
         ("psvc-pgtest-" + std::to_string(getpid()) + "-" + std::to_string(rd() % 1000000));
  std::filesystem::create_directories(dir_);
  if (AsPostgresUser()) {
    const passwd* pw = getpwnam("postgres");
    if (pw == nullptr) throw std::runtime_error("PostgresCluster: no `postgres` user");
    if (chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      throw std::runtime_error("PostgresCluster: cannot chown " + dir_.string());
    }
  }
  Run("initdb", {"-D", (dir_ / "data").string(), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                 "--locale=C.UTF-8", "--no-sync"});
  Start();
}

PostgresCluster::~PostgresCluster() {
  try {
    Stop();
  } catch (...) {
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void PostgresCluster::Start() {
  Run("pg_ctl", {"-D", (dir_ / "data").string(), "-l", (dir_ / "postgres.log").string(), "-w", "-t",
                 "30", "-o",
                 "-p " + std::to_string(port_) + " -k " + dir_.string() +
                     " -c listen_addresses=127.0.0.1 -c fsync=off",
                 "start"});
}

void PostgresCluster::Stop() {
  Run("pg_ctl", {"-D", (dir_ / "data").string(), "-m", "immediate", "-w", "stop"});
}

std::string PostgresCluster::CreateDatabase(const std::string& name) {
  std::string base = "postgresql://postgres@127.0.0.1:" + std::to_string(port_);
  db::Connection::Open(base + "/postgres").Exec("CREATE DATABASE " + name);
  return base + "/" + name;
}

std::string PostgresCluster::Log() const {
  std::ifstream in(dir_ / "postgres.log");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void PostgresCluster::Run(const std::string& program, std::vector<std::string> args) {
  std::vector<std::string> argv;
  if (AsPostgresUser()) argv = {"runuser", "-u", "postgres", "--"};
  argv.push_back(PgBin() + "/" + program);
  argv.insert(argv.end(), args.begin(), args.end());
  auto log = dir_ / (program + ".out");
  if (RunProgram(argv, log, std::chrono::seconds(60)) != 0) {
    std::ifstream in(log);
    std::stringstream ss;
    ss << in.rdbuf();
    throw std::runtime_error(program + " failed: " + ss.str());
  }
}

}  // namespace psvc::testing

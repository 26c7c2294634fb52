#pragma once
/// A private PostgreSQL 15 cluster for one test: stopped and started again to inject database
/// outages without disturbing the shared stack that other tests use at the same time.

#include <filesystem>
#include <string>
#include <vector>

namespace psvc::testing {

/// initdb in a fresh directory (as the `postgres` user when running as root), started on a
/// free loopback port with trust authentication and fsync off. Removed on destruction.
class PostgresCluster {
 public:
  PostgresCluster();
  PostgresCluster(const PostgresCluster&) = delete;
  PostgresCluster& operator=(const PostgresCluster&) = delete;
  ~PostgresCluster();

  void Start();
  /// `pg_ctl stop -m immediate`: backends die at once, as in a crash.
  void Stop();
  /// A new database `name`, owned by the superuser; returns its libpq URI.
  std::string CreateDatabase(const std::string& name);
  int port() const { return port_; }
  std::string Log() const;

 private:
  /// Runs a PostgreSQL program (pg_ctl, initdb, psql) as the cluster's owner; throws on failure.
  void Run(const std::string& program, std::vector<std::string> args);

  std::filesystem::path dir_;
  int port_ = 0;
};

}  // namespace psvc::testing

#pragma once
/// Per-test PostgreSQL databases cloned from a migrated template (for *_pgtest.cpp).

#include <string>

#include "db/connection.h"

namespace psvc::testing {

/// Admin URL of the local stack (PSVC_ADMIN_DATABASE_URL); fails the test run loudly when
/// unset, because a skipped integration test proves nothing.
std::string AdminUrl();
/// Replaces the database name of a libpq URI.
std::string WithDatabase(const std::string& url, const std::string& dbname);

/// A fresh database for one test. With `migrated` it is a clone of a template database that
/// has every embedded migration applied (created once per migrations checksum, shared by all
/// test binaries); otherwise it is empty. Dropped on destruction.
class TestDatabase {
 public:
  explicit TestDatabase(bool migrated = true);
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;
  ~TestDatabase();

  const std::string& name() const { return name_; }
  /// libpq URI of this database (owner role).
  const std::string& url() const { return url_; }
  db::Connection Connect() const;

 private:
  std::string name_;
  std::string url_;
};

}  // namespace psvc::testing

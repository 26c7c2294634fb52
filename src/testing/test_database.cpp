#include "testing/test_database.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <random>
#include <stdexcept>

#include "db/error.h"
#include "db/migrator.h"

namespace psvc::testing {

namespace {

std::string TemplateName() {
  // A new template whenever any migration changes, so stale templates are never reused.
  uint64_t h = 1469598103934665603ull;
  for (const auto& f : db::EmbeddedMigrations()) {
    for (char c : f.checksum) {
      h ^= static_cast<unsigned char>(c);
      h *= 1099511628211ull;
    }
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "psvc_tmpl_%012llx", static_cast<unsigned long long>(h >> 16));
  return buf;
}

void EnsureTemplate(db::Connection& admin, const std::string& tmpl) {
  // Several test binaries may start at once (ctest -j): serialize template creation.
  admin.Exec("SELECT pg_advisory_lock(hashtext('psvc_test_template'))");
  try {
    auto exists =
        admin.Query("SELECT 1 FROM pg_database WHERE datname = $1 AND datistemplate", {tmpl});
    if (exists.rows() == 0) {
      admin.Exec("DROP DATABASE IF EXISTS " + db::QuoteIdentifier(tmpl));
      admin.Exec("CREATE DATABASE " + db::QuoteIdentifier(tmpl));
      {
        auto conn = db::Connection::Open(WithDatabase(AdminUrl(), tmpl));
        db::Migrator(conn, db::EmbeddedMigrations()).Apply();
      }
      admin.Exec("ALTER DATABASE " + db::QuoteIdentifier(tmpl) + " WITH IS_TEMPLATE true");
    }
  } catch (...) {
    admin.Exec("SELECT pg_advisory_unlock(hashtext('psvc_test_template'))");
    throw;
  }
  admin.Exec("SELECT pg_advisory_unlock(hashtext('psvc_test_template'))");
}

}  // namespace

std::string AdminUrl() {
  const char* url = std::getenv("PSVC_ADMIN_DATABASE_URL");
  if (!url || !*url) {
    throw std::runtime_error(
        "PSVC_ADMIN_DATABASE_URL is not set: start the local stack and run "
        "`eval \"$(scripts/stack env)\"` (scripts/test does both)");
  }
  return url;
}

std::string WithDatabase(const std::string& url, const std::string& dbname) {
  // postgresql://user@host:port/db?params
  auto scheme = url.find("://");
  if (scheme == std::string::npos) throw std::runtime_error("expected a libpq URI: " + url);
  auto slash = url.find('/', scheme + 3);
  auto query = url.find('?', scheme + 3);
  std::string base = url.substr(0, slash == std::string::npos ? query : slash);
  std::string params = query == std::string::npos ? "" : url.substr(query);
  return base + "/" + dbname + params;
}

TestDatabase::TestDatabase(bool migrated) {
  static std::atomic<int> counter{0};
  std::random_device rd;
  name_ = "psvc_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++) + "_" +
          std::to_string(rd() % 100000);
  auto admin = db::Connection::Open(AdminUrl());
  admin.Exec("SET client_min_messages = warning");
  if (migrated) {
    std::string tmpl = TemplateName();
    EnsureTemplate(admin, tmpl);
    admin.Exec("CREATE DATABASE " + db::QuoteIdentifier(name_) + " TEMPLATE " +
               db::QuoteIdentifier(tmpl));
  } else {
    admin.Exec("CREATE DATABASE " + db::QuoteIdentifier(name_));
  }
  url_ = WithDatabase(AdminUrl(), name_);
}

TestDatabase::~TestDatabase() {
  try {
    auto admin = db::Connection::Open(AdminUrl());
    admin.Exec("SET client_min_messages = warning");
    admin.Exec("DROP DATABASE IF EXISTS " + db::QuoteIdentifier(name_) + " WITH (FORCE)");
  } catch (...) {
    // A leftover test database is harmless; scripts/test drops them before a run.
  }
}

db::Connection TestDatabase::Connect() const { return db::Connection::Open(url_); }

}  // namespace psvc::testing

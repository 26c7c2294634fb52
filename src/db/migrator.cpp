#include "db/migrator.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "db/error.h"

namespace psvc::db {

namespace {

constexpr const char* kCreateTable = R"sql(
CREATE TABLE IF NOT EXISTS schema_migrations (
  version      integer PRIMARY KEY,
  filename     text NOT NULL,
  checksum     text NOT NULL,
  applied_at   timestamptz NOT NULL DEFAULT now(),
  execution_ms integer NOT NULL
))sql";

// Any constant shared by all instances; hashtext keeps it readable.
constexpr const char* kLock = "SELECT pg_advisory_lock(hashtext('postgres_service.migrate'))";
constexpr const char* kUnlock = "SELECT pg_advisory_unlock(hashtext('postgres_service.migrate'))";

std::string Fnv1a64Hex(std::string_view data) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

struct Applied {
  std::string filename, checksum, applied_at;
};

std::map<int, Applied> ReadApplied(Connection& conn) {
  std::map<int, Applied> out;
  auto res = conn.Exec(
      "SELECT version, filename, checksum, to_char(applied_at, 'YYYY-MM-DD HH24:MI:SS') "
      "FROM schema_migrations ORDER BY version");
  for (int r = 0; r < res.rows(); ++r) {
    out[static_cast<int>(res.GetInt64(r, 0))] = {std::string(res.Get(r, 1)),
                                                  std::string(res.Get(r, 2)),
                                                  std::string(res.Get(r, 3))};
  }
  return out;
}

/// Holds the migration advisory lock for its lifetime.
class MigrationLock {
 public:
  explicit MigrationLock(Connection& conn) : conn_(conn) { conn_.Exec(kLock); }
  ~MigrationLock() {
    try {
      if (conn_.IdleOutsideTransaction()) conn_.Exec(kUnlock);
    } catch (...) {
      // Session locks die with the session anyway.
    }
  }

 private:
  Connection& conn_;
};

}  // namespace

MigrationFile MakeMigration(std::string filename, std::string sql) {
  static const std::regex kName(R"(^(\d+)_[A-Za-z0-9_]+\.sql$)");
  std::smatch m;
  if (!std::regex_match(filename, m, kName)) {
    throw MigrationError("migration file name must look like 0001_name.sql: " + filename);
  }
  MigrationFile f;
  f.version = std::stoi(m[1].str());
  f.checksum = Fnv1a64Hex(sql);
  f.filename = std::move(filename);
  f.sql = std::move(sql);
  return f;
}

std::vector<MigrationFile> LoadMigrations(const std::filesystem::path& dir) {
  if (!std::filesystem::is_directory(dir)) {
    throw MigrationError("migrations directory not found: " + dir.string());
  }
  std::vector<MigrationFile> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".sql") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    files.push_back(MakeMigration(entry.path().filename().string(), ss.str()));
  }
  return files;
}

Migrator::Migrator(Connection& conn, std::vector<MigrationFile> files)
    : conn_(conn), files_(std::move(files)) {
  std::sort(files_.begin(), files_.end(),
            [](const auto& a, const auto& b) { return a.version < b.version; });
  for (size_t i = 1; i < files_.size(); ++i) {
    if (files_[i].version == files_[i - 1].version) {
      throw MigrationError("two migrations share version " + std::to_string(files_[i].version) +
                           ": " + files_[i - 1].filename + " and " + files_[i].filename);
    }
  }
}

int Migrator::LatestVersion() const { return files_.empty() ? 0 : files_.back().version; }

void Migrator::EnsureTable() {
  // Concurrent first runs may both try to create the table; the advisory lock is taken
  // first by Apply, and Status tolerates the table being absent.
  conn_.Exec("SET client_min_messages = warning");
  conn_.Exec(kCreateTable);
}

std::vector<MigrationState> Migrator::Status() {
  auto exists = conn_.Exec("SELECT to_regclass('schema_migrations') IS NOT NULL");
  std::map<int, Applied> applied;
  if (exists.GetBool(0, 0)) applied = ReadApplied(conn_);
  std::vector<MigrationState> out;
  std::set<int> known;
  for (const auto& f : files_) {
    known.insert(f.version);
    MigrationState s{f.version, f.filename, false, "", true};
    if (auto it = applied.find(f.version); it != applied.end()) {
      s.applied = true;
      s.applied_at = it->second.applied_at;
      s.checksum_matches = it->second.checksum == f.checksum;
    }
    out.push_back(std::move(s));
  }
  for (const auto& [version, a] : applied) {
    if (!known.contains(version)) out.push_back({version, a.filename, true, a.applied_at, true});
  }
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.version < b.version; });
  return out;
}

bool Migrator::UpToDate() {
  for (const auto& s : Status()) {
    if (!s.applied || !s.checksum_matches) return false;
  }
  return true;
}

int Migrator::Apply(std::ostream* log) {
  MigrationLock lock(conn_);
  EnsureTable();
  auto applied = ReadApplied(conn_);
  // Refuse before applying anything: an edited applied migration means the schema this
  // binary expects may not be the one in the database.
  for (const auto& f : files_) {
    auto it = applied.find(f.version);
    if (it != applied.end() && it->second.checksum != f.checksum) {
      throw MigrationError("migration " + f.filename +
                           " was edited after it was applied (checksum " + f.checksum +
                           ", recorded " + it->second.checksum +
                           "); restore the file and add a new migration instead");
    }
  }
  int count = 0;
  for (const auto& f : files_) {
    if (applied.contains(f.version)) continue;
    auto start = std::chrono::steady_clock::now();
    try {
      Transaction tx(conn_);
      conn_.Exec(f.sql);
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now() - start)
                    .count();
      conn_.Query(
          "INSERT INTO schema_migrations (version, filename, checksum, execution_ms) "
          "VALUES ($1, $2, $3, $4)",
          {std::to_string(f.version), f.filename, f.checksum, std::to_string(ms)});
      tx.Commit();
      if (log) *log << "applied " << f.filename << " (" << ms << " ms)\n";
    } catch (const DbError& e) {
      throw MigrationError("migration " + f.filename + " failed: " + e.what());
    }
    ++count;
  }
  if (log && count == 0) *log << "schema is up to date (version " << LatestVersion() << ")\n";
  return count;
}

}  // namespace psvc::db

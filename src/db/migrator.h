#pragma once
/// Versioned schema migrations: discovery, checksums, status and application.

#include <filesystem>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "db/connection.h"

namespace psvc::db {

/// One migrations/NNNN_name.sql file.
struct MigrationFile {
  int version = 0;
  std::string filename;  ///< e.g. "0001_catalogue.sql"
  std::string sql;
  std::string checksum;  ///< hex FNV-1a 64 of the file's bytes
};

/// Applied and pending state of one migration.
struct MigrationState {
  int version = 0;
  std::string filename;
  bool applied = false;
  std::string applied_at;  ///< empty when pending
  bool checksum_matches = true;
};

/// A refused migration run (edited applied file, duplicate version, failing SQL).
class MigrationError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The migrations compiled into the binary from the repository's migrations/ folder.
const std::vector<MigrationFile>& EmbeddedMigrations();
/// Reads NNNN_name.sql files from a folder (for --migrations-dir and tests).
std::vector<MigrationFile> LoadMigrations(const std::filesystem::path& dir);
/// Builds a MigrationFile from a name and its text, computing version and checksum.
MigrationFile MakeMigration(std::string filename, std::string sql);

/// Applies pending migrations in version order, each in its own transaction, under a
/// session advisory lock so concurrent instances serialize instead of racing.
class Migrator {
 public:
  Migrator(Connection& conn, std::vector<MigrationFile> files);

  /// Every known migration with its state, plus applied versions no file knows about.
  std::vector<MigrationState> Status();
  /// Applies what is pending; returns how many were applied. Throws MigrationError when an
  /// applied file was edited (naming it) and applies nothing in that case.
  int Apply(std::ostream* log = nullptr);
  /// Highest version among the files.
  int LatestVersion() const;
  /// True when every file is applied with a matching checksum.
  bool UpToDate();

 private:
  void EnsureTable();
  Connection& conn_;
  std::vector<MigrationFile> files_;
};

}  // namespace psvc::db

#pragma once
/// Loads generated rows into PostgreSQL with COPY FROM STDIN, in one transaction.

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <stdexcept>
#include <string>
#include <vector>

#include "dataset/generator.h"
#include "dataset/row_sink.h"
#include "db/statement.h"

struct pg_conn;

namespace psvc::dataset {

/// A load that cannot continue (database error, non-empty catalogue); nothing was committed.
class LoadError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// How CopyLoader treats existing data and how chatty it is.
struct LoadOptions {
  /// TRUNCATE the catalogue tables first (same transaction). Without it, a non-empty
  /// catalogue is refused, so a second load never mixes two datasets.
  bool replace = false;
  /// A progress line every this many rows (0: none).
  uint64_t progress_every = 100000;
  /// Names the load in the `CatalogueLoaded` change it commits with (docs/events.md), which
  /// makes every replica following the change feed re-read the whole catalogue.
  std::string source = "generate";
};

/// Rows loaded per table and the wall time of the whole load (including ANALYZE and COMMIT).
struct LoadSummary {
  struct Table {
    std::string name;
    uint64_t rows = 0;
  };
  std::vector<Table> tables;
  uint64_t total_rows = 0;
  double seconds = 0;
};

/// Prints one line per table and a total: "anime  30000 rows" ... "total 1002345 rows in 41.2 s".
void PrintSummary(const LoadSummary& summary, std::ostream& out);

/// RowSink that streams each table through `COPY ... FROM STDIN` (text format) on a libpq
/// connection it does not own. Begin() opens the transaction, Commit() ends it; destroying
/// an uncommitted loader rolls everything back.
class CopyLoader final : public RowSink {
 public:
  CopyLoader(pg_conn* conn, LoadOptions options, std::ostream& progress);
  CopyLoader(const CopyLoader&) = delete;
  CopyLoader& operator=(const CopyLoader&) = delete;
  ~CopyLoader() override;

  /// BEGIN, lock the catalogue tables, refuse non-empty ones (unless replace), TRUNCATE them.
  void Begin();
  void BeginTable(std::string_view table, std::span<const std::string_view> columns) override;
  void Row(std::string_view copy_line) override;
  void EndTable() override;
  /// Announce the load on the change feed (one `CatalogueLoaded` outbox row), ANALYZE the
  /// loaded tables (the planner needs statistics after a bulk load), COMMIT, and return what
  /// was loaded.
  LoadSummary Commit();

 private:
  void Flush();
  void Exec(const std::string& sql);
  [[noreturn]] void Fail(const std::string& what);

  pg_conn* conn_;
  LoadOptions options_;
  std::ostream& progress_;
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point table_started_;
  LoadSummary summary_;
  std::string buffer_;
  bool in_transaction_ = false;
  bool in_copy_ = false;
};

/// The loaders' own SQL (announcing a load), for the prepare-every-statement test.
db::StatementList LoadStatements();

/// Generates the catalogue for `generator` and loads it through a CopyLoader: the one call
/// behind `postgres-service generate`.
LoadSummary LoadSyntheticCatalogue(pg_conn* conn, const GeneratorOptions& generator,
                                   const LoadOptions& load, std::ostream& progress);

}  // namespace psvc::dataset

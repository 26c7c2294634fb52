#include "dataset/copy_loader.h"

#include <libpq-fe.h>

#include <cstdio>
#include <memory>
#include <ostream>

namespace psvc::dataset {
namespace {

// Every catalogue table, including the one the generator never fills, so --replace leaves no
// edge pointing at a vanished anime and TRUNCATE finds no referencing table left out. Entities
// first, so a refusal names the table a reader expects.
constexpr std::string_view kCatalogueTableNames[] = {"anime",
                                                     "character",
                                                     "company",
                                                     "original_work",
                                                     "episode",
                                                     "anime_relation",
                                                     "pending_anime_relation",
                                                     "anime_character",
                                                     "anime_company",
                                                     "anime_original_work_relation",
                                                     "anime_redirect",
                                                     "anime_tombstone"};

std::string TableList() {
  std::string out;
  for (std::string_view t : kCatalogueTableNames) {
    if (!out.empty()) out += ", ";
    out += t;
  }
  return out;
}

// One `CatalogueLoaded` change in the load's transaction (migration 0023): replicas following
// the change feed re-read the whole catalogue after it commits.  $1 source (text)
constexpr db::Statement kAnnounceCatalogueLoad{"dataset.announce_load",
                                               "SELECT announce_catalogue_load($1::text)"};

// Big enough that the per-call overhead of PQputCopyData disappears, small enough to stream.
constexpr size_t kFlushBytes = 1 << 20;

std::string QuoteIdent(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + '"';
}

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

void PrintSummary(const LoadSummary& summary, std::ostream& out) {
  for (const auto& t : summary.tables) {
    char line[128];
    std::snprintf(line, sizeof line, "  %-30s %10llu rows\n", t.name.c_str(),
                  static_cast<unsigned long long>(t.rows));
    out << line;
  }
  char total[128];
  std::snprintf(total, sizeof total, "  %-30s %10llu rows in %.1f s\n", "total",
                static_cast<unsigned long long>(summary.total_rows), summary.seconds);
  out << total;
}

CopyLoader::CopyLoader(pg_conn* conn, LoadOptions options, std::ostream& progress)
    : conn_(conn), options_(options), progress_(progress) {
  buffer_.reserve(kFlushBytes + 4096);
}

CopyLoader::~CopyLoader() {
  // Best effort: abort a COPY in flight, then roll the transaction back.
  if (in_copy_) {
    PQputCopyEnd(conn_, "load aborted");
    while (PGresult* r = PQgetResult(conn_)) PQclear(r);
  }
  if (in_transaction_) PQclear(PQexec(conn_, "ROLLBACK"));
}

void CopyLoader::Fail(const std::string& what) {
  throw LoadError(what + ": " + PQerrorMessage(conn_));
}

void CopyLoader::Exec(const std::string& sql) {
  ResultPtr res(PQexec(conn_, sql.c_str()));
  const ExecStatusType status = PQresultStatus(res.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) Fail(sql.substr(0, 60));
}

void CopyLoader::Begin() {
  if (PQstatus(conn_) != CONNECTION_OK) Fail("not connected");
  if (PQtransactionStatus(conn_) != PQTRANS_IDLE)
    throw LoadError("the connection is already inside a transaction; the loader runs its own");
  started_ = std::chrono::steady_clock::now();
  // READ COMMITTED whatever the session default: COPY FREEZE refuses to run while an older
  // snapshot of this transaction (REPEATABLE READ) is still registered.
  Exec("BEGIN ISOLATION LEVEL READ COMMITTED");
  in_transaction_ = true;
  // Lock first, then look: no one can add rows between the check and our COPY.
  Exec("LOCK TABLE " + TableList() + " IN ACCESS EXCLUSIVE MODE");
  if (!options_.replace) {
    std::string sql;
    for (std::string_view table : kCatalogueTableNames) {
      sql += sql.empty() ? "" : " UNION ALL ";
      sql += "(SELECT '" + std::string(table) + "' FROM " + QuoteIdent(table) + " LIMIT 1)";
    }
    ResultPtr res(PQexec(conn_, sql.c_str()));
    if (PQresultStatus(res.get()) != PGRES_TUPLES_OK) Fail("checking for existing rows");
    if (PQntuples(res.get()) > 0) {
      throw LoadError(std::string("the catalogue is not empty (table ") +
                      PQgetvalue(res.get(), 0, 0) +
                      " has rows); load into an empty database or pass --replace to "
                      "truncate the catalogue first");
    }
  }
  // Truncating in this transaction (even empty tables) also lets COPY use FREEZE: rows are
  // written already frozen, so the first reads after the load do not rewrite every page.
  Exec("TRUNCATE " + TableList());
}

void CopyLoader::BeginTable(std::string_view table, std::span<const std::string_view> columns) {
  std::string sql = "COPY " + QuoteIdent(table) + " (";
  for (size_t i = 0; i < columns.size(); ++i) {
    if (i > 0) sql += ", ";
    sql += QuoteIdent(columns[i]);
  }
  sql += ") FROM STDIN WITH (FORMAT text, FREEZE)";
  ResultPtr res(PQexec(conn_, sql.c_str()));
  if (PQresultStatus(res.get()) != PGRES_COPY_IN) Fail("COPY " + std::string(table));
  in_copy_ = true;
  summary_.tables.push_back({std::string(table), 0});
  table_started_ = std::chrono::steady_clock::now();
}

void CopyLoader::Row(std::string_view copy_line) {
  buffer_.append(copy_line);
  buffer_ += '\n';
  if (buffer_.size() >= kFlushBytes) Flush();
  ++summary_.tables.back().rows;
  ++summary_.total_rows;
  if (options_.progress_every > 0 && summary_.total_rows % options_.progress_every == 0) {
    char line[160];
    std::snprintf(
        line, sizeof line, "  ... %llu rows (%s: %llu) after %.1f s\n",
        static_cast<unsigned long long>(summary_.total_rows), summary_.tables.back().name.c_str(),
        static_cast<unsigned long long>(summary_.tables.back().rows), SecondsSince(started_));
    progress_ << line << std::flush;
  }
}

void CopyLoader::Flush() {
  if (buffer_.empty()) return;
  if (PQputCopyData(conn_, buffer_.data(), static_cast<int>(buffer_.size())) != 1)
    Fail("sending COPY data for " + summary_.tables.back().name);
  buffer_.clear();
}

void CopyLoader::EndTable() {
  Flush();
  in_copy_ = false;
  if (PQputCopyEnd(conn_, nullptr) != 1) Fail("ending COPY " + summary_.tables.back().name);
  ResultPtr res(PQgetResult(conn_));
  const bool ok = PQresultStatus(res.get()) == PGRES_COMMAND_OK;
  const std::string error = ok ? "" : PQresultErrorMessage(res.get());
  while (PGresult* r = PQgetResult(conn_)) PQclear(r);
  if (!ok) throw LoadError("COPY " + summary_.tables.back().name + ": " + error);
  char line[160];
  std::snprintf(
      line, sizeof line, "  %s: %llu rows in %.1f s\n", summary_.tables.back().name.c_str(),
      static_cast<unsigned long long>(summary_.tables.back().rows), SecondsSince(table_started_));
  progress_ << line << std::flush;
}

LoadSummary CopyLoader::Commit() {
  const char* source = options_.source.c_str();
  ResultPtr announced(PQexecParams(conn_, std::string(kAnnounceCatalogueLoad.sql).c_str(), 1,
                                   nullptr, &source, nullptr, nullptr, 0));
  if (PQresultStatus(announced.get()) != PGRES_TUPLES_OK) Fail("announcing the load");
  std::string analyze = "ANALYZE ";
  for (size_t i = 0; i < summary_.tables.size(); ++i) {
    if (i > 0) analyze += ", ";
    analyze += QuoteIdent(summary_.tables[i].name);
  }
  if (!summary_.tables.empty()) Exec(analyze);
  Exec("COMMIT");
  in_transaction_ = false;
  summary_.seconds = SecondsSince(started_);
  return summary_;
}

db::StatementList LoadStatements() {
  static constexpr const db::Statement* kAll[] = {&kAnnounceCatalogueLoad};
  return kAll;
}

LoadSummary LoadSyntheticCatalogue(pg_conn* conn, const GeneratorOptions& generator,
                                   const LoadOptions& load, std::ostream& progress) {
  CopyLoader loader(conn, load, progress);
  loader.Begin();
  GenerateCatalogue(generator, loader);
  return loader.Commit();
}

}  // namespace psvc::dataset

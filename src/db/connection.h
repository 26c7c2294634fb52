#pragma once
/// One libpq connection (RAII), query results and transactions.
///
/// libpq stays out of this header: callers that need the raw handle (COPY, LISTEN)
/// include <libpq-fe.h> themselves and use native().

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "db/statement.h"

struct pg_conn;
struct pg_result;

namespace psvc::observability {
class Histogram;
class MetricsRegistry;
}  // namespace psvc::observability

namespace psvc::db {

/// A text-format query parameter; std::nullopt is SQL NULL.
using Param = std::optional<std::string_view>;

/// Rows returned by one statement (text format). Owns the PGresult.
class Result {
 public:
  Result() = default;
  explicit Result(pg_result* res);
  Result(Result&&) noexcept = default;
  Result& operator=(Result&&) noexcept = default;
  ~Result();

  int rows() const;
  int columns() const;
  /// Rows changed by INSERT/UPDATE/DELETE.
  int64_t affected() const;
  bool IsNull(int row, int col) const;
  std::string_view Get(int row, int col) const;
  std::optional<std::string_view> GetOpt(int row, int col) const;
  int64_t GetInt64(int row, int col) const;
  double GetDouble(int row, int col) const;
  bool GetBool(int row, int col) const;
  int ColumnIndex(const char* name) const;

 private:
  struct Deleter {
    void operator()(pg_result* r) const;
  };
  std::unique_ptr<pg_result, Deleter> res_;
};

/// An open connection. Not thread-safe: one user at a time (the pool guarantees it).
class Connection {
 public:
  /// Connects with a libpq URI or key=value string; throws DbError(kUnavailable).
  static Connection Open(const std::string& url,
                         std::chrono::milliseconds connect_timeout = std::chrono::seconds(5));

  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;
  ~Connection();

  /// Runs one or more statements without parameters (DDL, SET, BEGIN...).
  Result Exec(std::string_view sql);
  /// Runs an ad-hoc parameterized statement (not prepared).
  Result Query(std::string_view sql, std::initializer_list<Param> params = {});
  Result Query(std::string_view sql, const std::vector<Param>& params);
  /// Runs a named statement, preparing it on this connection the first time.
  Result Execute(const Statement& stmt, std::initializer_list<Param> params = {});
  Result Execute(const Statement& stmt, const std::vector<Param>& params);
  /// As Execute, but a statement still running at `cancel_at` is cancelled then and fails
  /// with DbError(kTimeout). Costs no round trip unless it fires (a caller's deadline enforced
  /// with SET statement_timeout cost one per statement).
  Result Execute(const Statement& stmt, const std::vector<Param>& params,
                 std::chrono::steady_clock::time_point cancel_at);
  /// Prepares without running (used by the statement check test).
  void Prepare(const Statement& stmt);
  /// Runs a `COPY ... TO STDOUT` statement and hands its output to `on_data` chunk by chunk as
  /// it arrives (PostgreSQL sends a row per chunk), so nothing holds a whole table. Throws
  /// DbError when the statement fails, or rethrows what `on_data` threw once the rest of the
  /// output has been read (the connection stays usable).
  void CopyOut(std::string_view copy_sql, const std::function<void(std::string_view)>& on_data);

  /// From now on every named statement (Execute) is counted and timed in `registry`
  /// (psvc_db_statement_duration_seconds by statement name, failures in
  /// psvc_db_statement_errors_total). The registry must outlive the connection.
  void ObserveStatements(observability::MetricsRegistry* registry) { metrics_ = registry; }

  /// Sets statement_timeout for the session; a no-op when unchanged.
  void SetStatementTimeout(std::chrono::milliseconds timeout);

  /// False once the connection is broken; the pool then replaces it.
  bool Healthy() const;
  /// True when the connection is idle outside any transaction (safe to reuse).
  bool IdleOutsideTransaction() const;

  /// Number of statements sent on this connection (tests count round trips with it).
  uint64_t statements_sent() const { return statements_sent_; }

  pg_conn* native() const { return conn_.get(); }

 private:
  struct Deleter {
    void operator()(pg_conn* c) const;
  };
  explicit Connection(pg_conn* conn);
  Result Check(pg_result* res, std::string_view what);
  Result ExecuteNamed(const Statement& stmt, const std::vector<Param>& params,
                      std::optional<std::chrono::steady_clock::time_point> cancel_at);
  /// Prepares when needed; returns the statement's histogram (nullptr when not observed).
  observability::Histogram* PrepareObserved(const Statement& stmt);

  std::unique_ptr<pg_conn, Deleter> conn_;
  // Prepared statement names → their latency histogram (nullptr when not observed), looked
  // up here so the hot path takes no registry lock after a statement's first use.
  std::unordered_map<std::string_view, observability::Histogram*> prepared_;
  observability::MetricsRegistry* metrics_ = nullptr;
  std::chrono::milliseconds statement_timeout_{-1};
  uint64_t statements_sent_ = 0;
};

/// BEGIN on construction, ROLLBACK on destruction unless Commit() was called.
class Transaction {
 public:
  enum class Mode { kReadWrite, kReadOnly };
  explicit Transaction(Connection& conn, Mode mode = Mode::kReadWrite);
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();
  void Commit();

 private:
  Connection& conn_;
  bool done_ = false;
};

/// Quotes an identifier for the rare statements that cannot take a parameter (CREATE DATABASE).
std::string QuoteIdentifier(std::string_view ident);

}  // namespace psvc::db

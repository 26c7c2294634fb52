#include "db/connection.h"

#include <libpq-fe.h>

#include <poll.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <string>

#include "db/error.h"
#include "observability/metrics.h"

namespace psvc::db {

namespace {

[[noreturn]] void ThrowFromResult(pg_result* res, pg_conn* conn, std::string_view what) {
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  std::string message = res ? PQresultErrorMessage(res) : "";
  if (message.empty() && conn) message = PQerrorMessage(conn);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  std::string sqlstate = state ? state : "";
  ErrorKind kind = ClassifySqlState(sqlstate);
  if (sqlstate.empty() && conn && PQstatus(conn) != CONNECTION_OK) kind = ErrorKind::kUnavailable;
  if (res) PQclear(res);
  throw DbError(kind, std::string(what) + ": " + message, std::move(sqlstate));
}

}  // namespace

void Result::Deleter::operator()(pg_result* r) const { PQclear(r); }
Result::Result(pg_result* res) : res_(res) {}
Result::~Result() = default;

int Result::rows() const { return res_ ? PQntuples(res_.get()) : 0; }
int Result::columns() const { return res_ ? PQnfields(res_.get()) : 0; }
int64_t Result::affected() const {
  const char* n = res_ ? PQcmdTuples(res_.get()) : "";
  int64_t v = 0;
  std::from_chars(n, n + std::char_traits<char>::length(n), v);
  return v;
}
bool Result::IsNull(int row, int col) const { return PQgetisnull(res_.get(), row, col) != 0; }
std::string_view Result::Get(int row, int col) const {
  return {PQgetvalue(res_.get(), row, col), static_cast<size_t>(PQgetlength(res_.get(), row, col))};
}
std::optional<std::string_view> Result::GetOpt(int row, int col) const {
  if (IsNull(row, col)) return std::nullopt;
  return Get(row, col);
}
int64_t Result::GetInt64(int row, int col) const {
  auto s = Get(row, col);
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc())
    throw DbError(ErrorKind::kInternal, "not an integer: column " + std::to_string(col));
  return v;
}
double Result::GetDouble(int row, int col) const {
  std::string s(Get(row, col));
  return std::strtod(s.c_str(), nullptr);
}
bool Result::GetBool(int row, int col) const { return Get(row, col) == "t"; }
int Result::ColumnIndex(const char* name) const { return PQfnumber(res_.get(), name); }

void Connection::Deleter::operator()(pg_conn* c) const { PQfinish(c); }
Connection::Connection(pg_conn* conn) : conn_(conn) {}
Connection::Connection(Connection&&) noexcept = default;
Connection& Connection::operator=(Connection&&) noexcept = default;
Connection::~Connection() = default;

Connection Connection::Open(const std::string& url, std::chrono::milliseconds connect_timeout) {
  // connect_timeout is whole seconds in libpq; at least 1 so 0 does not mean "forever".
  std::string timeout =
      std::to_string(std::max<int64_t>(1, (connect_timeout.count() + 999) / 1000));
  const char* keys[] = {"dbname", "connect_timeout", "application_name", nullptr};
  const char* values[] = {url.c_str(), timeout.c_str(), "postgres-service", nullptr};
  // expand_dbname=1: the URL's own settings win over the defaults given here.
  pg_conn* raw = PQconnectdbParams(keys, values, 1);
  Connection conn(raw);
  if (!raw || PQstatus(raw) != CONNECTION_OK) {
    std::string message = raw ? PQerrorMessage(raw) : "out of memory";
    while (!message.empty() && message.back() == '\n') message.pop_back();
    throw DbError(ErrorKind::kUnavailable, "cannot connect to PostgreSQL: " + message);
  }
  return conn;
}

Result Connection::Check(pg_result* res, std::string_view what) {
  ++statements_sent_;
  if (!res) ThrowFromResult(nullptr, conn_.get(), what);
  auto st = PQresultStatus(res);
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY)
    return Result(res);
  ThrowFromResult(res, conn_.get(), what);
}

Result Connection::Exec(std::string_view sql) {
  std::string text(sql);
  return Check(PQexec(conn_.get(), text.c_str()), "query failed");
}

Result Connection::Query(std::string_view sql, std::initializer_list<Param> params) {
  return Query(sql, std::vector<Param>(params));
}

namespace {
struct BoundParams {
  std::vector<std::string> storage;
  std::vector<const char*> values;
  std::vector<int> lengths;
  explicit BoundParams(const std::vector<Param>& params) {
    storage.reserve(params.size());
    for (const auto& p : params) {
      if (p) {
        // string_views are not NUL-terminated; libpq text params must be.
        storage.emplace_back(*p);
        values.push_back(storage.back().c_str());
        lengths.push_back(static_cast<int>(p->size()));
      } else {
        values.push_back(nullptr);
        lengths.push_back(0);
      }
    }
  }
};
}  // namespace

Result Connection::Query(std::string_view sql, const std::vector<Param>& params) {
  std::string text(sql);
  BoundParams bound(params);
  return Check(PQexecParams(conn_.get(), text.c_str(), static_cast<int>(params.size()), nullptr,
                            bound.values.data(), bound.lengths.data(), nullptr, 0),
               "query failed");
}

void Connection::Prepare(const Statement& stmt) { PrepareObserved(stmt); }

observability::Histogram* Connection::PrepareObserved(const Statement& stmt) {
  if (auto it = prepared_.find(stmt.name); it != prepared_.end()) return it->second;
  std::string name(stmt.name), sql(stmt.sql);
  Check(PQprepare(conn_.get(), name.c_str(), sql.c_str(), 0, nullptr),
        "prepare " + name + " failed");
  observability::Histogram* histogram = nullptr;
  if (metrics_) {
    // Statements are few and fixed (named constants), so the label set stays small.
    histogram = &metrics_->GetHistogram("psvc_db_statement_duration_seconds",
                                        "Named SQL statement latency (count = executions)",
                                        {{"statement", name}});
  }
  prepared_.emplace(stmt.name, histogram);
  return histogram;
}

Result Connection::Execute(const Statement& stmt, std::initializer_list<Param> params) {
  return Execute(stmt, std::vector<Param>(params));
}

Result Connection::Execute(const Statement& stmt, const std::vector<Param>& params) {
  return ExecuteNamed(stmt, params, std::nullopt);
}

Result Connection::Execute(const Statement& stmt, const std::vector<Param>& params,
                           std::chrono::steady_clock::time_point cancel_at) {
  return ExecuteNamed(stmt, params, cancel_at);
}

namespace {

// Asks the server to cancel the running statement. Best effort: if the request cannot be
// delivered, the statement timeout remains the backstop.
void RequestCancel(pg_conn* conn) {
  std::unique_ptr<PGcancel, void (*)(PGcancel*)> cancel(PQgetCancel(conn), PQfreeCancel);
  char err[256];
  if (cancel) PQcancel(cancel.get(), err, sizeof err);
}

// Sends a prepared statement and waits for its result, cancelling it at `cancel_at`. The
// result is what PQexecPrepared would have returned (nullptr when the send itself failed).
// `cancelled` tells whether the cancel was requested, so an error can be named for it.
pg_result* ExecPreparedUntil(pg_conn* conn, const std::string& name, const BoundParams& bound,
                             std::chrono::steady_clock::time_point cancel_at, bool& cancelled) {
  using namespace std::chrono;
  // A cancel that reaches the backend before it has read the statement is dropped (it is
  // idle then), so until the answer comes the cancel is repeated at this interval.
  constexpr auto kCancelAgainAfter = milliseconds(20);
  cancelled = false;
  if (!PQsendQueryPrepared(conn, name.c_str(), static_cast<int>(bound.values.size()),
                           bound.values.data(), bound.lengths.data(), nullptr, 0)) {
    return nullptr;
  }
  auto next_cancel = cancel_at;
  while (PQisBusy(conn) && PQsocket(conn) >= 0) {
    auto left = duration_cast<nanoseconds>(next_cancel - steady_clock::now());
    if (left.count() < 0) left = nanoseconds(0);
    timespec wait{static_cast<time_t>(left.count() / 1'000'000'000),
                  static_cast<long>(left.count() % 1'000'000'000)};
    pollfd fd{PQsocket(conn), POLLIN, 0};
    int ready = ppoll(&fd, 1, &wait, nullptr);
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      RequestCancel(conn);
      cancelled = true;
      next_cancel = steady_clock::now() + kCancelAgainAfter;
      continue;
    }
    // A broken connection ends the wait; PQgetResult then reports why.
    if (ready < 0 || !PQconsumeInput(conn)) break;
  }
  // One statement gives one result; an error result wins over anything after it.
  pg_result* out = nullptr;
  while (pg_result* r = PQgetResult(conn)) {
    if (!out || PQresultStatus(r) == PGRES_FATAL_ERROR) {
      if (out) PQclear(out);
      out = r;
    } else {
      PQclear(r);
    }
  }
  return out;
}

}  // namespace

Result Connection::ExecuteNamed(const Statement& stmt, const std::vector<Param>& params,
                                std::optional<std::chrono::steady_clock::time_point> cancel_at) {
  observability::Histogram* histogram = PrepareObserved(stmt);
  std::string name(stmt.name);
  BoundParams bound(params);
  auto start = std::chrono::steady_clock::now();
  auto observe = [&] {
    if (histogram) {
      histogram->Observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
  };
  bool cancelled = false;
  try {
    pg_result* res =
        cancel_at ? ExecPreparedUntil(conn_.get(), name, bound, *cancel_at, cancelled)
                  : PQexecPrepared(conn_.get(), name.c_str(), static_cast<int>(params.size()),
                                   bound.values.data(), bound.lengths.data(), nullptr, 0);
    Result r = Check(res, name);
    observe();
    return r;
  } catch (const DbError& e) {
    observe();
    // Failures are rare: the registry lock here costs nothing on the hot path.
    if (metrics_) {
      metrics_
          ->GetCounter("psvc_db_statement_errors_total", "Named SQL statements that failed",
                       {{"statement", name}, {"kind", std::string(ToString(e.kind()))}})
          .Inc();
    }
    // PostgreSQL says "canceling statement due to user request"; the user was the deadline.
    if (cancelled && e.sqlstate() == "57014") {
      throw DbError(ErrorKind::kTimeout, name + ": cancelled at the caller's deadline", "57014");
    }
    throw;
  }
}

void Connection::SetStatementTimeout(std::chrono::milliseconds timeout) {
  if (timeout == statement_timeout_) return;
  Exec("SET statement_timeout = " + std::to_string(timeout.count()));
  statement_timeout_ = timeout;
}

void Connection::CopyOut(std::string_view copy_sql,
                         const std::function<void(std::string_view)>& on_data) {
  ++statements_sent_;
  const std::string text(copy_sql);
  pg_result* start = PQexec(conn_.get(), text.c_str());
  if (!start || PQresultStatus(start) != PGRES_COPY_OUT) {
    ThrowFromResult(start, conn_.get(), "COPY failed");
  }
  PQclear(start);
  std::exception_ptr failed;
  int n = 0;
  for (;;) {
    char* data = nullptr;
    n = PQgetCopyData(conn_.get(), &data, 0);
    if (n < 0) break;  // -1: the output is complete, -2: an error (reported below)
    if (!failed) {
      try {
        on_data({data, static_cast<size_t>(n)});
      } catch (...) {
        failed = std::current_exception();  // read on, so the connection stays in sync
      }
    }
    PQfreemem(data);
  }
  pg_result* error = nullptr;
  while (pg_result* res = PQgetResult(conn_.get())) {
    if (!error && PQresultStatus(res) != PGRES_COMMAND_OK) {
      error = res;
    } else {
      PQclear(res);
    }
  }
  if (error) ThrowFromResult(error, conn_.get(), "COPY failed");
  if (n == -2) ThrowFromResult(nullptr, conn_.get(), "COPY failed");
  if (failed) std::rethrow_exception(failed);
}

bool Connection::Healthy() const { return conn_ && PQstatus(conn_.get()) == CONNECTION_OK; }

bool Connection::IdleOutsideTransaction() const {
  return Healthy() && PQtransactionStatus(conn_.get()) == PQTRANS_IDLE;
}

Transaction::Transaction(Connection& conn, Mode mode) : conn_(conn) {
  conn_.Exec(mode == Mode::kReadOnly ? "BEGIN READ ONLY" : "BEGIN");
}

Transaction::~Transaction() {
  if (done_) return;
  try {
    if (conn_.Healthy()) conn_.Exec("ROLLBACK");
  } catch (...) {
    // The pool discards a connection left inside a transaction.
  }
}

void Transaction::Commit() {
  done_ = true;
  conn_.Exec("COMMIT");
}

std::string QuoteIdentifier(std::string_view ident) {
  std::string out = "\"";
  for (char c : ident) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

}  // namespace psvc::db

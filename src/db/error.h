#pragma once
/// Error kinds of the database layer and the one SQLSTATE → kind mapping.

#include <stdexcept>
#include <string>
#include <string_view>

namespace psvc::db {

/// What went wrong, as far as a caller needs to decide what to answer.
enum class ErrorKind {
  kTimeout,        ///< statement_timeout or deadline (57014), or no pooled connection in time
  kConflict,       ///< unique / exclusion violation (23505, 23P01)
  kSerialization,  ///< serialization failure or deadlock (40001, 40P01): retryable
  kUnavailable,    ///< connection lost / cannot connect / server shutting down
  kInvalidInput,   ///< data or constraint violation (22xxx, 23xxx except 23505)
  kPoolExhausted,  ///< every connection busy past the caller's deadline
  kInternal,       ///< anything else: a bug or a schema drift
};

std::string_view ToString(ErrorKind kind);

/// Maps a five-character SQLSTATE to an ErrorKind (empty or unknown → kInternal).
ErrorKind ClassifySqlState(std::string_view sqlstate);

/// The database layer reports failures by throwing DbError; the API boundary maps the kind.
class DbError : public std::runtime_error {
 public:
  DbError(ErrorKind kind, std::string message, std::string sqlstate = {})
      : std::runtime_error(std::move(message)), kind_(kind), sqlstate_(std::move(sqlstate)) {}
  ErrorKind kind() const { return kind_; }
  const std::string& sqlstate() const { return sqlstate_; }

 private:
  ErrorKind kind_;
  std::string sqlstate_;
};

}  // namespace psvc::db

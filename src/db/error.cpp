#include "db/error.h"

namespace psvc::db {

std::string_view ToString(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kTimeout: return "timeout";
    case ErrorKind::kConflict: return "conflict";
    case ErrorKind::kSerialization: return "serialization_failure";
    case ErrorKind::kUnavailable: return "unavailable";
    case ErrorKind::kInvalidInput: return "invalid_input";
    case ErrorKind::kPoolExhausted: return "pool_exhausted";
    case ErrorKind::kInternal: return "internal";
  }
  return "internal";
}

ErrorKind ClassifySqlState(std::string_view s) {
  if (s.size() != 5) return ErrorKind::kInternal;
  if (s == "57014") return ErrorKind::kTimeout;  // query_canceled: statement_timeout
  if (s == "40001" || s == "40P01") return ErrorKind::kSerialization;
  if (s == "23505" || s == "23P01") return ErrorKind::kConflict;
  if (s.starts_with("22") || s.starts_with("23")) return ErrorKind::kInvalidInput;
  // Class 08 connection exceptions; 57P01..57P03 admin/crash shutdown, cannot connect now;
  // 53300 too many connections.
  if (s.starts_with("08") || s == "57P01" || s == "57P02" || s == "57P03" || s == "53300") {
    return ErrorKind::kUnavailable;
  }
  return ErrorKind::kInternal;
}

}  // namespace psvc::db

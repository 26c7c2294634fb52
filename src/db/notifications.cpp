#include "db/notifications.h"

#include <libpq-fe.h>

#include <string>

#include "db/error.h"

namespace psvc::db {

int DrainNotifications(Connection& conn) {
  PGconn* pg = conn.native();
  if (PQconsumeInput(pg) == 0) {
    throw DbError(ErrorKind::kUnavailable, std::string("LISTEN connection: ") + PQerrorMessage(pg));
  }
  int n = 0;
  while (PGnotify* note = PQnotifies(pg)) {
    PQfreemem(note);
    ++n;
  }
  return n;
}

}  // namespace psvc::db

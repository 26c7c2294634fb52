#pragma once
/// LISTEN connections: reading the notifications the server has sent.

#include "db/connection.h"

namespace psvc::db {

/// Reads what the server sent on `conn` without blocking and discards the notifications,
/// returning how many there were. Throws DbError (kUnavailable) when the connection is broken.
int DrainNotifications(Connection& conn);

}  // namespace psvc::db

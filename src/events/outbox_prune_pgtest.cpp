// Without NATS nothing relays the outbox: PruneUnrelayedOutbox deletes rows older than the
// retention, published or not, and keeps younger ones.
#include <gtest/gtest.h>

#include "db/connection.h"
#include "events/outbox_relay.h"
#include "testing/test_database.h"

namespace psvc::events {
namespace {

TEST(PruneUnrelayedOutbox, DeletesRowsOlderThanTheRetentionPublishedOrNot) {
  testing::TestDatabase tdb;
  auto conn = tdb.Connect();
  // 25 old rows (5 published, 20 never), 3 recent ones.
  conn.Exec(
      "INSERT INTO qdrant_outbox (aggregate_id, event_type, payload, created_at, published_at) "
      "SELECT gen_random_uuid(), 'AnimeUpdated', '\\x7b7d', now() - interval '3 hours', "
      "       CASE WHEN g <= 5 THEN now() - interval '2 hours' END "
      "  FROM generate_series(1, 25) g");
  conn.Exec(
      "INSERT INTO qdrant_outbox (aggregate_id, event_type, payload) "
      "SELECT gen_random_uuid(), 'AnimeUpdated', '\\x7b7d' FROM generate_series(1, 3)");
  // A batch smaller than the backlog: the function loops until it is done.
  EXPECT_EQ(PruneUnrelayedOutbox(conn, std::chrono::hours(1), 4), 25);
  EXPECT_EQ(conn.Exec("SELECT count(*) FROM qdrant_outbox").GetInt64(0, 0), 3);
  EXPECT_EQ(conn.Exec("SELECT count(*) FROM qdrant_outbox WHERE created_at < now() - "
                      "interval '1 hour'")
                .GetInt64(0, 0),
            0);
  EXPECT_EQ(PruneUnrelayedOutbox(conn, std::chrono::hours(1)), 0);
}

}  // namespace
}  // namespace psvc::events

// The serving role reads and writes rows and cannot change the schema.
#include <gtest/gtest.h>

#include "db/connection.h"
#include "db/error.h"
#include "testing/test_database.h"

namespace psvc::db {
namespace {

std::string AsApp(std::string url) {
  auto at = url.find("psvc_owner@");
  if (at == std::string::npos) throw std::runtime_error("expected the stack's owner URL: " + url);
  return url.replace(at, 10, "psvc_app");
}

TEST(ServingRole, ReadsAndWritesRowsButCannotChangeTheSchema) {
  testing::TestDatabase tdb;
  auto app = Connection::Open(AsApp(tdb.url()));
  EXPECT_EQ(app.Exec("SELECT current_user").Get(0, 0), "psvc_app");
  app.Exec("INSERT INTO anime (id, title) VALUES ('00000000-0000-4000-8000-000000000001', 'x')");
  app.Exec("UPDATE anime SET view_count = view_count + 1");
  app.Exec(
      "INSERT INTO qdrant_outbox (aggregate_id, event_type, payload) "
      "VALUES ('00000000-0000-4000-8000-000000000001', 'T', '')");
  EXPECT_EQ(app.Exec("SELECT count(*) FROM schema_migrations").GetInt64(0, 0) > 0, true);
  for (const char* ddl : {"DROP TABLE anime", "ALTER TABLE anime ADD COLUMN x int",
                          "CREATE TABLE sneaky (x int)", "TRUNCATE anime",
                          "CREATE INDEX ON anime (title)"}) {
    try {
      app.Exec(ddl);
      ADD_FAILURE() << "serving role could run: " << ddl;
    } catch (const DbError& e) {
      EXPECT_TRUE(e.sqlstate() == "42501" || e.sqlstate() == "42P17") << ddl << ": " << e.what();
    }
  }
  auto owner = tdb.Connect();
  EXPECT_EQ(owner.Exec("SELECT count(*) FROM anime").GetInt64(0, 0), 1);
}

}  // namespace
}  // namespace psvc::db

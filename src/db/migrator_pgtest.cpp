#include "db/migrator.h"

#include <gtest/gtest.h>

#include <sstream>
#include <thread>

#include "db/error.h"
#include "testing/test_database.h"

namespace psvc::db {
namespace {

int64_t Count(Connection& c, const std::string& sql) { return c.Exec(sql).GetInt64(0, 0); }

std::set<std::string> Tables(Connection& c) {
  std::set<std::string> out;
  auto r = c.Exec("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename");
  for (int i = 0; i < r.rows(); ++i) out.emplace(r.Get(i, 0));
  return out;
}

TEST(Migrator, AppliesEmbeddedMigrationsToAnEmptyDatabaseThenIsIdempotent) {
  testing::TestDatabase tdb(/*migrated=*/false);
  auto conn = tdb.Connect();
  Migrator m(conn, EmbeddedMigrations());
  ASSERT_GE(EmbeddedMigrations().size(), 2u);
  EXPECT_FALSE(m.UpToDate());
  EXPECT_EQ(m.Apply(), static_cast<int>(EmbeddedMigrations().size()));
  EXPECT_TRUE(m.UpToDate());
  auto tables = Tables(conn);
  for (const char* t :
       {"anime", "character", "company", "original_work", "episode", "anime_relation",
        "anime_character", "anime_company", "anime_original_work_relation", "qdrant_outbox",
        "processed_event", "pending_anime_relation", "schema_migrations"}) {
    EXPECT_TRUE(tables.contains(t)) << t;
  }
  auto before = Count(conn, "SELECT count(*) FROM schema_migrations");
  std::ostringstream log;
  EXPECT_EQ(m.Apply(&log), 0);
  EXPECT_NE(log.str().find("up to date"), std::string::npos);
  EXPECT_EQ(Count(conn, "SELECT count(*) FROM schema_migrations"), before);
}

TEST(Migrator, SearchTermsWrittenBeforeLabelsExistedGetTheirLabels) {
  // 0017 fills search_term.label for existing rows and drops rows it cannot label; 0018
  // shortens long names. Tests elsewhere start from empty tables, so upgrade a filled one.
  testing::TestDatabase tdb(/*migrated=*/false);
  auto conn = tdb.Connect();
  std::vector<MigrationFile> before;
  for (const auto& f : EmbeddedMigrations()) {
    if (f.version <= 16) before.push_back(f);
  }
  Migrator(conn, before).Apply();
  conn.Exec(R"sql(
    INSERT INTO anime (id, title, title_english, synonyms) VALUES
      ('00000000-0000-4000-8000-000000000001', 'Kanon', 'Kanon (2006)', '{"Kanon Kyoto"}'),
      ('00000000-0000-4000-8000-000000000002', 'Long ' || repeat('ā', 300),
       NULL, ARRAY[repeat('x', 200)]);
    INSERT INTO character (id, name, name_japanese) VALUES
      ('00000000-0000-4000-8000-0000000000c1', 'Ayu', 'あゆ');
    INSERT INTO company (id, name) VALUES ('00000000-0000-4000-8000-0000000000d1', 'Kyoto');
  )sql");
  EXPECT_EQ(Count(conn, "SELECT count(*) FROM search_term"), 8);
  Migrator(conn, EmbeddedMigrations()).Apply();
  // Every term kept; each has its entity's name, except the title too long to keep (0018).
  EXPECT_EQ(Count(conn, "SELECT count(*) FROM search_term"), 8);
  EXPECT_EQ(Count(conn, R"sql(
    SELECT count(*) FROM search_term t
      LEFT JOIN anime a ON t.kind = 1 AND a.id = t.entity_id
      LEFT JOIN character c ON t.kind = 2 AND c.id = t.entity_id
      LEFT JOIN company co ON t.kind = 3 AND co.id = t.entity_id
     WHERE t.label IS NOT DISTINCT FROM coalesce(a.title, c.name, co.name))sql"),
            6);
  EXPECT_EQ(Count(conn,
                  "SELECT count(*) FROM search_term WHERE label IS NULL AND entity_id = "
                  "'00000000-0000-4000-8000-000000000002'"),
            2);
  EXPECT_EQ(Count(conn, "SELECT max(length(term)) FROM search_term"), 150);
}

TEST(Migrator, StatusListsAppliedAndPending) {
  testing::TestDatabase tdb(false);
  auto conn = tdb.Connect();
  std::vector<MigrationFile> files = {MakeMigration("0001_a.sql", "CREATE TABLE a (x int);"),
                                      MakeMigration("0002_b.sql", "CREATE TABLE b (x int);")};
  Migrator first(conn, {files[0]});
  first.Apply();
  auto status = Migrator(conn, files).Status();
  ASSERT_EQ(status.size(), 2u);
  EXPECT_TRUE(status[0].applied);
  EXPECT_FALSE(status[0].applied_at.empty());
  EXPECT_FALSE(status[1].applied);
  EXPECT_EQ(status[1].filename, "0002_b.sql");
}

TEST(Migrator, RefusesAnEditedAppliedMigrationNamingTheFileAndAppliesNothing) {
  testing::TestDatabase tdb(false);
  auto conn = tdb.Connect();
  Migrator(conn, {MakeMigration("0001_a.sql", "CREATE TABLE a (x int);")}).Apply();
  Migrator edited(conn, {MakeMigration("0001_a.sql", "CREATE TABLE a (x bigint);"),
                         MakeMigration("0002_b.sql", "CREATE TABLE b (x int);")});
  try {
    edited.Apply();
    FAIL() << "expected MigrationError";
  } catch (const MigrationError& e) {
    EXPECT_NE(std::string(e.what()).find("0001_a.sql"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("edited"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(Tables(conn).contains("b"));
  auto status = edited.Status();
  EXPECT_FALSE(status[0].checksum_matches);
}

TEST(Migrator, AFailingMigrationRollsBackAndIsNotRecorded) {
  testing::TestDatabase tdb(false);
  auto conn = tdb.Connect();
  Migrator m(conn, {MakeMigration("0001_a.sql", "CREATE TABLE a (x int);"),
                    MakeMigration("0002_bad.sql", "CREATE TABLE c (x int); SELEC 1;")});
  EXPECT_THROW(m.Apply(), MigrationError);
  EXPECT_TRUE(Tables(conn).contains("a"));
  EXPECT_FALSE(Tables(conn).contains("c"));
  EXPECT_EQ(Count(conn, "SELECT count(*) FROM schema_migrations"), 1);
}

TEST(Migrator, RejectsBadFileNamesAndDuplicateVersions) {
  EXPECT_THROW(MakeMigration("create_tables.sql", ""), MigrationError);
  testing::TestDatabase tdb(false);
  auto conn = tdb.Connect();
  EXPECT_THROW(Migrator(conn, {MakeMigration("0001_a.sql", ""), MakeMigration("1_b.sql", "")}),
               MigrationError);
}

TEST(Migrator, ConcurrentRunsLeaveOneCorrectSchema) {
  testing::TestDatabase tdb(false);
  constexpr int kRunners = 4;
  std::vector<int> applied(kRunners, -1);
  std::vector<std::string> errors(kRunners);
  std::vector<std::thread> threads;
  for (int i = 0; i < kRunners; ++i) {
    threads.emplace_back([&, i] {
      try {
        auto conn = tdb.Connect();
        applied[i] = Migrator(conn, EmbeddedMigrations()).Apply();
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  int total = 0;
  for (int i = 0; i < kRunners; ++i) {
    EXPECT_EQ(errors[i], "") << "runner " << i;
    total += applied[i];
  }
  // Every migration applied exactly once across all runners.
  EXPECT_EQ(total, static_cast<int>(EmbeddedMigrations().size()));
  auto conn = tdb.Connect();
  EXPECT_EQ(Count(conn, "SELECT count(*) FROM schema_migrations"),
            static_cast<int64_t>(EmbeddedMigrations().size()));
  EXPECT_TRUE(Migrator(conn, EmbeddedMigrations()).UpToDate());
}

TEST(Migrator, LoadsFilesFromTheRepositoryFolderIdenticalToTheEmbeddedOnes) {
  auto files = LoadMigrations(std::string(PSVC_SOURCE_DIR) + "/migrations");
  std::sort(files.begin(), files.end(), [](auto& a, auto& b) { return a.version < b.version; });
  const auto& embedded = EmbeddedMigrations();
  ASSERT_EQ(files.size(), embedded.size());
  for (size_t i = 0; i < files.size(); ++i) {
    EXPECT_EQ(files[i].filename, embedded[i].filename);
    EXPECT_EQ(files[i].checksum, embedded[i].checksum) << files[i].filename;
  }
}

}  // namespace
}  // namespace psvc::db

#include "dataset/demo_data.h"

#include <gtest/gtest.h>

#include <string>

#include "dataset/copy_loader.h"
#include "db/connection.h"
#include "testing/test_database.h"

namespace psvc::dataset {
namespace {

int64_t Scalar(db::Connection& conn, const std::string& sql) {
  return conn.Query(sql).GetInt64(0, 0);
}

std::string CountsOfAllTables(db::Connection& conn) {
  std::string out;
  for (const char* table :
       {"anime", "character", "company", "original_work", "episode", "anime_relation",
        "anime_character", "anime_company", "anime_original_work_relation"})
    out += std::string(table) + "=" +
           std::to_string(Scalar(conn, std::string("SELECT count(*) FROM ") + table)) + " ";
  return out;
}

TEST(DemoData, LoadsAndIsIdempotent) {
  psvc::testing::TestDatabase db;
  auto conn = db.Connect();
  LoadDemoData(conn.native());
  const std::string first = CountsOfAllTables(conn);
  LoadDemoData(conn.native());
  EXPECT_EQ(CountsOfAllTables(conn), first);
  EXPECT_EQ(Scalar(conn, "SELECT count(*) FROM anime"), 28);
  EXPECT_EQ(Scalar(conn, "SELECT count(*) FROM episode"), 26);
  EXPECT_TRUE(conn.IdleOutsideTransaction());
  // Each load announced itself on the change feed, so followers re-read the catalogue.
  auto announced = conn.Query(
      "SELECT count(*), count(DISTINCT xid), min(aggregate_id::text), "
      "min(convert_from(payload, 'UTF8')::json->>'source') FROM qdrant_outbox "
      "WHERE event_type = 'CatalogueLoaded'");
  EXPECT_EQ(announced.GetInt64(0, 0), 2);
  EXPECT_EQ(announced.GetInt64(0, 1), 2) << "one announcement per load, in its transaction";
  EXPECT_EQ(announced.Get(0, 2), "00000000-0000-0000-0000-000000000000");
  EXPECT_EQ(announced.Get(0, 3), "demo-data");
  EXPECT_EQ(
      Scalar(conn, "SELECT count(*) FROM qdrant_outbox WHERE event_type <> 'CatalogueLoaded'"), 0);
}

TEST(DemoData, HoldsTheFactsPeopleWillLookFor) {
  psvc::testing::TestDatabase db;
  auto conn = db.Connect();
  LoadDemoData(conn.native());

  // Fullmetal Alchemist: Brotherhood is a Bones studio anime adapted from Arakawa's manga.
  EXPECT_EQ(Scalar(conn, R"(
      SELECT count(*) FROM anime a
      JOIN anime_company ac ON ac.anime_id = a.id AND ac.role = 'studio'
      JOIN company c ON c.id = ac.company_id AND c.name = 'Bones'
      JOIN anime_original_work_relation r ON r.anime_id = a.id
      JOIN original_work w ON w.id = r.original_work_id AND w.author = 'Hiromu Arakawa'
      WHERE a.title = 'Fullmetal Alchemist: Brotherhood')"),
            1);
  // Attack on Titan: five sequels follow the first season, switching from Wit Studio to MAPPA.
  EXPECT_EQ(Scalar(conn, R"(
      WITH RECURSIVE chain(id, depth) AS (
        SELECT id, 0 FROM anime WHERE title = 'Shingeki no Kyojin'
        UNION ALL
        SELECT r.related_anime_id, depth + 1 FROM chain
        JOIN anime_relation r ON r.anime_id = chain.id AND r.relation_type = 'SEQUEL')
      SELECT max(depth) FROM chain)"),
            5);
  EXPECT_EQ(Scalar(conn, R"(
      SELECT count(DISTINCT c.name) FROM anime a
      JOIN anime_company ac ON ac.anime_id = a.id AND ac.role = 'studio'
      JOIN company c ON c.id = ac.company_id
      WHERE a.title LIKE 'Shingeki no Kyojin%')"),
            2);
  // Every relation has its inverse.
  EXPECT_EQ(Scalar(conn, R"(
      SELECT count(*) FROM anime_relation r
      WHERE NOT EXISTS (SELECT 1 FROM anime_relation i
                        WHERE i.anime_id = r.related_anime_id AND i.related_anime_id = r.anime_id))"),
            0);
  // Accent-insensitive search: "deja vu" finds "Déjà vu", "soso" finds "Sōsō".
  EXPECT_EQ(Scalar(conn, "SELECT count(*) FROM anime WHERE psvc_normalize(title) LIKE '%deja vu%'"),
            1);
  EXPECT_EQ(Scalar(conn,
                   "SELECT count(*) FROM anime WHERE psvc_normalize(array_to_string(synonyms, ' "
                   "')) LIKE '%soso no frieren%'"),
            1);
  // Characters shared across a franchise: Edward Elric is in all three FMA entries.
  EXPECT_EQ(Scalar(conn, R"(
      SELECT count(*) FROM anime_character ac JOIN character c ON c.id = ac.character_id
      WHERE c.name = 'Edward Elric')"),
            3);
}

TEST(DemoData, ErrorsLeaveNoTransactionOpen) {
  psvc::testing::TestDatabase db(/*migrated=*/false);  // no tables: the script must fail
  auto conn = db.Connect();
  EXPECT_THROW(LoadDemoData(conn.native()), LoadError);
  EXPECT_TRUE(conn.IdleOutsideTransaction());
}

}  // namespace
}  // namespace psvc::dataset

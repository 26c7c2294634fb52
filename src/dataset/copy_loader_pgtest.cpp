#include "dataset/copy_loader.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "dataset/copy_format.h"
#include "dataset/directory_sink.h"
#include "dataset/generator.h"
#include "db/connection.h"
#include "testing/test_database.h"

namespace psvc::dataset {
namespace {

int64_t Scalar(db::Connection& conn, const std::string& sql) {
  return conn.Query(sql).GetInt64(0, 0);
}

int64_t Count(db::Connection& conn, std::string_view table) {
  return Scalar(conn, "SELECT count(*) FROM " + std::string(table));
}

TEST(CopyLoader, LoadsAScaledCatalogueInOneTransaction) {
  psvc::testing::TestDatabase db;
  auto conn = db.Connect();
  std::ostringstream progress;
  const LoadSummary summary =
      LoadSyntheticCatalogue(conn.native(), {0.01, 3}, {.progress_every = 1000}, progress);

  ASSERT_EQ(summary.tables.size(), kCatalogueTables.size());
  uint64_t total = 0;
  for (const auto& t : summary.tables) {
    EXPECT_EQ(Count(conn, t.name), static_cast<int64_t>(t.rows)) << t.name;
    total += t.rows;
  }
  EXPECT_EQ(summary.total_rows, total);
  EXPECT_GT(summary.seconds, 0);
  EXPECT_NE(progress.str().find("... 1000 rows"), std::string::npos) << progress.str();
  EXPECT_NEAR(Count(conn, "anime"), 300, 1);
  EXPECT_NEAR(Count(conn, "episode"), 3000, 300);
  // The load committed one change that makes change-feed followers re-read the catalogue.
  auto announced = conn.Query(
      "SELECT event_type, convert_from(payload, 'UTF8')::json->>'source', "
      "(SELECT count(*) FROM qdrant_outbox) FROM qdrant_outbox");
  ASSERT_EQ(announced.rows(), 1);
  EXPECT_EQ(announced.Get(0, 0), "CatalogueLoaded");
  EXPECT_EQ(announced.Get(0, 1), "generate");
  EXPECT_NEAR(Count(conn, "anime_character"), 4000, 400);

  // Both directions of nearly every relation made it in (the generator stores ~3% of links at
  // one end only).
  const int64_t relations = Scalar(conn, "SELECT count(*) FROM anime_relation");
  EXPECT_LT(conn.Query(R"(
      SELECT count(*) FROM anime_relation r
      WHERE NOT EXISTS (SELECT 1 FROM anime_relation i
                        WHERE i.anime_id = r.related_anime_id AND i.related_anime_id = r.anime_id))")
                .GetInt64(0, 0),
            relations * 4 / 100);
  // Statistics were gathered, so the planner sees the real table sizes.
  EXPECT_GT(conn.Query("SELECT reltuples FROM pg_class WHERE relname = 'anime'").GetDouble(0, 0),
            0);
  // UTF-8 arrived intact: katakana titles, and accented romaji (ō, é) that the accent-folding
  // search normalisation maps to plain letters.
  EXPECT_GT(Scalar(conn, "SELECT count(*) FROM anime WHERE title_japanese ~ '[ァ-ヶ]'"), 0);
  EXPECT_GT(Scalar(conn, "SELECT count(*) FROM anime WHERE psvc_normalize(title) <> lower(title)"),
            0);

  std::ostringstream summary_text;
  PrintSummary(summary, summary_text);
  EXPECT_NE(summary_text.str().find("anime_character"), std::string::npos);
  EXPECT_NE(summary_text.str().find("total"), std::string::npos);
}

TEST(CopyLoader, RefusesANonEmptyCatalogueUnlessReplacing) {
  psvc::testing::TestDatabase db;
  auto conn = db.Connect();
  std::ostringstream progress;
  LoadSyntheticCatalogue(conn.native(), {0.001, 1}, {}, progress);
  const int64_t anime = Count(conn, "anime");

  try {
    LoadSyntheticCatalogue(conn.native(), {0.002, 2}, {}, progress);
    FAIL() << "a second load without replace must be refused";
  } catch (const LoadError& e) {
    EXPECT_NE(std::string(e.what()).find("not empty"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("--replace"), std::string::npos) << e.what();
  }
  EXPECT_EQ(Count(conn, "anime"), anime) << "nothing changed";
  EXPECT_EQ(Count(conn, "qdrant_outbox"), 1) << "a refused load announces nothing";
  EXPECT_TRUE(conn.IdleOutsideTransaction());

  const LoadSummary replaced =
      LoadSyntheticCatalogue(conn.native(), {0.002, 2}, {.replace = true}, progress);
  EXPECT_EQ(Count(conn, "anime"), static_cast<int64_t>(replaced.tables[2].rows));
  EXPECT_EQ(Count(conn, "anime"), 60);
  EXPECT_EQ(Count(conn, "qdrant_outbox"), 2);
}

TEST(CopyLoader, AFailedCopyRollsEverythingBack) {
  psvc::testing::TestDatabase db;
  auto conn = db.Connect();
  std::ostringstream progress;
  {
    CopyLoader loader(conn.native(), {}, progress);
    loader.Begin();
    const std::string_view company_columns[] = {"id", "name"};
    loader.BeginTable("company", company_columns);
    loader.Row("de0b0000-0000-4000-8000-000000000001\tFine Studio");
    loader.EndTable();
    const std::string_view anime_columns[] = {"id", "title", "type"};
    loader.BeginTable("anime", anime_columns);
    loader.Row("de0a0000-0000-4000-8000-000000000001\tBad Type\tRADIO");  // CHECK violation
    EXPECT_THROW(loader.EndTable(), LoadError);
  }  // destructor rolls back
  EXPECT_TRUE(conn.IdleOutsideTransaction());
  EXPECT_EQ(Count(conn, "company"), 0);
}

TEST(CopyLoader, RefusesToRunInsideACallersTransaction) {
  psvc::testing::TestDatabase db;
  auto conn = db.Connect();
  conn.Exec("BEGIN");
  std::ostringstream progress;
  CopyLoader loader(conn.native(), {}, progress);
  EXPECT_THROW(loader.Begin(), LoadError);
  conn.Exec("ROLLBACK");
}

TEST(DirectorySink, WritesFilesThatPostgresAccepts) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("psvc_dataset_out_" + std::to_string(::getpid()));
  {
    DirectorySink sink(dir);
    GenerateCatalogue({0.001, 5}, sink);
    sink.Finish();
  }
  ASSERT_TRUE(std::filesystem::exists(dir / "load.sql"));

  // Feed the files back through COPY, as `psql -f load.sql` would.
  psvc::testing::TestDatabase db;
  auto conn = db.Connect();
  std::ostringstream progress;
  CopyLoader loader(conn.native(), {}, progress);
  loader.Begin();
  std::ifstream script(dir / "load.sql");
  std::string line;
  int tables = 0;
  while (std::getline(script, line)) {
    if (!line.starts_with("\\copy ")) continue;
    const std::string table = line.substr(6, line.find(' ', 6) - 6);
    const size_t open = line.find('('), close = line.find(')');
    std::vector<std::string> columns;
    std::stringstream list(line.substr(open + 1, close - open - 1));
    for (std::string col; std::getline(list, col, ',');)
      columns.push_back(col.substr(col.find_first_not_of(' ')));
    std::vector<std::string_view> views(columns.begin(), columns.end());
    loader.BeginTable(table, views);
    std::ifstream rows(dir / (table + ".tsv"));
    for (std::string row; std::getline(rows, row);) loader.Row(row);
    loader.EndTable();
    ++tables;
  }
  const LoadSummary summary = loader.Commit();
  EXPECT_EQ(tables, static_cast<int>(kCatalogueTables.size()));
  EXPECT_EQ(Count(conn, "anime"), 30);
  EXPECT_GT(summary.total_rows, 100u);

  // And through psql itself, as the script's first line says: the same catalogue, announced.
  psvc::testing::TestDatabase by_psql;
  const std::string command = "cd '" + dir.string() + "' && psql '" + by_psql.url() +
                              "' -q -v ON_ERROR_STOP=1 -f load.sql > /dev/null";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  auto loaded = by_psql.Connect();
  EXPECT_EQ(Count(loaded, "anime"), 30);
  EXPECT_EQ(Scalar(loaded,
                   "SELECT count(*) FROM qdrant_outbox WHERE event_type = "
                   "'CatalogueLoaded' AND convert_from(payload, 'UTF8')::json->>'source' "
                   "= 'load.sql'"),
            1);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace psvc::dataset

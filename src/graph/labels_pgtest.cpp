// GraphLabels against a real catalogue: the snapshot load, and a reload of given anime and hubs
// after they changed, appeared or went away (what the change feed calls), checked against the
// rows written here.
#include <gtest/gtest.h>

#include "db/connection.h"
#include "graph/labels.h"
#include "testing/test_database.h"

namespace psvc::graph {
namespace {

constexpr const char* kA1 = "00000000-0000-4000-8000-000000000001";
constexpr const char* kA2 = "00000000-0000-4000-8000-000000000002";
constexpr const char* kA3 = "00000000-0000-4000-8000-000000000003";
constexpr const char* kA4 = "00000000-0000-4000-8000-000000000004";
constexpr const char* kStudio = "00000000-0000-4000-8000-0000000000aa";
constexpr const char* kStudio2 = "00000000-0000-4000-8000-0000000000ab";
constexpr const char* kCharacter = "00000000-0000-4000-8000-0000000000cc";
constexpr const char* kWork = "00000000-0000-4000-8000-0000000000ee";

TEST(GraphLabels, LoadsEveryLabelAndReloadsTheGivenOnes) {
  testing::TestDatabase tdb;
  auto conn = tdb.Connect();
  conn.Query(
      "INSERT INTO anime (id, title, type, year) VALUES ($1, 'One', 'TV', 2001), "
      "($2, 'Two', 'MOVIE', NULL), ($3, 'Three', 'OVA', 2003)",
      {kA1, kA2, kA3});
  conn.Query("INSERT INTO company (id, name) VALUES ($1, 'Bones'), ($2, 'Sunrise')",
             {kStudio, kStudio2});
  conn.Query("INSERT INTO character (id, name) VALUES ($1, E'Edward\\nElric')", {kCharacter});
  conn.Query("INSERT INTO original_work (id, title) VALUES ($1, 'Manga')", {kWork});

  auto labels = GraphLabels::Load(conn);
  EXPECT_EQ(labels->anime(), 3u);
  EXPECT_EQ(labels->Anime(kA1), (AnimeLabel{"One", "TV", 2001}));
  EXPECT_EQ(labels->Anime(kA2), (AnimeLabel{"Two", "MOVIE", 0}));
  EXPECT_EQ(labels->Anime(kA4), AnimeLabel{});
  EXPECT_EQ(labels->HubName(HubKind::kStudio, kStudio), "Bones");
  EXPECT_EQ(labels->HubName(HubKind::kCharacter, kCharacter), "Edward Elric");
  EXPECT_EQ(labels->HubName(HubKind::kOriginalWork, kWork), "Manga");
  EXPECT_EQ(labels->HubName(HubKind::kCharacter, kStudio), "");  // hub kinds are apart
  EXPECT_GT(labels->bytes(), 0u);

  // A title and a year change, an anime appears, one is hidden by a saga, a studio is renamed.
  conn.Query("UPDATE anime SET title = 'One (new)', year = 2002, type = 'ONA' WHERE id = $1",
             {kA1});
  conn.Query("INSERT INTO anime (id, title, year) VALUES ($1, $2, 2004)",
             {kA4, std::string(200, 'x')});
  conn.Query("UPDATE anime SET hidden_at = now() WHERE id = $1", {kA3});
  conn.Query("UPDATE company SET name = 'Studio Bones' WHERE id = $1", {kStudio});
  conn.Query("UPDATE company SET name = 'Not reloaded' WHERE id = $1", {kStudio2});

  LabelKeys keys;
  keys.anime = {kA1, kA3, kA4};
  keys.hubs[static_cast<int>(HubKind::kStudio)] = {kStudio};
  auto reloaded = labels->Reloaded(conn, keys);
  EXPECT_EQ(reloaded->anime(), 3u);
  EXPECT_EQ(reloaded->Anime(kA1), (AnimeLabel{"One (new)", "ONA", 2002}));
  EXPECT_EQ(reloaded->Anime(kA2), (AnimeLabel{"Two", "MOVIE", 0}));  // untouched
  EXPECT_EQ(reloaded->Anime(kA3), AnimeLabel{});                     // hidden: gone
  EXPECT_EQ(reloaded->Anime(kA4),
            (AnimeLabel{std::string(kMaxLabelBytes - 3, 'x') + "\xE2\x80\xA6", "UNKNOWN", 2004}));
  EXPECT_EQ(reloaded->HubName(HubKind::kStudio, kStudio), "Studio Bones");
  EXPECT_EQ(reloaded->HubName(HubKind::kStudio, kStudio2), "Sunrise");  // not asked for
  EXPECT_EQ(reloaded->HubName(HubKind::kCharacter, kCharacter), "Edward Elric");
  // The old labels are unchanged: calls in flight keep what they started with.
  EXPECT_EQ(labels->Anime(kA1), (AnimeLabel{"One", "TV", 2001}));
  EXPECT_EQ(labels->Anime(kA3), (AnimeLabel{"Three", "OVA", 2003}));

  // A deleted hub is dropped; reloading nothing changes nothing.
  conn.Query("DELETE FROM original_work WHERE id = $1", {kWork});
  LabelKeys work;
  work.hubs[static_cast<int>(HubKind::kOriginalWork)] = {kWork};
  auto without = reloaded->Reloaded(conn, work);
  EXPECT_EQ(without->HubName(HubKind::kOriginalWork, kWork), "");
  EXPECT_EQ(without->hubs(HubKind::kOriginalWork), 0u);
  auto same = without->Reloaded(conn, {});
  EXPECT_EQ(same->Anime(kA1), (AnimeLabel{"One (new)", "ONA", 2002}));
  EXPECT_EQ(same->anime(), 3u);
}

}  // namespace
}  // namespace psvc::graph

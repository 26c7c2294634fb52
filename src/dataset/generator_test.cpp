#include "dataset/generator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "dataset/copy_format.h"

namespace psvc::dataset {
namespace {

/// Keeps every generated line, per table, plus the whole byte stream.
class CollectingSink final : public RowSink {
 public:
  struct Table {
    std::vector<std::string> columns;
    std::vector<std::string> lines;
  };
  void BeginTable(std::string_view table, std::span<const std::string_view> columns) override {
    order.emplace_back(table);
    current_ = &tables[std::string(table)];
    current_->columns.assign(columns.begin(), columns.end());
    bytes += std::string(table) + "\n";
  }
  void Row(std::string_view line) override {
    current_->lines.emplace_back(line);
    bytes.append(line);
    bytes += '\n';
  }
  void EndTable() override { current_ = nullptr; }

  std::vector<std::string> order;
  std::map<std::string, Table> tables;
  std::string bytes;

 private:
  Table* current_ = nullptr;
};

using Field = std::optional<std::string>;

/// A generated table parsed into rows of named fields.
struct ParsedTable {
  std::vector<std::string> columns;
  std::vector<std::vector<Field>> rows;
  size_t Col(const std::string& name) const {
    auto it = std::find(columns.begin(), columns.end(), name);
    EXPECT_NE(it, columns.end()) << name;
    return static_cast<size_t>(it - columns.begin());
  }
};

struct Catalogue {
  std::map<std::string, ParsedTable> tables;
  std::vector<std::string> order;
  const ParsedTable& operator[](const std::string& name) const { return tables.at(name); }
  size_t Count(const std::string& name) const { return tables.at(name).rows.size(); }
};

Catalogue Generate(double scale, uint64_t seed) {
  CollectingSink sink;
  GenerateCatalogue({scale, seed}, sink);
  Catalogue c;
  c.order = sink.order;
  for (auto& [name, table] : sink.tables) {
    ParsedTable& p = c.tables[name];
    p.columns = table.columns;
    for (const auto& line : table.lines) {
      p.rows.push_back(ParseCopyLine(line));
      EXPECT_EQ(p.rows.back().size(), p.columns.size()) << name << ": " << line;
    }
  }
  return c;
}

const Catalogue& Sf01() {
  static const Catalogue kCatalogue = Generate(0.1, 42);
  return kCatalogue;
}

std::string Inverse(const std::string& t) {
  if (t == "SEQUEL") return "PREQUEL";
  if (t == "PREQUEL") return "SEQUEL";
  if (t == "SIDE_STORY" || t == "SUMMARY") return "FULL_STORY";
  if (t == "SPIN_OFF") return "OTHER";
  return t;
}

TEST(Generator, SameSeedSameBytesOtherSeedOtherBytes) {
  CollectingSink a, b, c;
  GenerateCatalogue({0.01, 7}, a);
  GenerateCatalogue({0.01, 7}, b);
  GenerateCatalogue({0.01, 8}, c);
  EXPECT_FALSE(a.bytes.empty());
  EXPECT_TRUE(a.bytes == b.bytes);
  EXPECT_FALSE(a.bytes == c.bytes);
}

TEST(Generator, EmitsTablesInForeignKeySafeOrder) {
  const Catalogue& c = Sf01();
  EXPECT_EQ(c.order, std::vector<std::string>(kCatalogueTables.begin(), kCatalogueTables.end()));
}

TEST(Generator, ShapeWithinTenPercentOfTargets) {
  const double scale = 0.1;
  const Catalogue& c = Sf01();
  const std::map<std::string, double> targets = {
      {"anime", 30000},          {"character", 150000}, {"anime_character", 400000},
      {"anime_relation", 40000}, {"company", 3000},     {"anime_company", 35000},
      {"original_work", 15000},  {"episode", 300000}};
  for (const auto& [table, sf1] : targets) {
    const double want = sf1 * scale;
    const auto got = static_cast<double>(c.Count(table));
    EXPECT_NEAR(got, want, want * 0.1) << table;
  }
  EXPECT_GT(c.Count("anime_original_work_relation"), c.Count("original_work"));
}

TEST(Generator, SmallScalesWork) {
  for (double scale : {0.001, 0.01}) {
    const Catalogue c = Generate(scale, 1);
    EXPECT_EQ(c.Count("anime"), static_cast<size_t>(30000 * scale + 0.5)) << scale;
    EXPECT_GT(c.Count("character"), 0u) << scale;
    EXPECT_GT(c.Count("anime_relation"), 0u) << scale;
    EXPECT_GT(c.Count("episode"), 0u) << scale;
    EXPECT_GT(c.Count("company"), 0u) << scale;
  }
  const Catalogue empty = Generate(0, 1);
  EXPECT_EQ(empty.Count("anime"), 0u);
  EXPECT_EQ(empty.order.size(), kCatalogueTables.size());
}

TEST(Generator, AHandfulOfHugeStudios) {
  const double scale = 0.1;
  const Catalogue& c = Sf01();
  const ParsedTable& links = c["anime_company"];
  std::unordered_map<std::string, int> per_studio;
  for (const auto& row : links.rows)
    if (*row[links.Col("role")] == "studio") ++per_studio[*row[links.Col("company_id")]];
  int huge = 0;
  for (const auto& [studio, n] : per_studio) huge += n >= 1000 * scale ? 1 : 0;
  EXPECT_GE(huge, 3);
  EXPECT_LE(huge, 6);
  // ... and a long tail: the median studio has under a fifth of the biggest one's anime.
  std::vector<int> sizes;
  for (const auto& [studio, n] : per_studio) sizes.push_back(n);
  std::sort(sizes.begin(), sizes.end());
  EXPECT_LT(sizes[sizes.size() / 2] * 5, sizes.back());
}

TEST(Generator, NoDuplicatePrimaryKeys) {
  const Catalogue& c = Sf01();
  const std::map<std::string, std::vector<std::string>> keys = {
      {"anime", {"id"}},
      {"character", {"id"}},
      {"company", {"id"}},
      {"original_work", {"id"}},
      {"episode", {"id"}},
      {"anime_relation", {"anime_id", "related_anime_id", "relation_type"}},
      {"anime_character", {"anime_id", "character_id"}},
      {"anime_company", {"anime_id", "company_id", "role"}},
      {"anime_original_work_relation", {"anime_id", "original_work_id"}}};
  std::unordered_set<std::string> all_ids;
  for (const auto& [table, columns] : keys) {
    const ParsedTable& t = c[table];
    std::unordered_set<std::string> seen;
    for (const auto& row : t.rows) {
      std::string key;
      for (const auto& col : columns) key += *row[t.Col(col)] + "|";
      EXPECT_TRUE(seen.insert(key).second) << table << " duplicate " << key;
      if (columns.size() == 1) {
        EXPECT_TRUE(all_ids.insert(key).second) << "uuid reused " << key;
      }
    }
  }
  // episode (anime_id, number) is unique too.
  const ParsedTable& ep = c["episode"];
  std::unordered_set<std::string> seen;
  for (const auto& row : ep.rows)
    EXPECT_TRUE(seen.insert(*row[ep.Col("anime_id")] + "#" + *row[ep.Col("number")]).second);
}

TEST(Generator, UuidsLookLikeVersion4) {
  const ParsedTable& anime = Sf01()["anime"];
  for (const auto& row : anime.rows) {
    const std::string& id = *row[0];
    ASSERT_EQ(id.size(), 36u);
    EXPECT_EQ(id[14], '4') << id;
    EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;
  }
}

TEST(Generator, EveryForeignKeyPointsToAGeneratedRow) {
  const Catalogue& c = Sf01();
  auto ids = [&](const std::string& table) {
    std::unordered_set<std::string> out;
    for (const auto& row : c[table].rows) out.insert(*row[0]);
    return out;
  };
  const auto anime = ids("anime"), character = ids("character"), company = ids("company"),
             work = ids("original_work");
  auto check = [&](const std::string& table, const std::string& column,
                   const std::unordered_set<std::string>& parents) {
    const ParsedTable& t = c[table];
    const size_t col = t.Col(column);
    for (const auto& row : t.rows)
      ASSERT_TRUE(parents.count(*row[col])) << table << "." << column << " = " << *row[col];
  };
  check("episode", "anime_id", anime);
  check("anime_relation", "anime_id", anime);
  check("anime_relation", "related_anime_id", anime);
  check("anime_character", "anime_id", anime);
  check("anime_character", "character_id", character);
  check("anime_company", "anime_id", anime);
  check("anime_company", "company_id", company);
  check("anime_original_work_relation", "anime_id", anime);
  check("anime_original_work_relation", "original_work_id", work);
}

TEST(Generator, RelationsComeMostlyInInversePairsWithoutSelfLoops) {
  const ParsedTable& r = Sf01()["anime_relation"];
  std::set<std::tuple<std::string, std::string, std::string>> rows;
  std::set<std::pair<std::string, std::string>> pairs;
  for (const auto& row : r.rows) {
    rows.insert({*row[0], *row[1], *row[2]});
    pairs.insert({*row[0], *row[1]});
  }
  std::map<std::string, int> per_type;
  int one_way = 0, disagreeing = 0;
  for (const auto& [a, b, type] : rows) {
    EXPECT_NE(a, b);
    ++per_type[type];
    bool found = rows.count({b, a, Inverse(type)}) > 0;
    // FULL_STORY answers SIDE_STORY or SUMMARY; OTHER answers SPIN_OFF or OTHER.
    if (type == "FULL_STORY")
      found = rows.count({b, a, "SIDE_STORY"}) || rows.count({b, a, "SUMMARY"});
    if (type == "OTHER") found = rows.count({b, a, "SPIN_OFF"}) || rows.count({b, a, "OTHER"});
    if (!pairs.count({b, a})) {
      ++one_way;
    } else if (!found) {
      ++disagreeing;
    }
  }
  // As in real catalogues, a few links are stored at one end only or answered by a type that
  // disagrees (docs/graph.md says how the graph reads both); the rest come in inverse pairs.
  const int n = static_cast<int>(rows.size());
  EXPECT_GT(one_way, 0);
  EXPECT_LT(one_way, n * 3 / 100);
  EXPECT_GT(disagreeing, 0);
  EXPECT_LT(disagreeing, n * 2 / 100);
  for (const char* type : {"SEQUEL", "PREQUEL", "SIDE_STORY", "FULL_STORY", "ALTERNATIVE",
                           "SUMMARY", "SPIN_OFF", "CHARACTER", "OTHER", "ADAPTATION"})
    EXPECT_GT(per_type[type], 0) << type;
  EXPECT_NEAR(per_type["SEQUEL"], per_type["PREQUEL"], per_type["SEQUEL"] * 6 / 100);
}

TEST(Generator, RowsSatisfyTheSchemaChecks) {
  const Catalogue& c = Sf01();
  const std::set<std::string> types = {"TV", "MOVIE", "OVA", "ONA", "SPECIAL", "MUSIC", "UNKNOWN"};
  const std::set<std::string> statuses = {"FINISHED", "AIRING", "UPCOMING", "UNKNOWN"};
  const std::set<std::string> seasons = {"WINTER", "SPRING", "SUMMER", "FALL"};
  const ParsedTable& a = c["anime"];
  bool accented = false;
  for (const auto& row : a.rows) {
    const std::string& title = *row[a.Col("title")];
    EXPECT_FALSE(title.empty());
    EXPECT_LE(title.size(), 500u);
    accented |= title.find("ō") != std::string::npos || title.find("é") != std::string::npos;
    if (const auto& en = row[a.Col("title_english")]) {
      accented |= en->find("é") != std::string::npos;
    }
    EXPECT_TRUE(types.count(*row[a.Col("type")]));
    EXPECT_TRUE(statuses.count(*row[a.Col("status")]));
    const auto& season = row[a.Col("season")];
    if (season) {
      EXPECT_TRUE(seasons.count(*season));
    }
    const int year = std::stoi(*row[a.Col("year")]);
    EXPECT_GE(year, 1900);
    EXPECT_LE(year, 2100);
    if (const auto& score = row[a.Col("score")]) {
      EXPECT_GE(std::stod(*score), 1.0);
      EXPECT_LE(std::stod(*score), 10.0);
    }
    EXPECT_GE(std::stoll(*row[a.Col("view_count")]), 0);
    const std::string& synonyms = *row[a.Col("synonyms")];
    EXPECT_EQ(synonyms.front(), '{');
    EXPECT_EQ(synonyms.back(), '}');
  }
  EXPECT_TRUE(accented) << "accent-insensitive search needs accented titles";

  const std::set<std::string> roles = {"MAIN", "SUPPORTING", "BACKGROUND"};
  const ParsedTable& ac = c["anime_character"];
  std::map<std::string, int> per_role;
  for (const auto& row : ac.rows) {
    EXPECT_TRUE(roles.count(*row[ac.Col("role")]));
    ++per_role[*row[ac.Col("role")]];
  }
  for (const auto& role : roles) EXPECT_GT(per_role[role], 0) << role;

  const std::set<std::string> kinds = {"MANGA", "LIGHT_NOVEL", "NOVEL",    "VISUAL_NOVEL",
                                       "GAME",  "WEB_MANGA",   "ORIGINAL", "OTHER"};
  const ParsedTable& w = c["original_work"];
  for (const auto& row : w.rows) EXPECT_TRUE(kinds.count(*row[w.Col("kind")]));

  const ParsedTable& co = c["anime_company"];
  for (const auto& row : co.rows) {
    const std::string& role = *row[co.Col("role")];
    EXPECT_TRUE(role == "studio" || role == "producer") << role;
  }
  const ParsedTable& ch = c["character"];
  for (const auto& row : ch.rows) {
    EXPECT_FALSE(row[ch.Col("name")]->empty());
    EXPECT_GE(std::stoll(*row[ch.Col("favorites")]), 0);
  }
  const ParsedTable& ep = c["episode"];
  for (const auto& row : ep.rows) {
    const int duration = std::stoi(*row[ep.Col("duration_seconds")]);
    EXPECT_GT(duration, 0);
    EXPECT_LE(duration, 86400);
  }
}

TEST(Generator, EpisodeRowsMatchEpisodeCountAndStatus) {
  const Catalogue& c = Sf01();
  std::unordered_map<std::string, int> rows;
  const ParsedTable& ep = c["episode"];
  for (const auto& row : ep.rows) ++rows[*row[ep.Col("anime_id")]];
  const ParsedTable& a = c["anime"];
  for (const auto& row : a.rows) {
    const std::string& status = *row[a.Col("status")];
    const auto& count = row[a.Col("episode_count")];
    const int n = rows[*row[0]];
    if (status == "FINISHED") {
      ASSERT_TRUE(count.has_value());
      EXPECT_EQ(n, std::stoi(*count)) << *row[0];
    } else if (status == "AIRING") {
      EXPECT_LE(n, std::stoi(*count));
    } else {
      EXPECT_EQ(n, 0);
    }
  }
}

TEST(Generator, SequelsAreLaterAndMostlyFromTheSameStudio) {
  const Catalogue& c = Sf01();
  const ParsedTable& a = c["anime"];
  std::unordered_map<std::string, int> year;
  for (const auto& row : a.rows) year[*row[0]] = std::stoi(*row[a.Col("year")]);
  std::unordered_map<std::string, std::set<std::string>> studios;
  const ParsedTable& co = c["anime_company"];
  for (const auto& row : co.rows)
    if (*row[2] == "studio") studios[*row[0]].insert(*row[1]);
  int sequels = 0, same_studio = 0;
  for (const auto& row : c["anime_relation"].rows) {
    if (*row[2] != "SEQUEL") continue;
    ++sequels;
    EXPECT_LE(year[*row[0]], year[*row[1]]);
    const auto& s1 = studios[*row[0]];
    const auto& s2 = studios[*row[1]];
    same_studio += std::any_of(s1.begin(), s1.end(), [&](const auto& s) { return s2.count(s); });
  }
  ASSERT_GT(sequels, 0);
  EXPECT_GT(same_studio, sequels * 8 / 10);
}

TEST(Generator, CharactersMostlyStayInTheirFranchise) {
  const Catalogue& c = Sf01();
  // Franchises ~ connected components of the relation graph (the 2% of crossover relations
  // merge a few franchises, which only makes this check more lenient).
  std::unordered_map<std::string, std::string> parent;
  std::function<std::string(const std::string&)> find = [&](const std::string& x) {
    auto it = parent.find(x);
    if (it == parent.end() || it->second == x) return x;
    return it->second = find(it->second);
  };
  for (const auto& row : c["anime"].rows) parent[*row[0]] = *row[0];
  for (const auto& row : c["anime_relation"].rows) parent[find(*row[0])] = find(*row[1]);
  std::unordered_map<std::string, std::set<std::string>> franchises;
  for (const auto& row : c["anime_character"].rows) franchises[*row[1]].insert(find(*row[0]));
  EXPECT_EQ(franchises.size(), c.Count("character")) << "every character appears somewhere";
  size_t single = 0;
  for (const auto& [ch, set] : franchises) single += set.size() == 1;
  EXPECT_GT(single, franchises.size() * 95 / 100);
  EXPECT_LT(single, franchises.size()) << "a few cross-franchise cameos";
}

TEST(Generator, OriginalWorksAreSharedBySeveralAnime) {
  const Catalogue& c = Sf01();
  std::unordered_map<std::string, int> per_work;
  for (const auto& row : c["anime_original_work_relation"].rows) ++per_work[*row[1]];
  EXPECT_EQ(per_work.size(), c.Count("original_work")) << "every work is adapted";
  int shared = 0;
  for (const auto& [w, n] : per_work) shared += n >= 3;
  EXPECT_GT(shared, 100);
}

TEST(Generator, PopularityIsHeavyTailed) {
  const ParsedTable& a = Sf01()["anime"];
  std::vector<long long> views;
  for (const auto& row : a.rows) views.push_back(std::stoll(*row[a.Col("view_count")]));
  std::sort(views.rbegin(), views.rend());
  long long total = 0, top = 0;
  for (size_t i = 0; i < views.size(); ++i) {
    total += views[i];
    if (i < views.size() / 100) top += views[i];
  }
  EXPECT_GT(top * 5, total) << "top 1% of anime hold over 20% of the views";
}

}  // namespace
}  // namespace psvc::dataset

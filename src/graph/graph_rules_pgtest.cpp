// The graph rules of docs/graph.md as text cases (src/graph/testdata/*.test): a tiny graph,
// requests and their expected answers, run through every engine. The file format is described
// at the top of rules.test.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>

#include "db/pool.h"
#include "graph/engine.h"
#include "graph/graph_queries.h"
#include "graph/memory_engine.h"
#include "testing/test_database.h"

namespace psvc::graph {
namespace {

using namespace std::chrono_literals;

std::string Uuid(int n) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012x", n);
  return buf;
}

/// Names in case files: a<n> anime; S<n> studio, P<n> producer (a company that is no edge),
/// C<n> character, W<n> original work. Each kind has its own UUID range, in name order.
std::string IdOf(const std::string& name) {
  static const std::map<char, int> kBase = {
      {'a', 0}, {'S', 0x100000}, {'P', 0x200000}, {'C', 0x300000}, {'W', 0x400000}};
  auto it = kBase.find(name.empty() ? '?' : name[0]);
  if (it == kBase.end() || name.size() < 2) throw std::runtime_error("bad name: " + name);
  return Uuid(it->second + std::stoi(name.substr(1)));
}

std::vector<std::string> Words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

/// Words from `first` on, joined by single spaces.
std::string Join(const std::vector<std::string>& words, size_t first) {
  std::string out;
  for (size_t i = first; i < words.size(); ++i) out += (out.empty() ? "" : " ") + words[i];
  return out;
}

/// A label as the case files print it: "title" TYPE YEAR.
std::string Print(const AnimeLabel& l) {
  return "\"" + l.title + "\" " + l.type + " " + std::to_string(l.year);
}

/// " :: label [:: kind "name"]" when labels were asked for.
std::string Labels(bool on, const AnimeLabel& node, const HubLabel& via) {
  if (!on) return "";
  std::string out = " :: " + Print(node);
  if (!via.kind.empty()) out += " :: " + std::string(via.kind) + " \"" + via.name + "\"";
  return out;
}

struct Case {
  std::string file;
  int line = 0;
  std::string graph;
  std::vector<std::string> request;  // words of the request line
  std::string expected;
};

/// A graph's set-up lines and the cases that run on it.
struct GraphBlock {
  std::string name;
  std::vector<std::vector<std::string>> setup;
  std::vector<Case> cases;
};

std::vector<GraphBlock> Parse(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::vector<GraphBlock> blocks;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    auto w = Words(line);
    if (w.empty() || w[0][0] == '#') continue;
    if (w[0] == "graph") {
      blocks.push_back({w.size() > 1 ? w[1] : "", {}, {}});
      continue;
    }
    if (blocks.empty()) throw std::runtime_error(path.string() + ": a graph line comes first");
    if (w[0] == "neighbors" || w[0] == "k_hop" || w[0] == "path" || w[0] == "compare") {
      Case c{path.filename().string(), n, blocks.back().name, w, ""};
      if (!std::getline(in, line) || line != "----") {
        throw std::runtime_error(path.string() + ":" + std::to_string(n) + ": expected ----");
      }
      ++n;
      while (std::getline(in, line)) {
        ++n;
        if (Words(line).empty()) break;
        c.expected += line + "\n";
      }
      blocks.back().cases.push_back(std::move(c));
      continue;
    }
    blocks.back().setup.push_back(w);
  }
  return blocks;
}

/// Builds one graph block's catalogue in the database.
void Build(db::Connection& conn, const GraphBlock& block) {
  conn.Exec(
      "SET client_min_messages = warning; TRUNCATE anime, character, company, original_work "
      "CASCADE");
  auto hub = [&](const std::vector<std::string>& w) {
    const std::string& hub = w[1];
    const std::string id = IdOf(hub);
    for (size_t i = 2; i < w.size(); ++i) {
      const std::string anime = IdOf(w[i]);
      switch (hub[0]) {
        case 'S':
        case 'P':
          conn.Query("INSERT INTO company (id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                     {id, "company " + hub});
          conn.Query("INSERT INTO anime_company (anime_id, company_id, role) VALUES ($1, $2, $3)",
                     {anime, id, hub[0] == 'S' ? "studio" : "producer"});
          break;
        case 'C':
          conn.Query("INSERT INTO character (id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                     {id, "character " + hub});
          conn.Query("INSERT INTO anime_character (anime_id, character_id) VALUES ($1, $2)",
                     {anime, id});
          break;
        case 'W':
          conn.Query("INSERT INTO original_work (id, title) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                     {id, "work " + hub});
          conn.Query(
              "INSERT INTO anime_original_work_relation (anime_id, original_work_id) VALUES ($1, "
              "$2)",
              {anime, id});
          break;
        default:
          throw std::runtime_error("not a hub: " + hub);
      }
    }
  };
  for (const auto& w : block.setup) {
    if (w[0] == "anime") {
      // anime <name> <year | ?> [TYPE [title words...]]
      std::optional<std::string> year;
      if (w.size() > 2 && w[2] != "?") year = w[2];
      db::Param y = year ? db::Param(*year) : std::nullopt;
      const std::string type = w.size() > 3 ? w[3] : "UNKNOWN";
      const std::string title = w.size() > 4 ? Join(w, 4) : "anime " + w[1];
      conn.Query("INSERT INTO anime (id, title, year, type) VALUES ($1, $2, $3, $4)",
                 {IdOf(w[1]), title, y, type});
    } else if (w[0] == "name") {
      // name <S|P|C|W><n> <words...>: the hub's name (a work's title)
      const char* sql = w[1][0] == 'C'   ? "UPDATE character SET name = $2 WHERE id = $1"
                        : w[1][0] == 'W' ? "UPDATE original_work SET title = $2 WHERE id = $1"
                                         : "UPDATE company SET name = $2 WHERE id = $1";
      conn.Query(sql, {IdOf(w[1]), Join(w, 2)});
    } else if (w[0] == "relation") {
      // relation <from> <to> <TYPE>: "to is the TYPE of from"
      conn.Query("INSERT INTO anime_relation VALUES ($1, $2, $3)", {IdOf(w[1]), IdOf(w[2]), w[3]});
    } else if (w[0] == "hub") {
      hub(w);  // hub <S|P|C|W><n> <members...>
    } else if (w[0] == "hide") {
      conn.Query("UPDATE anime SET hidden_at = now() WHERE id = $1", {IdOf(w[1])});
    } else if (w[0] == "merge") {
      // merge <duplicate> <survivor>: the duplicate is merged away (a saga in flight)
      conn.Query("UPDATE anime SET merged_into = $2 WHERE id = $1", {IdOf(w[1]), IdOf(w[2])});
    } else {
      throw std::runtime_error("unknown set-up line: " + w[0]);
    }
  }
}

/// Prints ids back as the names of the case file.
class Names {
 public:
  std::string operator()(const std::string& id) const {
    static const std::pair<int, char> kRanges[] = {
        {0x400000, 'W'}, {0x300000, 'C'}, {0x200000, 'P'}, {0x100000, 'S'}, {0, 'a'}};
    if (id.empty()) return "";
    int n = std::stoi(id.substr(24), nullptr, 16);
    for (auto [base, letter] : kRanges) {
      if (n >= base) return letter + std::to_string(n - base);
    }
    return id;
  }
};

std::string Answer(GraphEngine& engine, const Case& c, const LimitCaps& caps) {
  const auto& r = c.request;
  std::map<std::string, std::string> opts;
  std::vector<std::string> ids;
  for (size_t i = 1; i < r.size(); ++i) {
    auto eq = r[i].find('=');
    if (eq == std::string::npos) {
      ids.push_back(IdOf(r[i]));
    } else {
      opts[r[i].substr(0, eq)] = r[i].substr(eq + 1);
    }
  }
  std::vector<EdgeType> types;
  if (opts.contains("types")) {
    for (auto& t : Split(opts["types"], ',')) {
      auto type = EdgeTypeFromName(t);
      if (!type) throw std::runtime_error("unknown edge type " + t);
      types.push_back(*type);
    }
  }
  auto filter = EdgeFilter::Of(types);
  auto num = [&](const char* key) { return opts.contains(key) ? std::stoi(opts[key]) : 0; };
  std::vector<std::string> clamped;
  auto resolve = [&](const char* field, int def, int cap) {
    int out = 0;
    if (auto err = ResolveLimit({field, num(field), def, cap}, out, clamped)) {
      throw std::runtime_error(*err);
    }
    return out;
  };
  const int window = opts.contains("window") ? std::stoi(opts["window"]) : caps.hub_window;
  const bool labels = opts["labels"] == "on";
  CallBudget budget{std::chrono::steady_clock::now() + 10s};
  Names name;
  std::ostringstream out;
  auto via = [&](const std::string& v) { return v.empty() ? std::string() : " " + name(v); };
  if (r[0] == "neighbors") {
    int limit = resolve("limit", caps.max_results, caps.max_results);
    auto res = engine.Neighbors(budget, ids.at(0), filter, limit, window);
    if (!res.start_found) out << "start not found\n";
    if (labels && res.start_found) out << "start " << Print(res.start) << "\n";
    for (auto& e : res.edges) {
      out << name(e.node_id) << " " << EdgeTypeName(e.type) << via(e.via_id)
          << Labels(labels, e.node, e.via) << "\n";
    }
  } else if (r[0] == "k_hop") {
    AppliedLimits l;
    l.max_hops = resolve("hops", caps.default_hops, caps.max_hops);
    l.max_fanout_per_hop = resolve("fanout", caps.default_fanout, caps.max_fanout_per_hop);
    l.max_results = resolve("results", caps.default_results, caps.max_results);
    l.hub_window = window;
    auto res = engine.KHop(budget, ids.at(0), filter, l);
    if (!res.start_found) out << "start not found\n";
    if (labels && res.start_found) out << "start " << Print(res.start) << "\n";
    for (auto& n : res.nodes) {
      out << n.depth << " " << name(n.node_id) << " " << EdgeTypeName(n.type) << " from "
          << name(n.parent_id) << via(n.via_id) << Labels(labels, n.node, n.via) << "\n";
    }
    if (res.truncated) out << "truncated\n";
  } else if (r[0] == "path") {
    int hops = resolve("hops", caps.default_path_hops, caps.max_hops);
    int nodes = opts.contains("budget") ? std::stoi(opts["budget"]) : caps.path_node_budget;
    auto res = engine.Path(budget, ids.at(0), ids.at(1), filter, hops, window, nodes);
    if (!res.from_found) out << "from not found\n";
    if (!res.to_found) out << "to not found\n";
    if (res.from_found && res.to_found && !res.found) out << "no path\n";
    if (res.truncated) out << "truncated\n";
    for (auto& s : res.steps) {
      out << name(s.node_id);
      if (s.type) out << " " << EdgeTypeName(*s.type) << via(s.via_id);
      out << Labels(labels, s.node, s.via) << "\n";
      if (labels && !s.explanation.empty()) out << "  = " << s.explanation << "\n";
    }
  } else if (r[0] == "compare") {
    auto res = engine.Compare(budget, ids.at(0), ids.at(1));
    if (!res.a) out << "a not found\n";
    if (!res.b) out << "b not found\n";
    if (res.a && res.b) {
      out << "direct";
      for (auto t : res.direct_relations) out << " " << EdgeTypeName(t);
      out << "\n";
      auto shared = [&](const char* what, const std::vector<SharedEntity>& list) {
        if (list.empty()) return;
        out << what;
        for (auto& s : list) out << " " << name(s.id);
        out << "\n";
      };
      shared("characters", res.characters);
      shared("studios", res.studios);
      shared("works", res.original_works);
    }
  }
  return out.str();
}

std::vector<std::filesystem::path> CaseFiles() {
  std::vector<std::filesystem::path> files;
  for (auto& e : std::filesystem::directory_iterator(std::filesystem::path(PSVC_SOURCE_DIR) /
                                                     "src/graph/testdata")) {
    if (e.path().extension() == ".test") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(GraphRules, EveryCaseGivesItsExpectedAnswerOnEveryEngine) {
  testing::TestDatabase tdb;
  auto conn = tdb.Connect();
  db::Pool pool({.url = tdb.url(),
                 .size = 1,
                 .read_only = true,
                 .session_setup = GraphQueries::SessionSetup()});
  SqlGraphEngine sql(pool, {});
  const LimitCaps caps;
  int cases = 0;
  auto files = CaseFiles();
  ASSERT_FALSE(files.empty());
  for (const auto& file : files) {
    for (const auto& block : Parse(file)) {
      Build(conn, block);
      auto memory = MemoryGraphEngine::Load(conn, sql);
      for (GraphEngine* engine : std::vector<GraphEngine*>{&sql, memory.get()}) {
        for (const auto& c : block.cases) {
          std::string got;
          try {
            got = Answer(*engine, c, caps);
          } catch (const std::exception& e) {
            got = std::string("error: ") + e.what() + "\n";
          }
          EXPECT_EQ(got, c.expected) << c.file << ":" << c.line << " (graph " << c.graph
                                     << ", engine " << engine->name() << ")";
          ++cases;
        }
      }
    }
  }
  EXPECT_GT(cases, 0);
}

}  // namespace
}  // namespace psvc::graph

// Runs every document of testdata/*.corpus through our parser and validator and checks the
// expectation written beside it (the graphql-js oracle checks the same files against
// graphql-js). Adding a case is adding a few lines of text.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "graphql/engine.h"
#include "graphql/json.h"
#include "graphql/testing/anime_schema.h"

namespace psvc::graphql {
namespace {

struct Case {
  std::string file;
  int line = 0;
  std::string expect;  // valid | invalid | invalid-limit
  std::string name;
  std::string variables;
  std::string operation;
  std::string error;
  std::string query;
};

std::vector<Case> LoadCorpus() {
  std::vector<Case> cases;
  std::string dir = std::string(PSVC_SOURCE_DIR) + "/src/graphql/testdata";
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".corpus") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& path : files) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    Case* cur = nullptr;
    bool body_started = false;
    int line_no = 0;
    size_t pos = 0;
    while (pos <= text.size()) {
      size_t nl = text.find('\n', pos);
      if (nl == std::string::npos) nl = text.size();
      std::string line = text.substr(pos, nl - pos);
      pos = nl + 1;
      ++line_no;
      if (line.rfind("=== ", 0) == 0) {
        size_t colon = line.find(": ");
        cases.push_back(Case{path.filename().string(), line_no, line.substr(4, colon - 4),
                             line.substr(colon + 2), "", "", "", ""});
        cur = &cases.back();
        body_started = false;
        continue;
      }
      if (!cur) continue;
      if (!body_started && line.rfind("--- ", 0) == 0) {
        size_t colon = line.find(':');
        std::string key = line.substr(4, colon - 4);
        std::string value = colon + 2 <= line.size() ? line.substr(colon + 2) : "";
        if (key == "variables") cur->variables = value;
        if (key == "operation") cur->operation = value;
        if (key == "error") cur->error = value;
        continue;
      }
      body_started = true;
      if (!cur->query.empty() || !line.empty()) cur->query += line + "\n";
    }
  }
  for (auto& c : cases) {
    while (!c.query.empty() && c.query.back() == '\n') c.query.pop_back();
  }
  return cases;
}

TEST(CorpusTest, HasEnoughDocuments) { EXPECT_GE(LoadCorpus().size(), 150u); }

TEST(CorpusTest, AcceptAndRejectAsRecorded) {
  auto schema = testing::BuildAnimeSchema();
  for (const Case& c : LoadCorpus()) {
    SCOPED_TRACE(c.file + ":" + std::to_string(c.line) + " " + c.name);
    ParseResult parsed = Parse(c.query);
    std::vector<Error> errors;
    if (parsed.error) {
      errors.push_back(*parsed.error);
    } else {
      errors = Validate(*schema, *parsed.document);
    }
    bool valid = errors.empty();
    EXPECT_EQ(valid, c.expect == "valid")
        << (errors.empty() ? std::string("accepted") : errors[0].message);
    if (!c.error.empty()) {
      ASSERT_FALSE(errors.empty());
      bool found = false;
      for (const auto& e : errors) found = found || e.message.find(c.error) != std::string::npos;
      EXPECT_TRUE(found) << "want \"" << c.error << "\", first error: " << errors[0].message;
    }
    if (valid) {
      // Every valid document executes to a JSON response.
      auto data = testing::LoadAnimeData(testing::DefaultAnimeDataPath());
      Engine engine(std::shared_ptr<const Schema>(schema.get(), [](const Schema*) {}));
      EngineRequest req;
      req.query = c.query;
      req.variables_json = c.variables;
      req.operation_name = c.operation;
      req.context = data.get();
      EngineResponse resp = engine.Execute(req);
      std::string why;
      EXPECT_TRUE(ParseJson(resp.json, &why)) << why << "\n" << resp.json;
    }
  }
}

}  // namespace
}  // namespace psvc::graphql

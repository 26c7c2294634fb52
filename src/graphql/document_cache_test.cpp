// The engine's cache of prepared documents: hits, bounds, eviction order, and answers that do
// not depend on whether the document came from the cache.
#include "graphql/document_cache.h"

#include <gtest/gtest.h>

#include <thread>

#include "graphql/engine.h"
#include "graphql/testing/anime_schema.h"

namespace psvc::graphql {
namespace {

std::shared_ptr<const PreparedDocument> Doc() { return std::make_shared<PreparedDocument>(); }

TEST(DocumentCacheTest, KeepsTheMostRecentlyUsedWithinItsBounds) {
  DocumentCache cache(2, 10);
  auto a = Doc(), b = Doc(), c = Doc();
  cache.Insert("{ a }", a);
  cache.Insert("{ b }", b);
  EXPECT_EQ(cache.Find("{ a }"), a);  // now the most recent: b goes first
  cache.Insert("{ c }", c);
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(cache.Find("{ b }"), nullptr);
  EXPECT_EQ(cache.Find("{ a }"), a);
  EXPECT_EQ(cache.Find("{ c }"), c);
  cache.Insert("{ c }", Doc());  // a second insert of the same text keeps the first
  EXPECT_EQ(cache.Find("{ c }"), c);
  cache.Insert("{ too long }", Doc());  // over 10 bytes: never kept
  EXPECT_EQ(cache.Find("{ too long }"), nullptr);
  DocumentCache off(0, 100);
  off.Insert("{ a }", a);
  EXPECT_EQ(off.Find("{ a }"), nullptr);
}

class EngineCacheTest : public ::testing::Test {
 protected:
  std::shared_ptr<const Schema> schema_{testing::BuildAnimeSchema()};
  std::unique_ptr<testing::AnimeData> data_{
      testing::LoadAnimeData(testing::DefaultAnimeDataPath())};

  std::string Run(const Engine& engine, std::string_view query, std::string_view variables = {}) {
    EngineRequest req;
    req.query = query;
    req.variables_json = variables;
    req.context = data_.get();
    return engine.Execute(req).json;
  }
};

TEST_F(EngineCacheTest, AnswersAreTheSameFromTheCacheAndWithout) {
  Engine cached(schema_);
  Engine uncached(schema_, EngineOptions{.document_cache_entries = 0});
  const char* queries[] = {
      "query($id: ID!) { anime(id: $id) { title } }", "{ search(term: \"a\") { __typename } }",
      "{ nope }",                       // validation error
      "{ anime(id: \"a1\") { title }",  // parse error
  };
  for (const char* q : queries) {
    std::string first = Run(uncached, q, R"({"id": "a1"})");
    EXPECT_EQ(Run(cached, q, R"({"id": "a1"})"), first) << q;
    EXPECT_EQ(Run(cached, q, R"({"id": "a1"})"), first) << q << " (cached)";
  }
  // The same text is prepared once; its variables still apply per request.
  EXPECT_EQ(cached.Prepare(queries[0]), cached.Prepare(queries[0]));
  EXPECT_NE(uncached.Prepare(queries[0]), uncached.Prepare(queries[0]));
  EXPECT_NE(Run(cached, queries[0], R"({"id": "a1"})"), Run(cached, queries[0], R"({"id": "a2"})"));
}

TEST_F(EngineCacheTest, ConcurrentRequestsHitMissAndEvictSafely) {
  Engine engine(schema_, EngineOptions{.document_cache_entries = 4});
  std::string expected = Run(engine, "{ anime(id: \"a1\") { title } }");
  ASSERT_NE(expected.find("\"title\":\""), std::string::npos) << expected;
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        // Six texts over four entries: hits, misses and evictions while others execute.
        std::string q =
            "{ anime(id: \"a1\") { title } }" + std::string(static_cast<size_t>((i + t) % 6), ' ');
        if (Run(engine, q) != expected) ++mismatches;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

}  // namespace
}  // namespace psvc::graphql

// The write path against a real database: each event type, idempotency, staleness, pending
// relations, set replacement, invalid input and atomicity (row counts before and after).
#include "write/event_applier.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <random>
#include <thread>

#include "db/error.h"
#include "db/pool.h"
#include "testing/test_database.h"
#include "testing/wait_until.h"

namespace psvc::write {
namespace {

std::string U(int n) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012x", n);
  return buf;
}
std::string E(int n) {  // event ids
  char buf[40];
  std::snprintf(buf, sizeof buf, "eeeeeeee-0000-4000-8000-%012x", n);
  return buf;
}

constexpr int64_t kT0 = 1700000000000;

Event MakeEnriched(int event, int anime, int64_t at, std::vector<int> characters = {},
                   std::vector<std::pair<int, const char*>> relations = {}) {
  AnimeEnriched a;
  a.anime_id = U(anime);
  a.fields.title = "Anime " + std::to_string(anime);
  a.fields.year = 2000 + anime;
  a.fields.synonyms = {"syn \"quoted\"", "日本"};
  for (int c : characters)
    a.characters.push_back({U(1000 + c), "Char " + std::to_string(c), {}, "MAIN", c});
  a.companies.push_back({U(5000), "Studio", "studio"});
  for (auto& [r, type] : relations) a.relations.push_back({U(r), type});
  a.original_works.push_back({U(7000 + anime), "Work", "MANGA", "Author"});
  return Event{E(event), at, "test", a};
}

class ApplierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pool_ = std::make_unique<db::Pool>(db::PoolOptions{.url = tdb_.url(), .size = 8});
    applier_ = std::make_unique<EventApplier>(*pool_);
    conn_.emplace(tdb_.Connect());
  }
  int64_t Count(const std::string& sql) { return conn_->Exec(sql).GetInt64(0, 0); }
  std::map<std::string, int64_t> Counts() {
    std::map<std::string, int64_t> out;
    for (const char* t :
         {"anime", "character", "company", "original_work", "episode", "anime_relation",
          "pending_anime_relation", "anime_character", "anime_company",
          "anime_original_work_relation", "qdrant_outbox", "processed_event"}) {
      out[t] = Count(std::string("SELECT count(*) FROM ") + t);
    }
    return out;
  }

  testing::TestDatabase tdb_;
  std::unique_ptr<db::Pool> pool_;
  std::unique_ptr<EventApplier> applier_;
  std::optional<db::Connection> conn_;
};

TEST_F(ApplierTest, EnrichedCreatesEverythingWithOneOutboxRowAndRedeliveryChangesNothing) {
  auto r = applier_->Apply(MakeEnriched(1, 1, kT0, {1, 2}));
  EXPECT_EQ(r.outcome, Outcome::kApplied);
  EXPECT_EQ(r.version, 1);
  auto after = Counts();
  EXPECT_EQ(after["anime"], 1);
  EXPECT_EQ(after["anime_character"], 2);
  EXPECT_EQ(after["anime_company"], 1);
  EXPECT_EQ(after["anime_original_work_relation"], 1);
  EXPECT_EQ(after["qdrant_outbox"], 1);
  EXPECT_EQ(after["processed_event"], 1);
  EXPECT_EQ(conn_->Exec("SELECT synonyms[1] FROM anime").Get(0, 0), "syn \"quoted\"");
  auto payload = conn_->Exec("SELECT convert_from(payload, 'UTF8'), event_type FROM qdrant_outbox");
  EXPECT_NE(std::string(payload.Get(0, 0)).find(U(1)), std::string::npos);
  EXPECT_EQ(payload.Get(0, 1), "AnimeEnriched");

  auto again = applier_->Apply(MakeEnriched(1, 1, kT0 + 5000, {3}));
  EXPECT_EQ(again.outcome, Outcome::kAlreadyApplied);
  EXPECT_EQ(Counts(), after);
}

TEST_F(ApplierTest, ReEnrichmentReplacesSetsAndStaleEnrichmentIsIgnored) {
  applier_->Apply(MakeEnriched(1, 1, kT0, {1, 2, 3}));
  auto r = applier_->Apply(MakeEnriched(2, 1, kT0 + 1000, {2}));
  EXPECT_EQ(r.outcome, Outcome::kApplied);
  EXPECT_EQ(r.version, 2);
  EXPECT_EQ(Count("SELECT count(*) FROM anime_character"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM character"), 3);  // characters stay; links replaced
  auto before = Counts();
  auto stale = applier_->Apply(MakeEnriched(3, 1, kT0 + 500, {1, 2, 3}));  // older than event 2
  EXPECT_EQ(stale.outcome, Outcome::kIgnoredStale);
  auto after = Counts();
  EXPECT_EQ(after["processed_event"], before["processed_event"] + 1);  // recorded...
  after["processed_event"] = before["processed_event"];
  EXPECT_EQ(after, before);  // ...and nothing else changed
  EXPECT_EQ(Count("SELECT version FROM anime"), 2);
  EXPECT_EQ(applier_->Apply(MakeEnriched(3, 1, kT0 + 500)).outcome, Outcome::kAlreadyApplied);
}

TEST_F(ApplierTest, RelationToAnAnimeNotYetArrivedIsKeptAndAppearsWhenItArrives) {
  applier_->Apply(MakeEnriched(1, 1, kT0, {}, {{2, "SEQUEL"}}));
  EXPECT_EQ(Count("SELECT count(*) FROM anime_relation"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM pending_anime_relation"), 1);
  applier_->Apply(MakeEnriched(2, 2, kT0, {}, {{1, "PREQUEL"}}));
  EXPECT_EQ(Count("SELECT count(*) FROM pending_anime_relation"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM anime_relation"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM anime_relation WHERE anime_id = '" + U(1) +
                  "' AND related_anime_id = '" + U(2) + "' AND relation_type = 'SEQUEL'"),
            1);
  // Anime 1's relations changed without an event for it: the outbox says so.
  EXPECT_EQ(Count("SELECT count(*) FROM qdrant_outbox WHERE event_type = 'AnimeRelationsChanged' "
                  "AND aggregate_id = '" +
                  U(1) + "'"),
            1);
  // Re-enriching 1 without the relation drops it (sets are replaced as a whole).
  applier_->Apply(MakeEnriched(3, 1, kT0 + 1, {}, {}));
  EXPECT_EQ(Count("SELECT count(*) FROM anime_relation WHERE anime_id = '" + U(1) + "'"), 0);
}

TEST_F(ApplierTest, TheSweepMaterializesAStrandedRelationWithAnOutboxRow) {
  applier_->Apply(MakeEnriched(1, 1, kT0));
  applier_->Apply(MakeEnriched(2, 2, kT0));
  // The state a race leaves: a pending relation whose target exists.
  conn_->Query(
      "INSERT INTO pending_anime_relation (anime_id, related_anime_id, relation_type) "
      "VALUES ($1, $2, 'SEQUEL')",
      {U(1), U(2)});
  EXPECT_EQ(applier_->MaterializeStrandedRelations(), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM pending_anime_relation"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM anime_relation"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM qdrant_outbox WHERE event_type = 'AnimeRelationsChanged' "
                  "AND aggregate_id = '" +
                  U(1) + "'"),
            1);
  EXPECT_EQ(applier_->MaterializeStrandedRelations(), 0);  // nothing left: a no-op
}

TEST_F(ApplierTest, EpisodesUpsertAndNeedAnExistingAnime) {
  applier_->Apply(MakeEnriched(1, 1, kT0));
  Event ep{E(2), kT0, "test", EpisodeAired{U(1), U(900), 3, "Ep 3", "2020-01-05", 1440}};
  EXPECT_EQ(applier_->Apply(ep).outcome, Outcome::kApplied);
  Event again{E(3), kT0, "test", EpisodeAired{U(1), U(901), 3, "Episode Three", {}, {}}};
  applier_->Apply(again);
  EXPECT_EQ(Count("SELECT count(*) FROM episode"), 1);
  EXPECT_EQ(conn_->Exec("SELECT title FROM episode").Get(0, 0), "Episode Three");
  EXPECT_EQ(Count("SELECT episode_count FROM anime"), 3);
  auto before = Counts();
  Event orphan{E(4), kT0, "test", EpisodeAired{U(42), U(902), 1, {}, {}, {}}};
  EXPECT_THROW(applier_->Apply(orphan), AnimeNotFound);
  EXPECT_EQ(Counts(), before);
}

TEST_F(ApplierTest, UpdatesApplyAtTheExpectedVersionOnlyAndOnlyTheMaskedFields) {
  applier_->Apply(MakeEnriched(1, 1, kT0));
  AnimeUpdated u{U(1), {"score", "title_english"}, {}, 1};
  u.fields.score = 8.25;
  u.fields.title_english = "English";
  u.fields.title = "";  // not masked: untouched
  auto r = applier_->Apply(Event{E(2), kT0 + 1, "test", u});
  EXPECT_EQ(r.outcome, Outcome::kApplied);
  EXPECT_EQ(r.version, 2);
  auto row = conn_->Exec("SELECT title, title_english, score, version FROM anime");
  EXPECT_EQ(row.Get(0, 0), "Anime 1");
  EXPECT_EQ(row.Get(0, 1), "English");
  EXPECT_EQ(row.GetDouble(0, 2), 8.25);
  auto before = Counts();
  u.fields.score = 1;
  auto stale = applier_->Apply(Event{E(3), kT0 + 2, "test", u});  // still based on version 1
  EXPECT_EQ(stale.outcome, Outcome::kIgnoredStale);
  EXPECT_NE(stale.message.find("version 2"), std::string::npos) << stale.message;
  EXPECT_EQ(conn_->Exec("SELECT score FROM anime").GetDouble(0, 0), 8.25);
  EXPECT_EQ(Count("SELECT count(*) FROM qdrant_outbox"), before["qdrant_outbox"]);
}

TEST_F(ApplierTest, InvalidEventsWriteNothing) {
  applier_->Apply(MakeEnriched(1, 1, kT0));
  auto before = Counts();
  auto bad = MakeEnriched(2, 2, kT0, {1});
  std::get<AnimeEnriched>(bad.payload).characters[0].character_id = "'; DROP TABLE anime; --";
  EXPECT_THROW(applier_->Apply(bad), InvalidEvent);
  auto self = MakeEnriched(3, 2, kT0, {}, {{2, "SEQUEL"}});
  EXPECT_THROW(applier_->Apply(self), InvalidEvent);
  EXPECT_EQ(Counts(), before);
}

TEST_F(ApplierTest, AFailureBeforeCommitLeavesNeitherTheChangeNorTheOutboxRow) {
  auto before = Counts();
  ApplierOptions o;
  o.before_commit = [](const Event&) { throw std::runtime_error("injected crash before commit"); };
  EventApplier failing(*pool_, o);
  EXPECT_THROW(failing.Apply(MakeEnriched(1, 1, kT0, {1, 2})), std::runtime_error);
  EXPECT_EQ(Counts(), before);
  // The same event applies normally afterwards: the failed attempt did not consume its id.
  EXPECT_EQ(applier_->Apply(MakeEnriched(1, 1, kT0, {1, 2})).outcome, Outcome::kApplied);
}

TEST_F(ApplierTest, ConcurrentDuplicatesApplyOnce) {
  std::atomic<int> applied{0}, duplicate{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      auto r = applier_->Apply(MakeEnriched(1, 1, kT0, {1, 2}));
      (r.outcome == Outcome::kApplied ? applied : duplicate)++;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(applied.load(), 1);
  EXPECT_EQ(duplicate.load(), 5);
  EXPECT_EQ(Count("SELECT count(*) FROM qdrant_outbox"), 1);
}

TEST_F(ApplierTest, RacingArrivalsNeverLoseARelation) {
  // Anime 2k+1 relates to 2k+2 while 2k+2 arrives at the same moment, many times over. A
  // relation written concurrently with its target's creation may stay pending until the
  // sweep; after it, every relation is real.
  for (int k = 0; k < 25; ++k) {
    int a = 10 + 2 * k, b = 11 + 2 * k;
    std::thread t1([&] { applier_->Apply(MakeEnriched(100 + a, a, kT0, {}, {{b, "SEQUEL"}})); });
    std::thread t2([&] { applier_->Apply(MakeEnriched(100 + b, b, kT0)); });
    t1.join();
    t2.join();
  }
  int stranded = applier_->MaterializeStrandedRelations();
  EXPECT_EQ(Count("SELECT count(*) FROM qdrant_outbox WHERE event_type = 'AnimeRelationsChanged'"),
            Count("SELECT count(DISTINCT aggregate_id) FROM qdrant_outbox WHERE event_type = "
                  "'AnimeRelationsChanged'"));
  EXPECT_GE(stranded, 0);
  EXPECT_EQ(Count("SELECT count(*) FROM pending_anime_relation"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM anime_relation"), 25);
}

TEST_F(ApplierTest, ConcurrentViewsAreAllCounted) {
  applier_->Apply(MakeEnriched(1, 1, kT0));
  constexpr int kThreads = 8, kEach = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i)
        applier_->Apply(Event{E(0), kT0, "graphql", AnimeViewed{U(1)}});
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(Count("SELECT view_count FROM anime"), kThreads * kEach);
  EXPECT_EQ(Count("SELECT count(*) FROM qdrant_outbox WHERE event_type = 'AnimeViewed'"),
            kThreads * kEach);
}

}  // namespace
}  // namespace psvc::write

namespace psvc::write {
namespace {

TEST_F(ApplierTest, ABatchGivesEachEventItsOutcomeAndRollsBackOnlyTheFailedOnes) {
  applier_->Apply(MakeEnriched(1, 1, kT0));
  std::vector<Event> batch;
  batch.push_back(MakeEnriched(2, 2, kT0, {1}));                                       // applied
  batch.push_back(Event{E(3), kT0, "t", EpisodeAired{U(77), U(900), 1, {}, {}, {}}});  // no anime
  auto bad = MakeEnriched(4, 4, kT0);
  std::get<AnimeEnriched>(bad.payload).anime_id = "bad";
  batch.push_back(bad);                                           // invalid
  batch.push_back(MakeEnriched(1, 1, kT0));                       // duplicate id
  batch.push_back(MakeEnriched(5, 5, kT0, {}, {{2, "SEQUEL"}}));  // sees event 2
  auto items = applier_->ApplyBatch(batch);
  ASSERT_EQ(items.size(), 5u);
  ASSERT_TRUE(items[0].result);
  EXPECT_EQ(items[0].result->outcome, Outcome::kApplied);
  EXPECT_EQ(items[1].error, BatchItem::Error::kNotFound);
  EXPECT_EQ(items[2].error, BatchItem::Error::kInvalid);
  EXPECT_NE(items[2].message.find("anime_enriched.anime_id"), std::string::npos);
  ASSERT_TRUE(items[3].result);
  EXPECT_EQ(items[3].result->outcome, Outcome::kAlreadyApplied);
  ASSERT_TRUE(items[4].result);
  EXPECT_EQ(items[4].result->outcome, Outcome::kApplied);
  EXPECT_EQ(Count("SELECT count(*) FROM anime"), 3);
  EXPECT_EQ(Count("SELECT count(*) FROM anime_relation"), 1);  // 5 -> 2 (2 existed by then)
  EXPECT_EQ(Count("SELECT count(*) FROM episode"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM processed_event"), 3);
  EXPECT_EQ(Count("SELECT count(*) FROM qdrant_outbox"), 3);
}

TEST_F(ApplierTest, AFailedBatchCommitAppliesNothing) {
  auto before = Counts();
  ApplierOptions o;
  int calls = 0;
  o.before_commit = [&calls](const Event&) {
    if (++calls == 2) throw std::runtime_error("injected crash in the middle of a batch");
  };
  EventApplier failing(*pool_, o);
  EXPECT_THROW(failing.ApplyBatch({MakeEnriched(1, 1, kT0), MakeEnriched(2, 2, kT0)}),
               std::runtime_error);
  EXPECT_EQ(Counts(), before);
}

}  // namespace
}  // namespace psvc::write

namespace psvc::write {
namespace {

// A random stream of events over a small id space, so events collide: re-enrichments that
// drop characters, stale and redelivered events, relations to anime that arrive later (or in
// the same batch), shared studios and characters renamed by later events, episodes and
// updates between enrichments.
std::vector<Event> RandomEvents(uint32_t seed, int n) {
  std::mt19937 rng(seed);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  const char* kRelations[] = {"SEQUEL", "PREQUEL", "SIDE_STORY", "ALTERNATIVE"};
  const char* kRoles[] = {"MAIN", "SUPPORTING", "BACKGROUND"};
  std::vector<Event> out;
  for (int k = 0; k < n; ++k) {
    int64_t at = kT0 + pick(0, 4000) * 1000;
    int dice = pick(0, 9);
    if (dice == 0 && !out.empty()) {  // a redelivery, maybe in the same batch
      out.push_back(out[pick(0, static_cast<int>(out.size()) - 1)]);
      continue;
    }
    int anime = pick(1, 24);
    if (dice == 1) {
      out.push_back(Event{E(10000 + k), at, "t",
                          EpisodeAired{U(anime), U(20000 + k), pick(1, 30), "Ep", {}, {}}});
      continue;
    }
    if (dice == 2) {
      AnimeUpdated u{U(anime), {"score"}, {}, pick(1, 3)};
      u.fields.score = pick(10, 99) / 10.0;
      out.push_back(Event{E(10000 + k), at, "t", u});
      continue;
    }
    AnimeEnriched a;
    a.anime_id = U(anime);
    a.fields.title = "Anime " + std::to_string(anime) + (pick(0, 1) ? " v2" : "");
    a.fields.year = 1990 + pick(0, 30);
    if (pick(0, 1)) a.fields.synonyms = {"Syn " + std::to_string(pick(0, 5)), "Ｓｙｎ"};
    std::vector<int> chars;
    for (int c = pick(0, 5); c > 0; --c) {
      int id = pick(1, 40);
      if (std::find(chars.begin(), chars.end(), id) != chars.end()) continue;
      chars.push_back(id);
      a.characters.push_back({U(1000 + id),
                              "Char " + std::to_string(id) + "." + std::to_string(pick(0, 2)),
                              pick(0, 1) ? std::optional<std::string>("キャラ") : std::nullopt,
                              kRoles[pick(0, 2)], pick(0, 50)});
    }
    a.companies.push_back({U(5000 + pick(1, 4)), "Studio " + std::to_string(pick(0, 1)), "studio"});
    std::vector<int> rel;
    for (int r = pick(0, 3); r > 0; --r) {
      int target = pick(1, 30);  // 25..30 never arrive: their relations stay pending
      if (target == anime || std::find(rel.begin(), rel.end(), target) != rel.end()) continue;
      rel.push_back(target);
      a.relations.push_back({U(target), kRelations[pick(0, 3)]});
    }
    if (pick(0, 1)) a.original_works.push_back({U(7000 + pick(1, 6)), "Work", "MANGA", {}});
    out.push_back(Event{E(10000 + k), at, "t", a});
  }
  return out;
}

// Every catalogue table, in a canonical text form (timestamps set by now() left out).
std::string Dump(db::Connection& conn) {
  std::string out;
  for (const char* t :
       {"anime", "character", "company", "original_work", "episode", "anime_relation",
        "pending_anime_relation", "anime_character", "anime_company",
        "anime_original_work_relation", "processed_event", "search_term"}) {
    out += std::string("== ") + t + "\n";
    out +=
        conn.Exec(std::string("SELECT coalesce(string_agg(j::text, E'\\n' ORDER BY j::text), '') "
                              "FROM (SELECT to_jsonb(t) - ARRAY['created_at', 'updated_at', "
                              "'processed_at'] AS j FROM ") +
                  t + " t) s")
            .Get(0, 0);
    out += "\n";
  }
  // The outbox per anime, in order; AnimeRelationsChanged rows depend on how events were
  // grouped (a relation to an anime of the same batch needs none) and are checked apart.
  out += "== outbox\n";
  out += conn.Exec(
                 "SELECT coalesce(string_agg(x, E'\\n' ORDER BY x), '') FROM ("
                 "SELECT aggregate_id || ': ' || string_agg(convert_from(payload, 'UTF8'), ' ; ' "
                 "ORDER BY id) AS x FROM qdrant_outbox WHERE event_type <> "
                 "'AnimeRelationsChanged' GROUP BY aggregate_id) s")
             .Get(0, 0);
  return out;
}

std::string Describe(const BatchItem& item) {
  if (item.result) {
    return std::string(ToString(item.result->outcome)) + " v" +
           std::to_string(item.result->version);
  }
  return "error " + std::to_string(static_cast<int>(item.error));
}

// ApplyBatch against the same events applied one at a time with Apply, each in its own
// transaction: what runs of many must add (last mention wins, relations to anime of the same
// run, redeliveries and stale events inside a batch, fallbacks) changes no outcome, version or
// row. (Single events themselves are checked against hand-written answers above.)
TEST(ApplyBatchEquivalence, MatchesApplyingEachEventAloneOnRandomStreams) {
  for (uint32_t seed : {1u, 2u, 3u}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    auto events = RandomEvents(seed, 180);
    testing::TestDatabase ref_db, batch_db;
    db::Pool ref_pool({.url = ref_db.url(), .size = 1}),
        batch_pool({.url = batch_db.url(), .size = 1});
    EventApplier ref(ref_pool), batched(batch_pool);
    std::vector<std::string> ref_outcomes, batch_outcomes;
    for (const auto& e : events) {
      BatchItem item;
      try {
        item.result = ref.Apply(e);
      } catch (const AnimeNotFound&) {
        item.error = BatchItem::Error::kNotFound;
      }
      ref_outcomes.push_back(Describe(item));
    }
    std::mt19937 rng(seed);
    for (size_t k = 0; k < events.size();) {
      size_t n = std::min(events.size() - k,
                          static_cast<size_t>(std::uniform_int_distribution<int>(1, 40)(rng)));
      auto items = batched.ApplyBatch({events.begin() + k, events.begin() + k + n});
      for (const auto& item : items) batch_outcomes.push_back(Describe(item));
      k += n;
    }
    ASSERT_EQ(batch_outcomes, ref_outcomes);
    auto ref_conn = ref_db.Connect();
    auto batch_conn = batch_db.Connect();
    EXPECT_EQ(Dump(batch_conn), Dump(ref_conn));
    // Each anime whose relations changed without an event of its own was told so.
    auto missing = batch_conn.Exec(
        "SELECT count(*) FROM anime_relation r WHERE NOT EXISTS (SELECT 1 FROM qdrant_outbox o "
        "WHERE o.aggregate_id = r.anime_id)");
    EXPECT_EQ(missing.GetInt64(0, 0), 0);
  }
}

TEST_F(ApplierTest, ARunThatTheDatabaseRefusesFallsBackToOneByOne) {
  // The set-based run fails as a whole (here: event 2, refused as if by a constraint); the
  // run is undone and applied event by event, so only event 2 fails.
  ApplierOptions o;
  o.before_commit = [](const Event& e) {
    if (e.event_id == E(2)) throw db::DbError(db::ErrorKind::kInvalidInput, "refused", "23514");
  };
  EventApplier picky(*pool_, o);
  auto items = picky.ApplyBatch({MakeEnriched(1, 1, kT0, {1}), MakeEnriched(2, 2, kT0, {2}),
                                 MakeEnriched(3, 3, kT0, {3}, {{2, "SEQUEL"}})});
  ASSERT_EQ(items.size(), 3u);
  ASSERT_TRUE(items[0].result);
  EXPECT_EQ(items[0].result->outcome, Outcome::kApplied);
  EXPECT_FALSE(items[1].result);
  EXPECT_EQ(items[1].error, BatchItem::Error::kInvalid);
  EXPECT_EQ(items[1].db_error, db::ErrorKind::kInvalidInput);
  ASSERT_TRUE(items[2].result);
  EXPECT_EQ(items[2].result->outcome, Outcome::kApplied);
  EXPECT_EQ(Count("SELECT count(*) FROM anime"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM anime_character"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM pending_anime_relation"), 1);  // 3 -> 2, which failed
  EXPECT_EQ(Count("SELECT count(*) FROM processed_event"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM qdrant_outbox"), 2);
}

// A relation whose target a saga purges while the event waits for the target's row lock: the
// foreign key fails once the purge commits; the event is applied again and the edge follows
// the redirect the purge left (instead of the event failing as invalid).
TEST_F(ApplierTest, ARelationToAnAnimePurgedMeanwhileFollowsItsRedirect) {
  ASSERT_EQ(applier_->Apply(MakeEnriched(1, 1, kT0)).outcome, Outcome::kApplied);  // duplicate
  ASSERT_EQ(applier_->Apply(MakeEnriched(2, 2, kT0)).outcome, Outcome::kApplied);  // survivor
  // What MergeAnime's finalization does, held open.
  db::Connection saga = tdb_.Connect();
  saga.Exec("BEGIN");
  saga.Exec("SELECT 1 FROM anime WHERE id = '" + U(1) + "' FOR UPDATE");
  saga.Exec("INSERT INTO anime_redirect (from_id, to_id, saga_id) VALUES ('" + U(1) + "', '" +
            U(2) + "', gen_random_uuid())");
  saga.Exec("DELETE FROM anime WHERE id = '" + U(1) + "'");

  std::optional<ApplyResult> result;
  std::string error;
  std::thread writer([&] {
    try {
      result = applier_->Apply(MakeEnriched(3, 3, kT0, {}, {{1, "SEQUEL"}}));
    } catch (const std::exception& e) {
      error = e.what();
    }
  });
  // The writer waits for the purge's row lock (its foreign key check), then the purge commits.
  EXPECT_TRUE(testing::WaitUntil(
      [&] {
        return Count(
                   "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                   "AND wait_event_type = 'Lock'") > 0;
      },
      std::chrono::seconds(20)));
  saga.Exec("COMMIT");
  writer.join();
  ASSERT_TRUE(result) << error;
  EXPECT_EQ(result->outcome, Outcome::kApplied);
  EXPECT_EQ(conn_
                ->Exec("SELECT related_anime_id::text FROM anime_relation WHERE anime_id = '" +
                       U(3) + "'")
                .Get(0, 0),
            U(2));
}

}  // namespace
}  // namespace psvc::write

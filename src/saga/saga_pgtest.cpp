// Sagas against a real PostgreSQL and the shared nats-server: the outbox relay publishes the
// saga's requests to JetStream, a test participant subscribes as the Qdrant Sync Service
// would and confirms, refuses or stays silent.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "db/connection.h"
#include "db/pool.h"
#include "events/detail/nats_util.h"
#include "events/outbox_relay.h"
#include "graph/graph_queries.h"
#include "observability/metrics.h"
#include "saga/saga_metrics.h"
#include "saga/saga_runner.h"
#include "saga/saga_store.h"
#include "saga/saga_test_support.h"
#include "testing/test_database.h"
#include "write/event_applier.h"

namespace psvc::saga {
namespace {

using namespace std::chrono_literals;
using namespace fixture;

class SagaTest : public ::testing::Test {
 protected:
  SagaTest() : conn_(tdb_.Connect()) {
    std::string n = tdb_.name();
    for (char& c : n) c = static_cast<char>(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
    stream_ = "T_SAGA_" + n;
    prefix_ = "t." + n + ".changes";
    reply_prefix_ = "t." + n + ".replies";
    pool_ = std::make_unique<db::Pool>(db::PoolOptions{.url = tdb_.url(), .size = 8});
    Seed();

    events::OutboxRelayOptions ro;
    ro.database_url = tdb_.url();
    ro.nats_url = NatsUrl();
    ro.stream = stream_;
    ro.subject_prefix = prefix_;
    ro.poll_interval = 100ms;
    ro.retry_initial = 20ms;
    ro.retry_max = 300ms;
    relay_ = std::make_unique<events::OutboxRelay>(ro);
    participant_ = std::make_unique<Participant>(prefix_);
    relay_->Start();
  }

  ~SagaTest() override {
    runners_.clear();
    relay_->Stop();
    participant_.reset();
    DeleteStreams({stream_});
  }

  SagaRunnerOptions RunnerOptions(const std::string& owner) {
    SagaRunnerOptions o;
    o.nats_url = NatsUrl();
    o.reply_subject_prefix = reply_prefix_;
    o.reply_queue_group = "q_" + reply_prefix_;
    o.owner_id = owner;
    o.lease_ttl = 2000ms;
    o.poll_interval = 50ms;
    o.reply_timeout = 5000ms;
    o.retry_initial = 20ms;
    o.retry_max = 200ms;
    return o;
  }

  SagaRunner& AddRunner(SagaRunnerOptions o) {
    runners_.push_back(std::make_unique<SagaRunner>(*pool_, std::move(o)));
    runners_.back()->Start();
    return *runners_.back();
  }

  SagaStore& Store() {
    if (!store_) {
      store_ = std::make_unique<SagaStore>(*pool_, [this] {
        for (auto& r : runners_) r->Wake();
      });
    }
    return *store_;
  }

  /// A: the duplicate, B: the survivor, C, D, E, F: neighbours.
  void Seed() { SeedCatalogue(conn_); }

  /// Every row of every table a saga touches, as text, in a fixed order.
  std::vector<std::string> Dump() { return DumpSagaTables(conn_); }

  std::string Status(const std::string& saga_id) {
    auto v = Store().Get(saga_id);
    return v ? v->status : "?";
  }

  bool WaitStatus(const std::string& saga_id, const std::string& status,
                  std::chrono::milliseconds timeout = 20s) {
    return WaitUntil([&] { return Status(saga_id) == status; }, timeout);
  }

  std::string Scalar(const std::string& sql) {
    auto res = conn_.Exec(sql);
    return res.rows() && !res.IsNull(0, 0) ? std::string(res.Get(0, 0)) : "";
  }

  int64_t Count(const std::string& sql) { return std::stoll(Scalar(sql)); }

  std::string StartMerge(const std::string& dup, const std::string& surv,
                         const std::string& req = "") {
    auto r = Store().StartMerge(req.empty() ? "merge-" + dup + "-" + surv : req, dup, surv);
    EXPECT_EQ(r.code, Code::kOk) << r.message;
    return r.saga_id;
  }

  testing::TestDatabase tdb_;
  db::Connection conn_;
  std::string stream_, prefix_, reply_prefix_;
  std::unique_ptr<db::Pool> pool_;
  std::unique_ptr<events::OutboxRelay> relay_;
  std::unique_ptr<Participant> participant_;
  std::unique_ptr<SagaStore> store_;
  std::vector<std::unique_ptr<SagaRunner>> runners_;
};

TEST_F(SagaTest, MergeHappyPath) {
  auto& runner = AddRunner(RunnerOptions("r1"));
  std::string id = StartMerge(kA, kB);
  ASSERT_TRUE(WaitStatus(id, "COMPLETED")) << Status(id);
  ExpectMerged(conn_);
  observability::MetricsRegistry metrics;
  AddSagaMetrics(metrics, runner, Store());
  std::string text = metrics.Render();
  EXPECT_NE(text.find("psvc_sagas{status=\"COMPLETED\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("psvc_saga_steps_done_total 3"), std::string::npos) << text;
  EXPECT_EQ(participant_->Requests("AnimeMerged"), 1);
  auto v = Store().Get(id);
  ASSERT_TRUE(v);
  ASSERT_EQ(v->steps.size(), 3u);
  for (const auto& s : v->steps) EXPECT_EQ(s.status, "DONE") << s.name;
  EXPECT_EQ(v->steps[1].reply, "CONFIRMED");
  EXPECT_EQ(
      Scalar("SELECT payload_text FROM (SELECT convert_from(payload, 'UTF8') AS payload_text "
             "FROM qdrant_outbox WHERE event_type = 'AnimeMerged') p")
              .find("\"reply_subject\":\"" + reply_prefix_ + "." + id + "\"") != std::string::npos,
      true);
}

TEST_F(SagaTest, MergeRefusedRestoresEveryRowExactly) {
  auto before = Dump();
  participant_->set_mode(Participant::Mode::kRefuse);
  AddRunner(RunnerOptions("r1"));
  std::string id = StartMerge(kA, kB);
  ASSERT_TRUE(WaitStatus(id, "COMPENSATED")) << Status(id);
  EXPECT_EQ(Dump(), before);
  auto v = Store().Get(id);
  EXPECT_EQ(v->steps[0].status, "COMPENSATED");
  EXPECT_EQ(v->steps[1].status, "FAILED");
  EXPECT_NE(v->last_error.find("refused"), std::string::npos) << v->last_error;
  EXPECT_EQ(Count("SELECT count(*) FROM qdrant_outbox WHERE event_type = 'AnimeMergeReverted'"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM saga_anime_lock"), 0);
}

TEST_F(SagaTest, MergeTimeoutRetriesThenRestoresEveryRowExactly) {
  auto before = Dump();
  participant_->set_mode(Participant::Mode::kSilent);
  auto o = RunnerOptions("r1");
  o.reply_timeout = 300ms;
  o.max_remote_attempts = 2;
  AddRunner(o);
  std::string id = StartMerge(kA, kB);
  ASSERT_TRUE(WaitStatus(id, "COMPENSATED")) << Status(id);
  EXPECT_EQ(Dump(), before);
  EXPECT_TRUE(WaitUntil([&] { return participant_->Requests("AnimeMerged") == 2; }, 5s));
  EXPECT_EQ(Count("SELECT count(*) FROM qdrant_outbox WHERE event_type = 'AnimeMerged'"), 2);
  auto v = Store().Get(id);
  EXPECT_NE(v->last_error.find("no reply after 2"), std::string::npos) << v->last_error;
}

TEST_F(SagaTest, RemoveHappyPathAndRefusal) {
  AddRunner(RunnerOptions("r1"));
  auto before = Dump();
  participant_->set_mode(Participant::Mode::kRefuse);
  auto refused = Store().StartRemove("remove-c-1", kC, "takedown request #1");
  ASSERT_EQ(refused.code, Code::kOk) << refused.message;
  ASSERT_TRUE(WaitStatus(refused.saga_id, "COMPENSATED"));
  EXPECT_EQ(Dump(), before);
  EXPECT_EQ(Count("SELECT count(*) FROM qdrant_outbox WHERE event_type = 'AnimeRemovalReverted'"),
            1);

  participant_->set_mode(Participant::Mode::kConfirm);
  auto ok = Store().StartRemove("remove-c-2", kC, "takedown request #2");
  ASSERT_EQ(ok.code, Code::kOk) << ok.message;
  ASSERT_TRUE(WaitStatus(ok.saga_id, "COMPLETED"));
  EXPECT_EQ(Count("SELECT count(*) FROM anime WHERE id = '" + kC + "'"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM anime_relation WHERE '" + kC +
                  "' IN (anime_id, related_anime_id)"),
            0);
  EXPECT_EQ(Scalar("SELECT reason FROM anime_tombstone WHERE anime_id = '" + kC + "'"),
            "takedown request #2");
  EXPECT_EQ(Scalar("SELECT psvc_resolve_anime_id('" + kC + "')"), "");
}

TEST_F(SagaTest, WhileSagasWaitWritesApplyAndOnlyTheRemovedAnimeIsHidden) {
  participant_->set_mode(Participant::Mode::kSilent);
  auto o = RunnerOptions("r1");
  o.reply_timeout = 60s;
  AddRunner(o);
  std::string merge = StartMerge(kA, kB);
  auto rm = Store().StartRemove("remove-d", kD, "dmca");
  ASSERT_EQ(rm.code, Code::kOk);
  ASSERT_TRUE(WaitUntil(
      [&] {
        return participant_->Requests("AnimeMerged") == 1 &&
               participant_->Requests("AnimeRemoved") == 1;
      },
      10s));
  // The merge changes nothing before its confirmation; the removal hides D from reads.
  EXPECT_EQ(Scalar("SELECT psvc_resolve_anime_id('" + kA + "')"), kA);
  EXPECT_EQ(Scalar("SELECT psvc_resolve_anime_id('" + kD + "')"), "");
  EXPECT_EQ(Scalar("SELECT psvc_resolve_anime_id('" + kB + "')"), kB);
  EXPECT_EQ(Count("SELECT count(*) FROM anime_character WHERE anime_id = '" + kA + "'"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM episode WHERE anime_id = '" + kA + "'"), 3);

  // Writes to every anime a waiting saga names apply as usual (docs/sagas.md).
  write::EventApplier applier(*pool_);
  write::Event ev;
  ev.event_id = "50000000-0000-0000-0000-000000000001";
  ev.occurred_at_ms = 1700000000000;
  ev.producer = "test";
  ev.payload = write::EpisodeAired{kA, "40000000-0000-0000-0000-000000000099", 9, "late", {}, {}};
  EXPECT_EQ(applier.Apply(ev).outcome, write::Outcome::kApplied);
  ev.event_id = "50000000-0000-0000-0000-000000000002";
  write::AnimeEnriched enriched;
  enriched.anime_id = kD;
  enriched.fields.title = "Other Show again";
  ev.payload = enriched;
  EXPECT_EQ(applier.Apply(ev).outcome, write::Outcome::kApplied);
  ev.payload = write::AnimeViewed{kD};
  EXPECT_EQ(applier.Apply(ev).outcome, write::Outcome::kApplied);

  // Graph primitives neither return nor expand the hidden anime; the merge's are untouched
  // (generic plans, as the service runs them).
  for (const auto& setup : graph::GraphQueries::SessionSetup()) conn_.Exec(setup);
  graph::GraphQueries graph(conn_, std::chrono::steady_clock::now() + 10s, 2000ms);
  auto all = graph::EdgeFilter::All();
  std::set<std::string> seen;
  for (const auto& id : {kB, kC, kE}) {
    for (const auto& e : graph.Neighbors(id, all, 50, 5).edges) seen.insert(e.node_id);
  }
  EXPECT_TRUE(seen.contains(kA));  // C's PREQUEL: still A until the merge is confirmed
  EXPECT_FALSE(seen.contains(kD));
  EXPECT_TRUE(graph.Neighbors(kA, all, 50, 5).start_found);
  EXPECT_FALSE(graph.Neighbors(kD, all, 50, 5).start_found);
  EXPECT_FALSE(graph.Path(kC, kD, all, 5, 5, 1000).to_found);
  auto hop =
      graph.KHop(kB, all,
                 graph::AppliedLimits{
                     .max_hops = 3, .max_fanout_per_hop = 50, .max_results = 50, .hub_window = 5});
  EXPECT_FALSE(hop.nodes.empty());
  for (const auto& n : hop.nodes) EXPECT_NE(n.node_id, kD);

  // Abort before the point of no return: compensation, the writes stay.
  EXPECT_EQ(Store().Abort(merge, "test").code, Code::kOk);
  EXPECT_EQ(Store().Abort(rm.saga_id, "test").code, Code::kOk);
  ASSERT_TRUE(WaitStatus(merge, "COMPENSATED"));
  ASSERT_TRUE(WaitStatus(rm.saga_id, "COMPENSATED"));
  EXPECT_EQ(Scalar("SELECT psvc_resolve_anime_id('" + kA + "')"), kA);
  EXPECT_EQ(Scalar("SELECT psvc_resolve_anime_id('" + kD + "')"), kD);
  EXPECT_EQ(Scalar("SELECT title FROM anime WHERE id = '" + kD + "'"), "Other Show again");
  EXPECT_EQ(Scalar("SELECT title FROM episode WHERE number = 9 AND anime_id = '" + kA + "'"),
            "late");
}

// The two cases a snapshot-restoring compensation got wrong: an episode upsert on a number the
// merge had moved, and an enrichment naming a character that had arrived with the merge.
TEST_F(SagaTest, CompensatedMergeKeepsWritesMadeToTheSurvivorWhileItWaited) {
  participant_->set_mode(Participant::Mode::kSilent);
  auto o = RunnerOptions("r1");
  o.reply_timeout = 60s;
  AddRunner(o);
  std::string merge = StartMerge(kA, kB);
  ASSERT_TRUE(WaitUntil([&] { return participant_->Requests("AnimeMerged") == 1; }, 10s));
  write::EventApplier applier(*pool_);
  write::Event ev;
  ev.event_id = "50000000-0000-0000-0000-000000000011";
  ev.occurred_at_ms = 1700000000000;
  ev.producer = "test";
  ev.payload =
      write::EpisodeAired{kB, "40000000-0000-0000-0000-000000000022", 2, "real two", {}, {}};
  ASSERT_EQ(applier.Apply(ev).outcome, write::Outcome::kApplied);
  ev.event_id = "50000000-0000-0000-0000-000000000012";
  write::AnimeEnriched enriched;
  enriched.anime_id = kB;
  enriched.fields.title = "Real Show";
  enriched.characters = {{"10000000-0000-0000-0000-000000000002", "Rival", {}, "MAIN", 0}};
  ev.payload = enriched;
  ASSERT_EQ(applier.Apply(ev).outcome, write::Outcome::kApplied);

  EXPECT_EQ(Store().Abort(merge, "test").code, Code::kOk);
  ASSERT_TRUE(WaitStatus(merge, "COMPENSATED"));
  EXPECT_EQ(
      Scalar("SELECT id::text || ' ' || title FROM episode WHERE number = 2 AND anime_id = '" + kB +
             "'"),
      "40000000-0000-0000-0000-000000000022 real two");
  EXPECT_EQ(Scalar("SELECT title FROM episode WHERE number = 2 AND anime_id = '" + kA + "'"),
            "dup two");
  EXPECT_EQ(Scalar("SELECT string_agg(right(character_id::text, 1), ',' ORDER BY 1) FROM "
                   "anime_character WHERE anime_id = '" +
                   kB + "'"),
            "2");
  EXPECT_EQ(Scalar("SELECT string_agg(right(character_id::text, 1), ',' ORDER BY 1) FROM "
                   "anime_character WHERE anime_id = '" +
                   kA + "'"),
            "1,2");
}

// Confirmed: the merge takes the duplicate as it is at finalization, writes made while the
// merge waited included.
TEST_F(SagaTest, ConfirmedMergeTakesWritesMadeToTheDuplicateWhileItWaited) {
  participant_->set_mode(Participant::Mode::kSilent);
  auto o = RunnerOptions("r1");
  o.reply_timeout = 60s;
  AddRunner(o);
  std::string merge = StartMerge(kA, kB);
  ASSERT_TRUE(WaitUntil([&] { return participant_->Requests("AnimeMerged") == 1; }, 10s));
  write::EventApplier applier(*pool_);
  write::Event ev;
  ev.event_id = "50000000-0000-0000-0000-000000000021";
  ev.occurred_at_ms = 1700000000000;
  ev.producer = "test";
  ev.payload =
      write::EpisodeAired{kA, "40000000-0000-0000-0000-000000000044", 4, "dup four", {}, {}};
  ASSERT_EQ(applier.Apply(ev).outcome, write::Outcome::kApplied);
  ev.payload = write::AnimeViewed{kA};
  ASSERT_EQ(applier.Apply(ev).outcome, write::Outcome::kApplied);
  // Confirm by hand: the participant stays silent, the runner listens.
  auto nc = events::detail::Connect(NatsUrl(), "test-confirm", 2000ms);
  natsMsg* raw = nullptr;
  ASSERT_EQ(natsMsg_Create(&raw, (reply_prefix_ + "." + merge).c_str(), nullptr, "", 0), NATS_OK);
  events::detail::NatsPtr<natsMsg> msg(raw);
  natsMsgHeader_Set(raw, "Psvc-Saga-Outcome", "CONFIRMED");
  ASSERT_EQ(natsConnection_PublishMsg(nc.get(), raw), NATS_OK);
  ASSERT_TRUE(WaitStatus(merge, "COMPLETED"));
  EXPECT_EQ(Scalar("SELECT title FROM episode WHERE number = 4 AND anime_id = '" + kB + "'"),
            "dup four");
  EXPECT_EQ(Scalar("SELECT view_count FROM anime WHERE id = '" + kB + "'"), "108");
  EXPECT_EQ(Count("SELECT count(*) FROM qdrant_outbox WHERE event_type = 'AnimeMergeCompleted' "
                  "AND aggregate_id = '" +
                  kB + "'"),
            1);
}

TEST_F(SagaTest, FinishedMergeRedirectsLaterEvents) {
  AddRunner(RunnerOptions("r1"));
  std::string id = StartMerge(kA, kB);
  ASSERT_TRUE(WaitStatus(id, "COMPLETED"));
  write::EventApplier applier(*pool_);
  write::Event ev;
  ev.event_id = "50000000-0000-0000-0000-000000000003";
  ev.occurred_at_ms = 1700000000000;
  ev.producer = "test";
  write::AnimeEnriched enriched;  // re-ingesting the duplicate must not bring it back
  enriched.anime_id = kA;
  enriched.fields.title = "Dup Show";
  ev.payload = enriched;
  auto stale = applier.Apply(ev);
  EXPECT_EQ(stale.outcome, write::Outcome::kIgnoredStale);
  EXPECT_EQ(stale.merged_into, kB);
  EXPECT_NE(stale.message.find("merged into " + kB), std::string::npos) << stale.message;
  EXPECT_EQ(Count("SELECT count(*) FROM anime WHERE id = '" + kA + "'"), 0);
  // A view of the merged id is not counted on the survivor either; the answer names it.
  ev.event_id = "50000000-0000-0000-0000-000000000005";
  ev.payload = write::AnimeViewed{kA};
  auto view = applier.Apply(ev);
  EXPECT_EQ(view.outcome, write::Outcome::kIgnoredStale);
  EXPECT_EQ(view.merged_into, kB);
  EXPECT_EQ(Scalar("SELECT view_count FROM anime WHERE id = '" + kB + "'"), "107");
  // A relation naming the merged id lands on the survivor.
  ev.event_id = "50000000-0000-0000-0000-000000000004";
  enriched.anime_id = kE;
  enriched.fields.title = "Fifth Show";
  enriched.relations = {{kA, "PREQUEL"}};
  ev.payload = enriched;
  EXPECT_EQ(applier.Apply(ev).outcome, write::Outcome::kApplied);
  EXPECT_EQ(Scalar("SELECT related_anime_id FROM anime_relation WHERE anime_id = '" + kE + "'"),
            kB);
}

TEST_F(SagaTest, CrashBetweenMergeAndConfirmationIsResumedByAnotherRunner) {
  participant_->set_mode(Participant::Mode::kSilent);
  auto o1 = RunnerOptions("crashing");
  std::atomic<bool> crashed{false};
  o1.fault_hook = [&](std::string_view, std::string_view step, FaultPoint p) {
    if (step == "merge" && p == FaultPoint::kAfterCommit) crashed = true;
    return crashed.load();
  };
  auto& r1 = AddRunner(o1);
  std::string id = StartMerge(kA, kB);
  ASSERT_TRUE(WaitUntil([&] { return crashed.load(); }, 10s));
  r1.Stop();  // the process is gone: no reply listener, no workers
  // Nothing moves before the confirmation.
  EXPECT_EQ(Count("SELECT count(*) FROM anime_character WHERE anime_id = '" + kA + "'"), 2);
  EXPECT_EQ(Scalar("SELECT merged_into FROM anime WHERE id = '" + kA + "'"), "");
  // The relay publishes asynchronously: only once the participant has ignored the first
  // request may it start confirming, or it would confirm that one (no second request).
  ASSERT_TRUE(WaitUntil([&] { return participant_->Requests("AnimeMerged") == 1; }, 10s));

  participant_->set_mode(Participant::Mode::kConfirm);
  auto o2 = RunnerOptions("successor");
  o2.reply_timeout = 300ms;  // the first request's reply never came: ask again
  AddRunner(o2);
  ASSERT_TRUE(WaitStatus(id, "COMPLETED")) << Status(id);
  ExpectMerged(conn_);
  EXPECT_EQ(Count("SELECT count(*) FROM qdrant_outbox WHERE event_type = 'AnimeMerged'"), 2);
}

TEST_F(SagaTest, CrashDuringFinalizeHandsTheLeaseOverAfterExpiry) {
  auto o1 = RunnerOptions("dies-in-finalize");
  o1.lease_ttl = 1500ms;
  std::atomic<bool> died{false};
  std::atomic<int64_t> died_at{0};
  o1.fault_hook = [&](std::string_view, std::string_view step, FaultPoint p) {
    if (step == "finalize" && p == FaultPoint::kBeforeCommit && !died.exchange(true)) {
      died_at = std::chrono::steady_clock::now().time_since_epoch().count();
    }
    return died.load();
  };
  auto& r1 = AddRunner(o1);
  std::string id = StartMerge(kA, kB);
  ASSERT_TRUE(WaitUntil([&] { return died.load(); }, 10s));
  r1.Stop();
  // Rolled back: nothing of finalize is visible, the lease is still held by the dead runner.
  EXPECT_EQ(Count("SELECT count(*) FROM anime WHERE id = '" + kA + "'"), 1);
  EXPECT_EQ(Scalar("SELECT lease_owner FROM saga WHERE id = '" + id + "'"), "dies-in-finalize");

  AddRunner(RunnerOptions("successor"));
  ASSERT_TRUE(WaitStatus(id, "COMPLETED")) << Status(id);
  auto waited = std::chrono::steady_clock::now().time_since_epoch() -
                std::chrono::steady_clock::duration(died_at.load());
  EXPECT_GE(waited, 1000ms) << "taken over before the lease expired";
  ExpectMerged(conn_);
  EXPECT_EQ(Count("SELECT count(*) FROM qdrant_outbox WHERE event_type = 'AnimeMerged'"), 1);
}

TEST_F(SagaTest, TwoRunnersDriveEachSagaOnce) {
  AddRunner(RunnerOptions("r1"));
  AddRunner(RunnerOptions("r2"));
  std::vector<std::string> ids = {StartMerge(kA, kB), StartMerge(kC, kD)};
  auto rm = Store().StartRemove("rm-e", kE, "gone");
  auto rm2 = Store().StartRemove("rm-f", kF, "gone too");
  ids.push_back(rm.saga_id);
  ids.push_back(rm2.saga_id);
  for (const auto& id : ids) ASSERT_TRUE(WaitStatus(id, "COMPLETED")) << id << " " << Status(id);
  EXPECT_EQ(Count("SELECT count(*) FROM anime WHERE id IN ('" + kA + "', '" + kC + "', '" + kE +
                  "', '" + kF + "')"),
            0);
  EXPECT_EQ(Count("SELECT count(*) FROM anime_redirect"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM anime_relation WHERE anime_id = related_anime_id"), 0);
  // One request per saga, one attempt per step: no step ran twice.
  EXPECT_EQ(Count("SELECT count(*) FROM qdrant_outbox WHERE event_type = 'AnimeMerged'"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM qdrant_outbox WHERE event_type = 'AnimeRemoved'"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM saga_step WHERE attempts > 1"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM anime_tombstone"), 2);
}

TEST_F(SagaTest, BadInputIsRefusedAndChangesNothing) {
  auto before = Dump();
  auto& s = Store();
  auto expect = [&](StartResult r, Code code, const std::string& text) {
    EXPECT_EQ(r.code, code) << r.message;
    EXPECT_NE(r.message.find(text), std::string::npos) << r.message;
  };
  expect(s.StartMerge("r1", kA, kA), Code::kInvalidArgument, "cannot be merged into itself");
  expect(s.StartMerge("r2", "not-a-uuid", kB), Code::kInvalidArgument, "duplicate_id: not a UUID");
  expect(s.StartMerge("r3", kA, kUnknown), Code::kNotFound, "no anime with id " + kUnknown);
  expect(s.StartMerge("", kA, kB), Code::kInvalidArgument, "request_id");
  expect(s.StartRemove("r4", kA, "  "), Code::kInvalidArgument, "reason");
  EXPECT_EQ(Dump(), before);
  EXPECT_EQ(Count("SELECT count(*) FROM saga"), 0);

  // No runner: sagas stay at their first step, which is all these checks need.
  auto first = s.StartMerge("m1", kA, kB);
  ASSERT_EQ(first.code, Code::kOk);
  EXPECT_TRUE(first.created);
  auto again = s.StartMerge("m1", kA, kB);
  EXPECT_EQ(again.code, Code::kOk);
  EXPECT_EQ(again.saga_id, first.saga_id);
  EXPECT_FALSE(again.created);
  expect(s.StartMerge("m1", kA, kC), Code::kAlreadyExists, "already used");
  expect(s.StartMerge("m2", kB, kA), Code::kFailedPrecondition, "unfinished saga " + first.saga_id);
  expect(s.StartMerge("m3", kC, kA), Code::kFailedPrecondition, "unfinished saga");
  expect(s.StartRemove("m4", kB, "x"), Code::kFailedPrecondition, "unfinished saga");
  EXPECT_EQ(Count("SELECT count(*) FROM saga"), 1);

  // Merged and removed anime, after the fact.
  conn_.Exec("UPDATE anime SET merged_into = '" + kB + "' WHERE id = '" + kD + "'");
  conn_.Exec("UPDATE anime SET hidden_at = now() WHERE id = '" + kE + "'");
  expect(s.StartMerge("m5", kC, kD), Code::kFailedPrecondition, "is merged into");
  expect(s.StartMerge("m6", kC, kE), Code::kFailedPrecondition, "removed");
  conn_.Exec("INSERT INTO anime_redirect (from_id, to_id, saga_id) VALUES ('" + kUnknown + "', '" +
             kC + "', gen_random_uuid())");
  expect(s.StartMerge("m7", kF, kUnknown), Code::kFailedPrecondition, "was merged into " + kC);
}

TEST_F(SagaTest, ConcurrentOppositeMergesOneWins) {
  auto& s = Store();
  std::atomic<int> ok{0}, refused{0};
  std::thread t1([&] { (s.StartMerge("ab", kA, kB).code == Code::kOk ? ok : refused)++; });
  std::thread t2([&] { (s.StartMerge("ba", kB, kA).code == Code::kOk ? ok : refused)++; });
  t1.join();
  t2.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(refused.load(), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM saga"), 1);
  AddRunner(RunnerOptions("r1"));
  std::string id = Scalar("SELECT id FROM saga");
  ASSERT_TRUE(WaitStatus(id, "COMPLETED"));
}

}  // namespace
}  // namespace psvc::saga

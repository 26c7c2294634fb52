// Sagas against a real PostgreSQL and the shared nats-server: the outbox relay publishes the
// saga's requests to JetStream, a test participant subscribes as the Qdrant Sync Service
// would and confirms, refuses or stays silent.
#include <gtest/gtest.h>
#include <nats/nats.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
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
#include "testing/test_database.h"
#include "write/event_applier.h"

namespace psvc::saga {
namespace {

using namespace std::chrono_literals;
using events::detail::NatsPtr;

std::string NatsUrl() {
  const char* url = std::getenv("NATS_URL");
  return url && *url ? url : "nats://127.0.0.1:54222";
}

template <class F>
bool WaitUntil(F done, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

std::string Field(const std::string& json, const std::string& key) {
  std::string needle = "\"" + key + "\":\"";
  auto p = json.find(needle);
  if (p == std::string::npos) return {};
  p += needle.size();
  return json.substr(p, json.find('"', p) - p);
}

/// Plays the Qdrant Sync Service: receives saga requests from the change stream's subjects
/// and replies on the request's reply subject.
class Participant {
 public:
  enum class Mode { kConfirm, kRefuse, kSilent };

  Participant(const std::string& subject_prefix) : nc_(events::detail::Connect(NatsUrl(), "test-participant", 2000ms)) {
    std::string subject = subject_prefix + ".>";
    natsSubscription* sub = nullptr;
    events::detail::Check(
        natsConnection_Subscribe(&sub, nc_.get(), subject.c_str(), &Participant::OnMsg, this),
        "subscribe");
    sub_.reset(sub);
  }
  ~Participant() {
    natsSubscription_Unsubscribe(sub_.get());
    natsConnection_Close(nc_.get());
  }

  void set_mode(Mode m) { mode_ = m; }
  /// Requests seen per event type.
  int Requests(const std::string& event_type) {
    std::lock_guard lock(mu_);
    return requests_[event_type];
  }

 private:
  static void OnMsg(natsConnection* nc, natsSubscription*, natsMsg* raw, void* closure) {
    NatsPtr<natsMsg> msg(raw);
    auto* self = static_cast<Participant*>(closure);
    std::string data(natsMsg_GetData(raw), static_cast<size_t>(natsMsg_GetDataLength(raw)));
    std::string type = Field(data, "event_type");
    std::string reply_to = Field(data, "reply_subject");
    {
      std::lock_guard lock(self->mu_);
      ++self->requests_[type];
    }
    if (reply_to.empty() || self->mode_ == Mode::kSilent) return;
    natsMsg* out = nullptr;
    natsMsg_Create(&out, reply_to.c_str(), nullptr, self->mode_ == Mode::kConfirm ? "" : "index refused",
                   self->mode_ == Mode::kConfirm ? 0 : 13);
    NatsPtr<natsMsg> reply(out);
    natsMsgHeader_Set(out, "Psvc-Saga-Outcome", self->mode_ == Mode::kConfirm ? "CONFIRMED" : "REFUSED");
    natsMsgHeader_Set(out, "Psvc-Saga-Step", Field(data, "step").c_str());
    natsConnection_PublishMsg(nc, out);
  }

  NatsPtr<natsConnection> nc_;
  NatsPtr<natsSubscription> sub_;
  std::atomic<Mode> mode_{Mode::kConfirm};
  std::mutex mu_;
  std::map<std::string, int> requests_;
};

// Fixed ids: A, B are the usual duplicate and survivor.
const std::string kA = "00000000-0000-0000-0000-00000000000a";
const std::string kB = "00000000-0000-0000-0000-00000000000b";
const std::string kC = "00000000-0000-0000-0000-00000000000c";
const std::string kD = "00000000-0000-0000-0000-00000000000d";
const std::string kE = "00000000-0000-0000-0000-00000000000e";
const std::string kF = "00000000-0000-0000-0000-00000000000f";
const std::string kUnknown = "00000000-0000-0000-0000-0000000000ff";

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
    try {
      auto nc = events::detail::Connect(NatsUrl(), "test-cleanup", 2000ms);
      auto js = events::detail::JetStream(nc.get(), 2000ms);
      jsErrCode jerr = static_cast<jsErrCode>(0);
      js_DeleteStream(js.get(), stream_.c_str(), nullptr, &jerr);
    } catch (...) {
    }
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
  void Seed() {
    conn_.Exec(R"sql(
INSERT INTO anime (id, title, year, view_count, episode_count) VALUES
 ('00000000-0000-0000-0000-00000000000a', 'Dup Show', 2001, 7, 3),
 ('00000000-0000-0000-0000-00000000000b', 'Real Show', 2001, 100, 2),
 ('00000000-0000-0000-0000-00000000000c', 'Sequel Show', 2003, 5, NULL),
 ('00000000-0000-0000-0000-00000000000d', 'Other Show', 1999, 1, NULL),
 ('00000000-0000-0000-0000-00000000000e', 'Fifth Show', 2010, 0, NULL),
 ('00000000-0000-0000-0000-00000000000f', 'Sixth Show', 2011, 0, NULL);
INSERT INTO character (id, name) VALUES
 ('10000000-0000-0000-0000-000000000001', 'Hero'),
 ('10000000-0000-0000-0000-000000000002', 'Rival'),
 ('10000000-0000-0000-0000-000000000003', 'Mentor');
INSERT INTO anime_character (anime_id, character_id, role) VALUES
 ('00000000-0000-0000-0000-00000000000a', '10000000-0000-0000-0000-000000000001', 'SUPPORTING'),
 ('00000000-0000-0000-0000-00000000000a', '10000000-0000-0000-0000-000000000002', 'MAIN'),
 ('00000000-0000-0000-0000-00000000000b', '10000000-0000-0000-0000-000000000001', 'MAIN'),
 ('00000000-0000-0000-0000-00000000000c', '10000000-0000-0000-0000-000000000003', 'MAIN');
INSERT INTO company (id, name) VALUES
 ('20000000-0000-0000-0000-000000000001', 'Studio One'),
 ('20000000-0000-0000-0000-000000000002', 'Studio Two');
INSERT INTO anime_company (anime_id, company_id, role) VALUES
 ('00000000-0000-0000-0000-00000000000a', '20000000-0000-0000-0000-000000000001', 'studio'),
 ('00000000-0000-0000-0000-00000000000a', '20000000-0000-0000-0000-000000000002', 'producer'),
 ('00000000-0000-0000-0000-00000000000b', '20000000-0000-0000-0000-000000000001', 'studio');
INSERT INTO original_work (id, title, kind) VALUES
 ('30000000-0000-0000-0000-000000000001', 'The Manga', 'MANGA');
INSERT INTO anime_original_work_relation (anime_id, original_work_id) VALUES
 ('00000000-0000-0000-0000-00000000000a', '30000000-0000-0000-0000-000000000001');
INSERT INTO anime_relation (anime_id, related_anime_id, relation_type) VALUES
 ('00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-00000000000c', 'SEQUEL'),
 ('00000000-0000-0000-0000-00000000000c', '00000000-0000-0000-0000-00000000000a', 'PREQUEL'),
 ('00000000-0000-0000-0000-00000000000b', '00000000-0000-0000-0000-00000000000c', 'SEQUEL'),
 ('00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-00000000000b', 'ALTERNATIVE'),
 ('00000000-0000-0000-0000-00000000000d', '00000000-0000-0000-0000-00000000000a', 'SPIN_OFF');
INSERT INTO pending_anime_relation (anime_id, related_anime_id, relation_type) VALUES
 ('00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-0000000000aa', 'OTHER');
INSERT INTO episode (id, anime_id, number, title) VALUES
 ('40000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-00000000000a', 1, 'dup one'),
 ('40000000-0000-0000-0000-000000000002', '00000000-0000-0000-0000-00000000000a', 2, 'dup two'),
 ('40000000-0000-0000-0000-000000000003', '00000000-0000-0000-0000-00000000000a', 3, 'dup three'),
 ('40000000-0000-0000-0000-000000000011', '00000000-0000-0000-0000-00000000000b', 1, 'real one');
)sql");
  }

  /// Every row of every table a saga touches, as text, in a fixed order.
  std::vector<std::string> Dump() {
    static const char* kTables[][2] = {
        {"anime", "id"},
        {"anime_character", "anime_id, character_id"},
        {"anime_company", "anime_id, company_id, role"},
        {"anime_original_work_relation", "anime_id, original_work_id"},
        {"anime_relation", "anime_id, related_anime_id, relation_type"},
        {"pending_anime_relation", "anime_id, related_anime_id, relation_type"},
        {"episode", "id"},
        {"character", "id"},
        {"company", "id"},
        {"original_work", "id"},
        {"anime_redirect", "from_id"},
        {"anime_tombstone", "anime_id"}};
    std::vector<std::string> out;
    for (auto& t : kTables) {
      auto res = conn_.Exec(std::string("SELECT '") + t[0] + "' || ': ' || to_jsonb(x)::text FROM " +
                            t[0] + " x ORDER BY " + t[1]);
      for (int i = 0; i < res.rows(); ++i) out.emplace_back(res.Get(i, 0));
    }
    return out;
  }

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

  std::string StartMerge(const std::string& dup, const std::string& surv, const std::string& req = "") {
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

void ExpectMerged(SagaTest* t, db::Connection& conn) {
  (void)t;
  auto q = [&](const std::string& sql) {
    auto res = conn.Exec(sql);
    std::vector<std::string> rows;
    for (int i = 0; i < res.rows(); ++i) {
      std::string row;
      for (int c = 0; c < res.columns(); ++c) row += (c ? "|" : "") + std::string(res.Get(i, c));
      rows.push_back(row);
    }
    return rows;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(q("SELECT count(*) FROM anime WHERE id = '" + kA + "'"), V{"0"});
  EXPECT_EQ(q("SELECT view_count, episode_count FROM anime WHERE id = '" + kB + "'"), V{"107|2"});
  // The survivor's role wins for a shared character; the duplicate's other character moves.
  EXPECT_EQ(q("SELECT right(character_id::text, 1), role FROM anime_character WHERE anime_id = '" +
              kB + "' ORDER BY 1"),
            (V{"1|MAIN", "2|MAIN"}));
  EXPECT_EQ(q("SELECT right(company_id::text, 1), role FROM anime_company WHERE anime_id = '" + kB +
              "' ORDER BY 1, 2"),
            (V{"1|studio", "2|producer"}));
  EXPECT_EQ(q("SELECT count(*) FROM anime_original_work_relation WHERE anime_id = '" + kB + "'"), V{"1"});
  // Both directions rewritten, no self relation (A-B ALTERNATIVE dropped), B->C SEQUEL not doubled.
  EXPECT_EQ(q("SELECT right(anime_id::text, 1), right(related_anime_id::text, 1), relation_type "
              "FROM anime_relation ORDER BY 1, 2, 3"),
            (V{"b|c|SEQUEL", "c|b|PREQUEL", "d|b|SPIN_OFF"}));
  EXPECT_EQ(q("SELECT right(anime_id::text, 1), right(related_anime_id::text, 2) FROM pending_anime_relation"),
            V{"b|aa"});
  // Episode 1 exists on both: the survivor's stays, the duplicate's is purged; 2 and 3 move.
  EXPECT_EQ(q("SELECT number, title FROM episode WHERE anime_id = '" + kB + "' ORDER BY number"),
            (V{"1|real one", "2|dup two", "3|dup three"}));
  EXPECT_EQ(q("SELECT count(*) FROM episode"), V{"3"});
  EXPECT_EQ(q("SELECT to_id FROM anime_redirect WHERE from_id = '" + kA + "'"), V{kB});
  EXPECT_EQ(q("SELECT psvc_resolve_anime_id('" + kA + "')"), V{kB});
  EXPECT_EQ(q("SELECT count(*) FROM saga_snapshot"), V{"0"});
  EXPECT_EQ(q("SELECT count(*) FROM saga_anime_lock"), V{"0"});
}

TEST_F(SagaTest, MergeHappyPath) {
  auto& runner = AddRunner(RunnerOptions("r1"));
  std::string id = StartMerge(kA, kB);
  ASSERT_TRUE(WaitStatus(id, "COMPLETED")) << Status(id);
  ExpectMerged(this, conn_);
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
  EXPECT_EQ(Scalar("SELECT payload_text FROM (SELECT convert_from(payload, 'UTF8') AS payload_text "
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
  EXPECT_EQ(Count("SELECT count(*) FROM qdrant_outbox WHERE event_type = 'AnimeRemovalReverted'"), 1);

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

TEST_F(SagaTest, HiddenAndMergedAnimeAreInvisibleWhileTheSagaWaits) {
  participant_->set_mode(Participant::Mode::kSilent);
  auto o = RunnerOptions("r1");
  o.reply_timeout = 60s;
  AddRunner(o);
  std::string merge = StartMerge(kA, kB);
  auto rm = Store().StartRemove("remove-d", kD, "dmca");
  ASSERT_EQ(rm.code, Code::kOk);
  ASSERT_TRUE(WaitUntil([&] { return participant_->Requests("AnimeMerged") == 1 &&
                                     participant_->Requests("AnimeRemoved") == 1; }, 10s));
  EXPECT_EQ(Scalar("SELECT psvc_resolve_anime_id('" + kA + "')"), kB);
  EXPECT_EQ(Scalar("SELECT psvc_resolve_anime_id('" + kD + "')"), "");
  EXPECT_EQ(Scalar("SELECT psvc_resolve_anime_id('" + kB + "')"), kB);

  // The write path ignores events for both (documented rule), and a view of either is not found.
  write::EventApplier applier(*pool_);
  write::Event ev;
  ev.event_id = "50000000-0000-0000-0000-000000000001";
  ev.occurred_at_ms = 1700000000000;
  ev.producer = "test";
  ev.payload = write::EpisodeAired{kA, "40000000-0000-0000-0000-000000000099", 9, "late", {}, {}};
  auto r = applier.Apply(ev);
  EXPECT_EQ(r.outcome, write::Outcome::kIgnoredStale);
  EXPECT_NE(r.message.find("merged into " + kB), std::string::npos) << r.message;
  ev.event_id = "50000000-0000-0000-0000-000000000002";
  write::AnimeEnriched enriched;
  enriched.anime_id = kD;
  enriched.fields.title = "Other Show again";
  ev.payload = enriched;
  r = applier.Apply(ev);
  EXPECT_EQ(r.outcome, write::Outcome::kIgnoredStale);
  EXPECT_EQ(Scalar("SELECT title FROM anime WHERE id = '" + kD + "'"), "Other Show");
  ev.payload = write::AnimeViewed{kA};
  EXPECT_THROW(applier.Apply(ev), write::AnimeNotFound);

  // Graph primitives neither return nor expand them (generic plans, as the service runs them).
  for (const auto& setup : graph::GraphQueries::SessionSetup()) conn_.Exec(setup);
  graph::GraphQueries graph(conn_, std::chrono::steady_clock::now() + 10s, 2000ms);
  auto all = graph::EdgeFilter::All();
  std::set<std::string> seen;
  for (const auto& id : {kB, kC, kE}) {
    for (const auto& e : graph.Neighbors(id, all, 50, 5).edges) seen.insert(e.node_id);
  }
  EXPECT_FALSE(seen.contains(kA));
  EXPECT_FALSE(seen.contains(kD));
  EXPECT_TRUE(seen.contains(kB));  // C's PREQUEL: the merge moved A's edge onto B
  EXPECT_FALSE(graph.Neighbors(kA, all, 50, 5).start_found);
  EXPECT_FALSE(graph.Neighbors(kD, all, 50, 5).start_found);
  EXPECT_FALSE(graph.Path(kC, kD, all, 5, 5, 1000).to_found);
  auto hop = graph.KHop(kB, all, graph::AppliedLimits{.max_hops = 3, .max_fanout_per_hop = 50,
                                                     .max_results = 50, .hub_window = 5});
  EXPECT_FALSE(hop.nodes.empty());
  for (const auto& n : hop.nodes) EXPECT_TRUE(n.node_id != kA && n.node_id != kD) << n.node_id;

  // Abort before the point of no return: compensation, then the ids are usable again.
  EXPECT_EQ(Store().Abort(merge, "test").code, Code::kOk);
  EXPECT_EQ(Store().Abort(rm.saga_id, "test").code, Code::kOk);
  ASSERT_TRUE(WaitStatus(merge, "COMPENSATED"));
  ASSERT_TRUE(WaitStatus(rm.saga_id, "COMPENSATED"));
  EXPECT_EQ(Scalar("SELECT psvc_resolve_anime_id('" + kA + "')"), kA);
  EXPECT_EQ(Scalar("SELECT psvc_resolve_anime_id('" + kD + "')"), kD);
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
  EXPECT_EQ(applier.Apply(ev).outcome, write::Outcome::kIgnoredStale);
  EXPECT_EQ(Count("SELECT count(*) FROM anime WHERE id = '" + kA + "'"), 0);
  // A relation naming the merged id lands on the survivor.
  ev.event_id = "50000000-0000-0000-0000-000000000004";
  enriched.anime_id = kE;
  enriched.fields.title = "Fifth Show";
  enriched.relations = {{kA, "PREQUEL"}};
  ev.payload = enriched;
  EXPECT_EQ(applier.Apply(ev).outcome, write::Outcome::kApplied);
  EXPECT_EQ(Scalar("SELECT related_anime_id FROM anime_relation WHERE anime_id = '" + kE + "'"), kB);
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
  EXPECT_EQ(Scalar("SELECT merged_into FROM anime WHERE id = '" + kA + "'"), kB);

  participant_->set_mode(Participant::Mode::kConfirm);
  auto o2 = RunnerOptions("successor");
  o2.reply_timeout = 300ms;  // the first request's reply never came: ask again
  AddRunner(o2);
  ASSERT_TRUE(WaitStatus(id, "COMPLETED")) << Status(id);
  ExpectMerged(this, conn_);
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
  ExpectMerged(this, conn_);
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

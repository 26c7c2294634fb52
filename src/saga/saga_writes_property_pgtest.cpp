// Property: a saga never undoes or changes an acknowledged write (docs/sagas.md).
//
// Two databases start from the same catalogue. The system database runs real MergeAnime /
// RemoveAnime sagas (SagaRunner, replies over NATS); while each one awaits its confirmation,
// random writes of every kind are made to its anime and their neighbours, through the one
// write path, and the same writes are made to the model database, where no saga runs. Then
// the saga is confirmed, refused or aborted (a reply timeout compensates exactly as a refusal
// does; saga_pgtest covers it).
//  - Compensated: the system must equal the model ("as if the saga never ran, plus every
//    acknowledged write").
//  - Completed: the model then runs the saga's forward steps in one go, after the writes; the
//    system must equal it (writes made while the saga waited count exactly as writes made
//    before it started).
// Every write must also get the same answer from both databases. Seeded and reproducible:
// PSVC_SAGA_PROPERTY_SEED=<n> replays a run, PSVC_SAGA_PROPERTY_ROUNDS=<n> sets its length.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <set>

#include "db/connection.h"
#include "db/pool.h"
#include "events/detail/nats_util.h"
#include "saga/anime_sagas.h"
#include "saga/definition.h"
#include "saga/saga_runner.h"
#include "saga/saga_store.h"
#include "saga/saga_test_support.h"
#include "testing/test_database.h"
#include "write/event_applier.h"

namespace psvc::saga {
namespace {

using namespace std::chrono_literals;
using namespace fixture;

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

// Ids the random writes draw from: characters, companies and works some of which the fixture
// does not have yet, and an anime that never arrives (relations to it stay pending).
const std::string kNeverArrives = "00000000-0000-0000-0000-0000000000ee";
const std::vector<std::string> kCharacterIds = {
    "10000000-0000-0000-0000-000000000001", "10000000-0000-0000-0000-000000000002",
    "10000000-0000-0000-0000-000000000003", "10000000-0000-0000-0000-000000000004"};
const std::vector<std::string> kCompanyIds = {"20000000-0000-0000-0000-000000000001",
                                              "20000000-0000-0000-0000-000000000002",
                                              "20000000-0000-0000-0000-000000000003"};
const std::vector<std::string> kWorkIds = {"30000000-0000-0000-0000-000000000001",
                                           "30000000-0000-0000-0000-000000000002"};
const std::vector<std::string> kRelationTypes = {"SEQUEL", "PREQUEL", "SIDE_STORY", "OTHER"};

/// Every catalogue row, as text, without the columns that hold the wall clock or a saga id
/// (they differ between the two databases by construction).
std::vector<std::string> Catalogue(db::Connection& conn) {
  std::vector<std::string> out;
  for (auto [table, order] : fixture::SagaTables()) {
    auto res = conn.Exec(std::string("SELECT '") + table + ": ' || (to_jsonb(x) - " +
                         "'{created_at,updated_at,hidden_at,saga_id,removed_at}'::text[] || " +
                         "jsonb_build_object('hidden', to_jsonb(x) ? 'hidden_at' AND " +
                         "to_jsonb(x)->>'hidden_at' IS NOT NULL))::text FROM " + table +
                         " x ORDER BY " + order);
    for (int i = 0; i < res.rows(); ++i) out.emplace_back(res.Get(i, 0));
  }
  return out;
}

/// The rows only one side has, "- " system only, "+ " model only; empty when equal.
std::string Difference(const std::vector<std::string>& system,
                       const std::vector<std::string>& model) {
  std::multiset<std::string> a(system.begin(), system.end()), b(model.begin(), model.end());
  std::string out;
  for (const auto& row : a) {
    if (a.count(row) > b.count(row)) out += "  - " + row + "\n";
  }
  for (const auto& row : b) {
    if (b.count(row) > a.count(row)) out += "  + " + row + "\n";
  }
  return out;
}

/// What one write answered, comparable between the two databases.
std::string Answer(write::EventApplier& applier, const write::Event& event) {
  try {
    auto r = applier.Apply(event);
    return std::string(write::ToString(r.outcome)) + " v" + std::to_string(r.version) + " " +
           r.message + (r.merged_into.empty() ? "" : " -> " + r.merged_into);
  } catch (const write::AnimeNotFound& e) {
    return std::string("NOT_FOUND ") + e.what();
  } catch (const write::InvalidEvent& e) {
    return std::string("INVALID ") + e.what();
  }
}

class SagaWritesProperty : public ::testing::Test {
 protected:
  SagaWritesProperty() : system_conn_(system_.Connect()), model_conn_(model_.Connect()) {
    std::string n = system_.name();
    for (char& c : n) c = static_cast<char>(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
    reply_prefix_ = "t." + n + ".replies";
    SeedCatalogue(system_conn_);
    SeedCatalogue(model_conn_);
    system_pool_ = std::make_unique<db::Pool>(db::PoolOptions{.url = system_.url(), .size = 6});
    model_pool_ = std::make_unique<db::Pool>(db::PoolOptions{.url = model_.url(), .size = 2});
    system_writes_ = std::make_unique<write::EventApplier>(*system_pool_);
    model_writes_ = std::make_unique<write::EventApplier>(*model_pool_);

    SagaRunnerOptions o;
    o.nats_url = NatsUrl();
    o.reply_subject_prefix = reply_prefix_;
    o.reply_queue_group = "q_" + reply_prefix_;
    o.owner_id = "property";
    o.poll_interval = 20ms;
    o.reply_timeout = 60s;  // never reached: every round decides its saga's outcome
    o.retry_initial = 10ms;
    o.retry_max = 100ms;
    runner_ = std::make_unique<SagaRunner>(*system_pool_, o);
    store_ = std::make_unique<SagaStore>(*system_pool_, [this] { runner_->Wake(); });
    runner_->Start();
    nats_ = events::detail::Connect(NatsUrl(), "saga-property-replies", 2000ms);
  }

  ~SagaWritesProperty() override { runner_->Stop(); }

  std::string Scalar(db::Connection& conn, const std::string& sql) {
    auto res = conn.Exec(sql);
    return res.rows() && !res.IsNull(0, 0) ? std::string(res.Get(0, 0)) : "";
  }

  std::string Status(const std::string& saga_id) { return store_->Get(saga_id)->status; }

  /// Waits until the saga's confirmation request is out and nothing is in flight.
  void WaitAwaiting(const std::string& saga_id) {
    ASSERT_TRUE(WaitUntil(
        [&] {
          return Scalar(system_conn_, "SELECT status FROM saga_step WHERE saga_id = '" + saga_id +
                                          "' AND step_index = 1") == "AWAITING";
        },
        20s))
        << Status(saga_id);
  }

  void Reply(const std::string& saga_id, bool confirm) {
    std::string subject = reply_prefix_ + "." + saga_id;
    natsMsg* raw = nullptr;
    events::detail::Check(natsMsg_Create(&raw, subject.c_str(), nullptr, "property", 8),
                          "natsMsg_Create");
    events::detail::NatsPtr<natsMsg> msg(raw);
    natsMsgHeader_Set(raw, "Psvc-Saga-Outcome", confirm ? "CONFIRMED" : "REFUSED");
    events::detail::Check(natsConnection_PublishMsg(nats_.get(), raw), "publish reply");
    events::detail::Check(natsConnection_FlushTimeout(nats_.get(), 2000), "flush");
  }

  /// Drives a waiting saga to the outcome chosen; returns its final status.
  std::string Finish(const std::string& saga_id, int how) {
    switch (how) {
      case 0:
        Reply(saga_id, true);
        break;
      case 1:
        Reply(saga_id, false);
        break;
      case 2:
        EXPECT_EQ(store_->Abort(saga_id, "property").code, Code::kOk);
        break;
      default:
        break;  // no reply: the runner times out
    }
    std::string status;
    EXPECT_TRUE(WaitUntil(
        [&] {
          status = Status(saga_id);
          return status == "COMPLETED" || status == "COMPENSATED";
        },
        20s))
        << saga_id << " " << status;
    return status;
  }

  /// The model's side of a completed saga: its forward steps, in one transaction.
  void RunForwardOnModel(const std::string& saga_id, const SagaDefinition& def,
                         const SagaInput& input) {
    db::Transaction tx(model_conn_);
    StepContext ctx{model_conn_, saga_id, input};
    // RemoveAnime's hide only hides (and snapshots, which needs a saga row): its purge is the
    // whole visible effect.
    if (def.type == kMergeAnime) def.steps[0].action(ctx);
    def.steps[2].action(ctx);
    tx.Commit();
  }

  std::vector<std::string> Live() {
    auto res = system_conn_.Exec("SELECT id::text FROM anime WHERE hidden_at IS NULL ORDER BY id");
    std::vector<std::string> out;
    for (int i = 0; i < res.rows(); ++i) out.emplace_back(res.Get(i, 0));
    return out;
  }

  /// The same write to both databases; both must answer alike.
  void Write(const write::Event& event, const std::string& what) {
    std::string system = Answer(*system_writes_, event);
    std::string model = Answer(*model_writes_, event);
    EXPECT_EQ(system, model) << what;
    log_.push_back(what + " => " + system);
    ++answers_[what.substr(0, what.rfind(' ')) + " " + system.substr(0, system.find(' '))];
  }

  testing::TestDatabase system_, model_;
  db::Connection system_conn_, model_conn_;
  std::string reply_prefix_;
  std::unique_ptr<db::Pool> system_pool_, model_pool_;
  std::unique_ptr<write::EventApplier> system_writes_, model_writes_;
  std::unique_ptr<SagaRunner> runner_;
  std::unique_ptr<SagaStore> store_;
  events::detail::NatsPtr<natsConnection> nats_;
  std::vector<std::string> log_;
  std::map<std::string, int> answers_;  ///< "<write kind> <outcome>" -> count, for the summary
};

/// Random events over the id pools above.
class EventMaker {
 public:
  explicit EventMaker(std::mt19937& rng) : rng_(rng) {}

  int Pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  bool Chance(int percent) { return Pick(100) < percent; }
  template <class T>
  const T& PickOf(const std::vector<T>& v) {
    return v[static_cast<size_t>(Pick(static_cast<int>(v.size())))];
  }

  write::Event Envelope() {
    write::Event e;
    char id[40];
    std::snprintf(id, sizeof id, "50000000-0000-4000-8000-%012d", ++events_);
    e.event_id = id;
    // Mostly newer than anything before; sometimes older, to meet the staleness rule too.
    clock_ms_ += 1000;
    e.occurred_at_ms = Chance(10) ? clock_ms_ - 500000 : clock_ms_;
    e.producer = "property";
    return e;
  }

  /// An anime id not used before (enriching it creates the anime).
  std::string NewAnimeId() {
    char id[40];
    std::snprintf(id, sizeof id, "00000000-0000-4000-8000-%012d", ++anime_);
    return id;
  }

  write::Event Episode(const std::string& anime) {
    auto e = Envelope();
    char id[40];
    std::snprintf(id, sizeof id, "40000000-0000-4000-8000-%012d", events_);
    // Numbers 1..4: the fixture's duplicate and survivor have episodes 1..3 and 1.
    e.payload =
        write::EpisodeAired{anime, id, 1 + Pick(4), "ep " + std::to_string(events_), {}, {}};
    return e;
  }

  write::Event Enriched(const std::string& anime, const std::vector<std::string>& related) {
    auto e = Envelope();
    write::AnimeEnriched a;
    a.anime_id = anime;
    a.fields.title = "Title " + std::to_string(Pick(5));
    a.fields.year = 2000 + Pick(3);
    for (const auto& c : kCharacterIds) {
      if (Chance(40))
        a.characters.push_back(
            {c, "Character " + c.substr(34), {}, Chance(50) ? "MAIN" : "SUPPORTING", 0});
    }
    for (const auto& c : kCompanyIds) {
      if (Chance(40))
        a.companies.push_back({c, "Company " + c.substr(34), Chance(70) ? "studio" : "producer"});
    }
    for (const auto& w : kWorkIds) {
      if (Chance(30)) a.original_works.push_back({w, "Work " + w.substr(34), "MANGA", {}});
    }
    std::set<std::string> seen;
    for (const auto& r : related) {
      if (r != anime && Chance(50) && seen.insert(r).second)
        a.relations.push_back({r, PickOf(kRelationTypes)});
    }
    e.payload = std::move(a);
    return e;
  }

  write::Event Updated(const std::string& anime, int64_t version) {
    auto e = Envelope();
    write::AnimeUpdated u;
    u.anime_id = anime;
    u.mask = {"title"};
    u.fields.title = "Updated " + std::to_string(events_);
    u.expected_version = Chance(80) ? version : version + 1;
    e.payload = std::move(u);
    return e;
  }

  write::Event Viewed(const std::string& anime) {
    auto e = Envelope();
    e.payload = write::AnimeViewed{anime};
    return e;
  }

 private:
  std::mt19937& rng_;
  int events_ = 0;
  int anime_ = 0;
  int64_t clock_ms_ = 1700000000000;
};

TEST_F(SagaWritesProperty, AcknowledgedWritesSurviveEverySagaOutcome) {
  const unsigned seed = static_cast<unsigned>(EnvInt("PSVC_SAGA_PROPERTY_SEED", 20261205));
  const int rounds = EnvInt("PSVC_SAGA_PROPERTY_ROUNDS", 60);
  std::mt19937 rng(seed);
  EventMaker make(rng);
  std::map<std::string, int> outcomes;

  for (int round = 0; round < rounds && !HasFailure(); ++round) {
    SCOPED_TRACE("seed " + std::to_string(seed) + " round " + std::to_string(round) +
                 " (PSVC_SAGA_PROPERTY_SEED replays it)");
    log_.clear();
    auto live = Live();
    while (live.size() < 5) {  // merges and removals use the catalogue up: new anime arrive
      std::string id = make.NewAnimeId();
      Write(make.Enriched(id, live), "new anime " + id);
      live = Live();
    }
    // The saga under test: a merge of two live anime, or a removal of one.
    const bool merge = make.Chance(70);
    std::string dup = make.PickOf(live), surv;
    do surv = make.PickOf(live);
    while (surv == dup);
    const std::string request = "round-" + std::to_string(round);
    StartResult started = merge ? store_->StartMerge(request, dup, surv)
                                : store_->StartRemove(request, dup, "property round");
    ASSERT_EQ(started.code, Code::kOk) << started.message;
    const std::string saga_id = started.saga_id;
    const SagaDefinition& def = merge ? MergeAnimeSaga() : RemoveAnimeSaga();
    SagaInput input = merge ? SagaInput{{"duplicate_id", dup}, {"survivor_id", surv}}
                            : SagaInput{{"anime_id", dup}, {"reason", "property round"}};
    WaitAwaiting(saga_id);
    if (HasFailure()) break;

    // Writes while it waits: to either anime, and from or about the anime around them.
    std::vector<std::string> subjects = {dup};
    if (merge) subjects.push_back(surv);
    std::vector<std::string> thirds;
    for (const auto& id : live) {
      if (id != dup && id != surv) thirds.push_back(id);
    }
    const int writes = 2 + make.Pick(6);
    for (int w = 0; w < writes; ++w) {
      const std::string& subject = make.PickOf(subjects);
      const std::string role = subject == surv ? "survivor " : merge ? "duplicate " : "removed ";
      switch (make.Pick(6)) {
        case 0:
          Write(make.Episode(subject), "episode " + role + subject);
          break;
        case 1: {
          std::vector<std::string> related = live;
          related.push_back(kNeverArrives);
          Write(make.Enriched(subject, related), "enrich " + role + subject);
          break;
        }
        case 2: {
          int64_t version = std::stoll(
              "0" + Scalar(system_conn_, "SELECT version FROM anime WHERE id = '" + subject + "'"));
          Write(make.Updated(subject, version), "update " + role + subject);
          break;
        }
        case 3:
          Write(make.Viewed(subject), "view " + role + subject);
          break;
        case 4: {
          if (thirds.empty()) break;
          // A third anime's whole relation set, naming the saga's anime.
          const std::string& third = make.PickOf(thirds);
          Write(make.Enriched(third, subjects), "enrich third naming them " + third);
          break;
        }
        case 5: {
          // A saga on third anime, run to its end while this one waits.
          if (thirds.size() < 2) break;
          const bool third_merge = make.Chance(50);
          std::string x = make.PickOf(thirds), y;
          do y = make.PickOf(thirds);
          while (y == x);
          const std::string third_request = request + "-third-" + std::to_string(w);
          auto third = third_merge ? store_->StartMerge(third_request, x, y)
                                   : store_->StartRemove(third_request, x, "property third");
          ASSERT_EQ(third.code, Code::kOk) << third.message;
          WaitAwaiting(third.saga_id);
          const int how = make.Pick(3);
          std::string status = Finish(third.saga_id, how);
          log_.push_back("third saga " + std::string(third_merge ? "merge " : "remove ") + x +
                         (third_merge ? " into " + y : "") + " => " + status);
          ++answers_[std::string("third saga ") + (third_merge ? "merge " : "remove ") + status];
          if (status == "COMPLETED") {
            RunForwardOnModel(third.saga_id, third_merge ? MergeAnimeSaga() : RemoveAnimeSaga(),
                              third_merge
                                  ? SagaInput{{"duplicate_id", x}, {"survivor_id", y}}
                                  : SagaInput{{"anime_id", x}, {"reason", "property third"}});
          }
          std::erase(thirds, x);
          break;
        }
      }
      if (HasFailure()) break;
    }

    // 40% confirmed, 30% refused, 30% aborted.
    const int dice = make.Pick(10);
    const int how = dice < 4 ? 0 : dice < 7 ? 1 : 2;
    std::string status = Finish(saga_id, how);
    ++outcomes[status];
    if (status == "COMPLETED") RunForwardOnModel(saga_id, def, input);
    std::string trace;
    for (const auto& line : log_) trace += "  " + line + "\n";
    std::string difference = Difference(Catalogue(system_conn_), Catalogue(model_conn_));
    ASSERT_TRUE(difference.empty()) << (merge ? "merge " + dup + " into " + surv : "remove " + dup)
                                    << " => " << status << "\nwrites while it waited:\n"
                                    << trace << "rows (- system only, + model only):\n"
                                    << difference;
  }
  std::string summary;
  for (const auto& [k, n] : outcomes) summary += "  saga " + k + ": " + std::to_string(n) + "\n";
  for (const auto& [k, n] : answers_) summary += "  " + k + ": " + std::to_string(n) + "\n";
  std::printf("seed %u, %d rounds:\n%s", seed, rounds, summary.c_str());
  // The run exercised both outcomes (a seed that does not is a useless seed).
  EXPECT_GT(outcomes["COMPLETED"], 0);
  EXPECT_GT(outcomes["COMPENSATED"], 0);
}

}  // namespace
}  // namespace psvc::saga

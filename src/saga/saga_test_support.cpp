#include "saga/saga_test_support.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "db/connection.h"
#include "events/detail/nats_util.h"

namespace psvc::saga::fixture {

using events::detail::NatsPtr;
using namespace std::chrono_literals;

std::string NatsUrl() {
  const char* url = std::getenv("NATS_URL");
  return url && *url ? url : "nats://127.0.0.1:54222";
}

std::string JsonField(const std::string& json, const std::string& key) {
  std::string needle = "\"" + key + "\":\"";
  auto p = json.find(needle);
  if (p == std::string::npos) return {};
  p += needle.size();
  return json.substr(p, json.find('"', p) - p);
}

void SeedCatalogue(db::Connection& conn) {
  conn.Exec(R"sql(
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

const std::vector<std::pair<const char*, const char*>>& SagaTables() {
  static const std::vector<std::pair<const char*, const char*>> kTables = {
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
      {"anime_tombstone", "anime_id"},
      {"search_term", "kind, entity_id, norm"}};
  return kTables;
}

std::vector<std::string> DumpSagaTables(db::Connection& conn) {
  std::vector<std::string> out;
  for (auto [table, order] : SagaTables()) {
    auto res = conn.Exec(std::string("SELECT '") + table + "' || ': ' || to_jsonb(x)::text FROM " +
                         table + " x ORDER BY " + order);
    for (int i = 0; i < res.rows(); ++i) out.emplace_back(res.Get(i, 0));
  }
  return out;
}

void ExpectMerged(db::Connection& conn) {
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
  EXPECT_EQ(q("SELECT count(*) FROM anime_original_work_relation WHERE anime_id = '" + kB + "'"),
            V{"1"});
  // Both directions rewritten, no self relation (A-B ALTERNATIVE dropped), B->C SEQUEL not doubled.
  EXPECT_EQ(q("SELECT right(anime_id::text, 1), right(related_anime_id::text, 1), relation_type "
              "FROM anime_relation ORDER BY 1, 2, 3"),
            (V{"b|c|SEQUEL", "c|b|PREQUEL", "d|b|SPIN_OFF"}));
  EXPECT_EQ(q("SELECT right(anime_id::text, 1), right(related_anime_id::text, 2) FROM "
              "pending_anime_relation"),
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

struct Participant::Nats {
  NatsPtr<natsConnection> nc;
  NatsPtr<natsSubscription> sub;
};

Participant::Participant(const std::string& subject_prefix) : nats_(std::make_unique<Nats>()) {
  nats_->nc = events::detail::Connect(NatsUrl(), "test-participant", 2000ms);
  std::string subject = subject_prefix + ".>";
  natsSubscription* sub = nullptr;
  events::detail::Check(
      natsConnection_Subscribe(&sub, nats_->nc.get(), subject.c_str(), &Participant::OnMsg, this),
      "subscribe");
  nats_->sub.reset(sub);
  // The subscription must be registered with the server before a test publishes.
  events::detail::Check(natsConnection_FlushTimeout(nats_->nc.get(), 2000), "flush");
}

Participant::~Participant() {
  natsSubscription_Unsubscribe(nats_->sub.get());
  natsConnection_Close(nats_->nc.get());
}

void Participant::set_mode(Mode m) {
  std::lock_guard lock(mu_);
  mode_ = m;
}

int Participant::Requests(const std::string& event_type) {
  std::lock_guard lock(mu_);
  return requests_[event_type];
}

void Participant::OnMsg(natsConnection* nc, natsSubscription*, natsMsg* raw, void* closure) {
  NatsPtr<natsMsg> msg(raw);
  auto* self = static_cast<Participant*>(closure);
  std::string data(natsMsg_GetData(raw), static_cast<size_t>(natsMsg_GetDataLength(raw)));
  std::string type = JsonField(data, "event_type");
  std::string reply_to = JsonField(data, "reply_subject");
  Mode mode;
  {
    std::lock_guard lock(self->mu_);
    ++self->requests_[type];
    mode = self->mode_;
  }
  if (reply_to.empty() || mode == Mode::kSilent) return;
  bool confirm = mode == Mode::kConfirm;
  natsMsg* out = nullptr;
  natsMsg_Create(&out, reply_to.c_str(), nullptr, confirm ? "" : "index refused", confirm ? 0 : 13);
  NatsPtr<natsMsg> reply(out);
  natsMsgHeader_Set(out, "Psvc-Saga-Outcome", confirm ? "CONFIRMED" : "REFUSED");
  natsMsgHeader_Set(out, "Psvc-Saga-Step", JsonField(data, "step").c_str());
  natsConnection_PublishMsg(nc, out);
}

void DeleteStreams(const std::vector<std::string>& names) {
  try {
    auto nc = events::detail::Connect(NatsUrl(), "test-cleanup", 2000ms);
    auto js = events::detail::JetStream(nc.get(), 2000ms);
    for (const auto& name : names) {
      jsErrCode jerr = static_cast<jsErrCode>(0);
      js_DeleteStream(js.get(), name.c_str(), nullptr, &jerr);
    }
  } catch (const std::exception&) {
    // Cleanup only: a leftover test stream does no harm to other tests (unique names).
  }
}

}  // namespace psvc::saga::fixture

// Write path throughput and outbox lag.
//  1. AnimeEnriched events/s through gRPC ApplyEvents (batches), beside the same events
//     applied in-process through write::EventApplier (the SQL without gRPC).
//  2. Events/s through JetStream: publish to the ingestion stream, the consumer applies.
//  3. Outbox lag (row insert → JetStream ack) while applying at a fixed rate.
// Each run uses a fresh database and its own stream names.
//
//   write_bench --admin-url URL --nats-url URL [--seconds 5] [--clients 4] [--batch 100]
//   write_bench ... --notify-ab [--ab-rounds 2]
// --notify-ab measures the direct, gRPC and JetStream paths with the outbox's NOTIFY as migrated
// (gated: one notifying transaction at a time), in every writing transaction (the trigger
// before migration 0021) and without it, in one run: PostgreSQL serializes the commits of
// transactions that NOTIFY, so this is what the wake-up costs writers.
#include <grpcpp/grpcpp.h>
#include <nats/nats.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <atomic>
#include <cstdio>
#include <thread>

#include "anime/write/v1/write_service.grpc.pb.h"
#include "grpc_api/event_codec.h"
#include "grpc_api/grpc_server.h"
#include "grpc_api/write_service.h"
#include "db/connection.h"
#include "db/migrator.h"
#include "db/pool.h"
#include "events/jetstream_consumer.h"
#include "events/outbox_relay.h"
#include "write/event_applier.h"

namespace {

namespace ev = anime::events::v1;
namespace wpb = anime::write::v1;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::string Id(uint32_t kind, uint64_t n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%08x-0000-4000-8000-%012llx", kind,
                static_cast<unsigned long long>(n & 0xffffffffffffull));
  return buf;
}

// A realistic enrichment: 8 characters, a studio and a producer, 2 relations, 1 work.
ev::EventEnvelope Enriched(uint64_t n) {
  ev::EventEnvelope env;
  env.set_event_id(Id(0xe0, n));
  env.mutable_occurred_at()->set_seconds(1700000000);
  env.set_producer("bench");
  env.set_schema_version(1);
  auto* a = env.mutable_anime_enriched();
  a->set_anime_id(Id(0xa0, n));
  auto* f = a->mutable_fields();
  f->set_title("Bench Anime " + std::to_string(n));
  f->set_type(ev::ANIME_TYPE_TV);
  f->set_year(1990 + n % 35);
  f->set_episode_count(12);
  f->set_synopsis(std::string(400, 's'));
  f->add_synonyms("BA " + std::to_string(n));
  for (int c = 0; c < 8; ++c) {
    auto* ch = a->add_characters();
    ch->set_character_id(Id(0xc0, n * 8 + c));
    ch->set_name("Character " + std::to_string(n * 8 + c));
    ch->set_role(c < 2 ? ev::CHARACTER_ROLE_MAIN : ev::CHARACTER_ROLE_SUPPORTING);
  }
  for (int s = 0; s < 2; ++s) {
    auto* co = a->add_companies();
    co->set_company_id(Id(0xd0, n % 50 + s * 1000));
    co->set_name("Company " + std::to_string(n % 50 + s * 1000));
    co->set_role(s == 0 ? ev::COMPANY_ROLE_STUDIO : ev::COMPANY_ROLE_PRODUCER);
  }
  // A prequel ingested a while ago (exists) and a sequel that arrives later (pending until
  // then): both paths of relation handling, without every event waiting on its neighbour.
  if (n >= 64) {
    auto* r = a->add_relations();
    r->set_related_anime_id(Id(0xa0, n - 64));
    r->set_relation_type(ev::RELATION_TYPE_PREQUEL);
  }
  auto* r = a->add_relations();
  r->set_related_anime_id(Id(0xa0, n + 64));
  r->set_relation_type(ev::RELATION_TYPE_SEQUEL);
  auto* w = a->add_original_works();
  w->set_original_work_id(Id(0xf0, n / 3));
  w->set_title("Work " + std::to_string(n / 3));
  w->set_kind(ev::ORIGINAL_WORK_KIND_MANGA);
  return env;
}

// The outbox's NOTIFY trigger: as migrated (only the transaction holding the gate notifies,
// migration 0021), one NOTIFY in every writing transaction (before 0021), or none.
enum class Notify { kGated, kEvery, kNone };

struct Db {
  std::string admin, url, name;
  Db(const std::string& admin_url, const std::string& tag, Notify notify = Notify::kGated)
      : admin(admin_url) {
    name = "psvc_bench_write_" + tag + "_" + std::to_string(getpid());
    auto c = psvc::db::Connection::Open(admin);
    c.Exec("DROP DATABASE IF EXISTS " + name);
    c.Exec("CREATE DATABASE " + name);
    url = admin.substr(0, admin.rfind('/')) + "/" + name;
    auto d = psvc::db::Connection::Open(url);
    psvc::db::Migrator(d, psvc::db::EmbeddedMigrations()).Apply();
    if (notify != Notify::kGated) d.Exec("DROP TRIGGER qdrant_outbox_notify ON qdrant_outbox");
    if (notify == Notify::kEvery) {
      d.Exec(
          "CREATE FUNCTION notify_every_transaction() RETURNS trigger LANGUAGE plpgsql AS "
          "$$ BEGIN PERFORM pg_notify('qdrant_outbox', ''); RETURN NULL; END $$");
      d.Exec(
          "CREATE TRIGGER qdrant_outbox_notify AFTER INSERT ON qdrant_outbox "
          "FOR EACH STATEMENT EXECUTE FUNCTION notify_every_transaction()");
    }
  }
  ~Db() {
    try {
      psvc::db::Connection::Open(admin).Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
    } catch (...) {
    }
  }
};

double RunDirect(const std::string& admin, int clients, double seconds,
                 Notify notify = Notify::kGated) {
  Db db(admin, "direct", notify);
  psvc::db::Pool pool({.url = db.url, .size = static_cast<size_t>(clients)});
  psvc::write::EventApplier applier(pool);
  std::atomic<uint64_t> next{0}, done{0};
  auto end = Clock::now() + std::chrono::duration<double>(seconds);
  std::vector<std::thread> threads;
  auto start = Clock::now();
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      while (Clock::now() < end) {
        applier.Apply(psvc::api::DecodeEnvelope(Enriched(next++)));
        ++done;
      }
    });
  }
  for (auto& t : threads) t.join();
  return done / std::chrono::duration<double>(Clock::now() - start).count();
}

// Small writes: EpisodeAired events (an episode upsert, a version bump and an outbox row, one
// transaction each), every thread on its own anime so that no row lock is shared: what is left
// to serialise is the commit itself.
double RunDirectEpisodes(const std::string& admin, int clients, double seconds, Notify notify) {
  Db db(admin, "episodes", notify);
  psvc::db::Pool pool({.url = db.url, .size = static_cast<size_t>(clients)});
  psvc::write::EventApplier applier(pool);
  std::vector<psvc::write::Event> anime;
  for (int c = 0; c < clients; ++c) anime.push_back(psvc::api::DecodeEnvelope(Enriched(c)));
  applier.ApplyBatch(std::move(anime));
  std::atomic<uint64_t> done{0};
  auto end = Clock::now() + std::chrono::duration<double>(seconds);
  std::vector<std::thread> threads;
  auto start = Clock::now();
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      for (uint64_t i = 0; Clock::now() < end; ++i) {
        psvc::write::EpisodeAired ep{Id(0xa0, c),
                                     Id(0xb0, (uint64_t(c) << 32) | i),
                                     static_cast<int32_t>(i % 2000),
                                     "Episode",
                                     {},
                                     {}};
        applier.Apply({Id(0xe3, (uint64_t(c) << 32) | i), 1700000000000, "bench", ep});
        ++done;
      }
    });
  }
  for (auto& t : threads) t.join();
  return done / std::chrono::duration<double>(Clock::now() - start).count();
}

double RunGrpc(const std::string& admin, int clients, int batch, double seconds,
               Notify notify = Notify::kGated) {
  Db db(admin, "grpc", notify);
  psvc::db::Pool pool({.url = db.url, .size = static_cast<size_t>(clients)});
  psvc::write::EventApplier applier(pool);
  psvc::api::GrpcServer server({.address = "127.0.0.1:0", .max_threads = clients * 2 + 4});
  psvc::api::RegisterWriteService(server, applier);
  server.Start();
  std::atomic<uint64_t> next{0}, done{0}, failed{0};
  auto end = Clock::now() + std::chrono::duration<double>(seconds);
  std::vector<std::thread> threads;
  auto start = Clock::now();
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      grpc::ChannelArguments args;
      args.SetInt("grpc.channel_id", c);
      auto stub = wpb::PostgresWriteService::NewStub(grpc::CreateCustomChannel(
          "127.0.0.1:" + std::to_string(server.port()), grpc::InsecureChannelCredentials(), args));
      while (Clock::now() < end) {
        wpb::ApplyEventsRequest req;
        for (int i = 0; i < batch; ++i) *req.add_events() = Enriched(next++);
        wpb::ApplyEventsResponse resp;
        grpc::ClientContext ctx;
        if (!stub->ApplyEvents(&ctx, req, &resp).ok()) {
          failed += batch;
          continue;
        }
        for (auto& r : resp.results()) {
          if (r.outcome() == wpb::OUTCOME_APPLIED) {
            ++done;
          } else if (failed++ == 0) {
            std::printf("  first failure: %s (code %d)\n", r.message().c_str(), r.code());
          }
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  double rate = done / std::chrono::duration<double>(Clock::now() - start).count();
  if (failed)
    std::printf("  (grpc: %llu events not applied)\n",
                static_cast<unsigned long long>(failed.load()));
  server.Shutdown(1s);
  return rate;
}

double RunJetStream(const std::string& admin, const std::string& nats_url, int events,
                    Notify notify = Notify::kGated) {
  Db db(admin, "js", notify);
  std::string tag = "bench" + std::to_string(getpid());
  psvc::db::Pool pool({.url = db.url, .size = 4});
  psvc::write::EventApplier applier(pool);
  psvc::events::JetStreamConsumerOptions co;
  co.nats_url = nats_url;
  co.stream = "BENCH_IN_" + tag;
  co.subjects = {tag + ".ingest.>"};
  co.durable = "bench_" + tag;
  co.dead_letter_subject = tag + ".ingest.dlq";
  co.fetch_batch = 128;
  co.fetch_wait = 100ms;
  // Publish everything first, then time the consumer draining the stream.
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  natsConnection_ConnectTo(&nc, nats_url.c_str());
  natsConnection_JetStream(&js, nc, nullptr);
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = co.stream.c_str();
  std::string subj = co.subjects[0];
  const char* subjects[] = {subj.c_str()};
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  js_AddStream(nullptr, js, &cfg, nullptr, nullptr);
  std::string subject = tag + ".ingest.anime";
  for (int i = 0; i < events; ++i) {
    std::string bytes;
    Enriched(i).SerializeToString(&bytes);
    js_PublishAsync(js, subject.c_str(), bytes.data(), static_cast<int>(bytes.size()), nullptr);
  }
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = 30000;
  js_PublishAsyncComplete(js, &po);
  auto start = Clock::now();
  psvc::events::JetStreamConsumer consumer(
      co, psvc::events::BatchHandler([&](const std::vector<psvc::events::Delivery>& batch) {
        return psvc::api::HandleIngestMessages(applier, batch);
      }));
  consumer.Start();
  auto conn = psvc::db::Connection::Open(db.url);
  while (conn.Exec("SELECT count(*) FROM processed_event").GetInt64(0, 0) < events &&
         Clock::now() - start < 300s) {
    std::this_thread::sleep_for(20ms);
  }
  double rate = events / std::chrono::duration<double>(Clock::now() - start).count();
  consumer.Stop();
  js_DeleteStream(js, co.stream.c_str(), nullptr, nullptr);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  return rate;
}

void RunOutboxLag(const std::string& admin, const std::string& nats_url, int rate, double seconds) {
  Db db(admin, "lag");
  std::string tag = "bench" + std::to_string(getpid());
  psvc::db::Pool pool({.url = db.url, .size = 4});
  psvc::write::EventApplier applier(pool);
  psvc::events::OutboxRelayOptions ro;
  ro.database_url = db.url;
  ro.nats_url = nats_url;
  ro.stream = "BENCH_OUT_" + tag;
  ro.subject_prefix = tag + ".changes";
  psvc::events::OutboxRelay relay(ro);
  relay.Start();
  std::this_thread::sleep_for(500ms);
  // Paced writers: AnimeViewed events (one small transaction + outbox row each).
  constexpr int kAnime = 64;  // views spread over many rows, as real traffic is
  for (int i = 0; i < kAnime; ++i) applier.Apply(psvc::api::DecodeEnvelope(Enriched(i)));
  std::atomic<uint64_t> sent{0};
  auto start = Clock::now();
  std::vector<std::thread> writers;
  constexpr int kWriters = 4;
  constexpr int kAnimeViewed = 64;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      auto interval = std::chrono::duration<double>(kWriters / static_cast<double>(rate));
      for (uint64_t i = 0;; ++i) {
        auto due = start + std::chrono::duration_cast<Clock::duration>(interval *
                                                                       (i + w / double(kWriters)));
        if (due - start > std::chrono::duration<double>(seconds)) break;
        std::this_thread::sleep_until(due);
        applier.Apply({Id(0xe2, 0), 1700000000000, "bench",
                       psvc::write::AnimeViewed{Id(0xa0, (i * kWriters + w) % kAnimeViewed)}});
        ++sent;
      }
    });
  }
  for (auto& t : writers) t.join();
  auto wrote = Clock::now() - start;
  auto conn = psvc::db::Connection::Open(db.url);
  while (conn.Exec("SELECT count(*) FROM qdrant_outbox WHERE published_at IS NULL").GetInt64(0, 0) >
             0 &&
         Clock::now() - start < 120s) {
    std::this_thread::sleep_for(20ms);
  }
  auto s = relay.stats();
  uint64_t total = 0;
  for (auto b : s.latency_buckets) total += b;
  auto pct = [&](double p) {
    uint64_t want = static_cast<uint64_t>(p * total), running = 0;
    for (size_t i = 0; i < s.latency_buckets.size(); ++i) {
      running += s.latency_buckets[i];
      if (running >= want) {
        return i < s.kLatencyBucketsMs.size()
                   ? "<= " + std::to_string(int(s.kLatencyBucketsMs[i])) + " ms"
                   : std::string("> 30000 ms");
      }
    }
    return std::string("?");
  };
  std::printf(
      "outbox lag at %d events/s for %.0f s: %llu rows written (%.0f/s achieved), "
      "published %llu; p50 %s, p99 %s, max %.1f ms, mean %.2f ms\n",
      rate, seconds, static_cast<unsigned long long>(sent.load()),
      sent / std::chrono::duration<double>(wrote).count(),
      static_cast<unsigned long long>(s.published), pct(0.5).c_str(), pct(0.99).c_str(),
      s.latency_max_ms, total ? s.latency_sum_ms / total : 0.0);
  relay.Stop();
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  natsConnection_ConnectTo(&nc, nats_url.c_str());
  natsConnection_JetStream(&js, nc, nullptr);
  js_DeleteStream(js, ro.stream.c_str(), nullptr, nullptr);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Write path benchmark: gRPC ApplyEvents, JetStream ingestion, outbox lag"};
  std::string admin, nats_url;
  double seconds = 5;
  int clients = 4, batch = 100, js_events = 5000, lag_rate = 1000;
  app.add_option("--admin-url", admin,
                 "URL of a database on the server where bench databases are created")
      ->envname("PSVC_ADMIN_DATABASE_URL")
      ->required();
  app.add_option("--nats-url", nats_url, "nats-server with JetStream")
      ->envname("NATS_URL")
      ->required();
  app.add_option("--seconds", seconds)->capture_default_str();
  app.add_option("--clients", clients)->capture_default_str();
  app.add_option("--batch", batch, "events per ApplyEvents call")->capture_default_str();
  app.add_option("--js-events", js_events, "events published to JetStream")->capture_default_str();
  app.add_option("--lag-rate", lag_rate, "events/s for the outbox lag measurement")
      ->capture_default_str();
  bool notify_ab = false;
  int ab_rounds = 2;
  app.add_flag("--notify-ab", notify_ab,
               "Measure the write paths with the outbox NOTIFY gated, in every transaction, and "
               "without it");
  app.add_option("--ab-rounds", ab_rounds, "with --notify-ab: alternations")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  psvc::api::ConfigureGrpcRuntime();  // as serve does
  if (notify_ab) {
    std::printf(
        "Events/s with the outbox NOTIFY as migrated (gated), in every writing transaction "
        "(every) and without it (none):\n");
    std::printf("%-34s %8s %8s %8s\n", "path", "gated", "every", "none");
    const std::string n = std::to_string(clients);
    auto row = [](const std::string& path, auto&& run) {
      double gated = run(Notify::kGated), every = run(Notify::kEvery), none = run(Notify::kNone);
      std::printf("%-34s %8.0f %8.0f %8.0f\n", path.c_str(), gated, every, none);
      std::fflush(stdout);
    };
    for (int round = 0; round < ab_rounds; ++round) {
      row("EpisodeAired direct, " + n + " threads",
          [&](Notify m) { return RunDirectEpisodes(admin, clients, seconds, m); });
      row("AnimeEnriched direct, " + n + " threads",
          [&](Notify m) { return RunDirect(admin, clients, seconds, m); });
      row("AnimeEnriched gRPC, " + n + " x batch " + std::to_string(batch),
          [&](Notify m) { return RunGrpc(admin, clients, batch, seconds, m); });
      row("JetStream, " + std::to_string(js_events) + " events",
          [&](Notify m) { return RunJetStream(admin, nats_url, js_events, m); });
    }
    return 0;
  }
  std::printf("AnimeEnriched (8 characters, 2 companies, 2 relations, 1 work) events/s:\n");
  std::printf("  direct EventApplier, %d threads: %.0f events/s\n", clients,
              RunDirect(admin, clients, seconds));
  std::printf("  gRPC ApplyEvents, %d clients x batch %d: %.0f events/s\n", clients, batch,
              RunGrpc(admin, clients, batch, seconds));
  std::printf("  JetStream consumer, %d events: %.0f events/s\n", js_events,
              RunJetStream(admin, nats_url, js_events));
  RunOutboxLag(admin, nats_url, lag_rate, seconds);
  return 0;
}

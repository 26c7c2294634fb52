// Write path throughput and outbox lag.
//  1. AnimeEnriched events/s through gRPC ApplyEvents (batches), beside the same batches
//     applied in-process through write::EventApplier::ApplyBatch (the same SQL through libpq,
//     without gRPC), and one event per transaction (EventApplier::Apply).
//  2. Events/s through JetStream: publish to the ingestion stream, the consumer applies.
//  3. Outbox lag (row insert → JetStream ack) while applying at a fixed rate.
// Each run uses a fresh database and its own stream names.
//
//   write_bench --admin-url URL --nats-url URL [--seconds 5] [--clients 4] [--batch 100]
//               [--js-events 5000] [--lag-rate 1000] [--json FILE]
//   write_bench ... --notify-ab [--ab-rounds 2]
//
// --notify-ab measures the write paths (EpisodeAired one transaction per event, AnimeEnriched
// direct one transaction per event and through gRPC batches, JetStream) with the outbox's NOTIFY
// as migrated (gated: one notifying transaction at a time, migration 0021), in every writing
// transaction (the trigger before 0021) and without it, in one run, instead of the measurements
// above: PostgreSQL serializes the commits of transactions that NOTIFY, so this is what the
// wake-up costs writers.
//
// --json appends one JSON object per measurement to FILE (bench/run reads these):
//   {"bench":"write","case":...,"mode":...,"clients":4,"batch":100,"p50_ms":...,
//    "p99_ms":...,"rate":...}   (rate in events/s; latency per call: one event or one batch)
// With --notify-ab each line also names the trigger variant and the round, e.g.
//   {"bench":"write","case":"episode_aired","mode":"direct",...,"notify":"every","round":1}
#include <grpcpp/grpcpp.h>
#include <nats/nats.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <thread>

#include "anime/write/v1/write_service.grpc.pb.h"
#include "db/connection.h"
#include "db/migrator.h"
#include "db/pool.h"
#include "events/jetstream_consumer.h"
#include "events/outbox_relay.h"
#include "grpc_api/event_codec.h"
#include "grpc_api/grpc_server.h"
#include "grpc_api/write_service.h"
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

/// Throughput and per-call latency of one measurement.
struct Result {
  double rate = 0;  // events/s
  double p50_ms = 0, p99_ms = 0;
};

/// Collects per-call latencies from several threads.
class Latencies {
 public:
  void Add(std::vector<double> ms) {
    std::lock_guard lock(mutex_);
    all_.insert(all_.end(), ms.begin(), ms.end());
  }
  double Pct(double p) {
    std::lock_guard lock(mutex_);
    if (all_.empty()) return 0;
    std::sort(all_.begin(), all_.end());
    return all_[std::min(all_.size() - 1, static_cast<size_t>(p * all_.size()))];
  }

 private:
  std::mutex mutex_;
  std::vector<double> all_;
};

double MsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// The outbox's NOTIFY trigger: as migrated (only the transaction holding the gate notifies,
// migration 0021), one NOTIFY in every writing transaction (before 0021), or none.
enum class Notify { kGated, kEvery, kNone };

const char* NotifyName(Notify notify) {
  switch (notify) {
    case Notify::kGated:
      return "gated";
    case Notify::kEvery:
      return "every";
    case Notify::kNone:
      return "none";
  }
  return "?";
}

// A fresh, migrated database with the outbox trigger as `notify` says; dropped on destruction.
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
      // The trigger of migration 0002, under its own name.
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

// Applies events in-process from `clients` threads: one event per transaction when `batch`
// is 1 (EventApplier::Apply), else `batch` events per transaction (ApplyBatch, what gRPC
// ApplyEvents runs).
Result RunDirect(const std::string& admin, int clients, int batch, double seconds,
                 Notify notify = Notify::kGated) {
  Db db(admin, "direct", notify);
  psvc::db::Pool pool({.url = db.url, .size = static_cast<size_t>(clients)});
  psvc::write::EventApplier applier(pool);
  std::atomic<uint64_t> next{0}, done{0};
  Latencies latencies;
  auto end = Clock::now() + std::chrono::duration<double>(seconds);
  std::vector<std::thread> threads;
  auto start = Clock::now();
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      std::vector<double> ms;
      while (Clock::now() < end) {
        std::vector<psvc::write::Event> events;
        for (int i = 0; i < batch; ++i) {
          events.push_back(psvc::api::DecodeEnvelope(Enriched(next++)));
        }
        auto t0 = Clock::now();
        if (batch == 1) {
          applier.Apply(std::move(events.front()));
        } else {
          applier.ApplyBatch(std::move(events));
        }
        ms.push_back(MsSince(t0));
        done += batch;
      }
      latencies.Add(std::move(ms));
    });
  }
  for (auto& t : threads) t.join();
  return {done / std::chrono::duration<double>(Clock::now() - start).count(), latencies.Pct(0.50),
          latencies.Pct(0.99)};
}

// Small writes: EpisodeAired events (an episode upsert, a version bump and an outbox row, one
// transaction each), every thread on its own anime so that no row lock is shared: what is left
// to serialise is the commit itself.
Result RunDirectEpisodes(const std::string& admin, int clients, double seconds, Notify notify) {
  Db db(admin, "episodes", notify);
  psvc::db::Pool pool({.url = db.url, .size = static_cast<size_t>(clients)});
  psvc::write::EventApplier applier(pool);
  std::vector<psvc::write::Event> anime;
  for (int c = 0; c < clients; ++c) anime.push_back(psvc::api::DecodeEnvelope(Enriched(c)));
  applier.ApplyBatch(std::move(anime));
  std::atomic<uint64_t> done{0}, failed{0};
  Latencies latencies;
  auto end = Clock::now() + std::chrono::duration<double>(seconds);
  std::vector<std::thread> threads;
  auto start = Clock::now();
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      std::vector<double> ms;
      for (uint64_t i = 0; Clock::now() < end; ++i) {
        psvc::write::EpisodeAired ep{Id(0xa0, c),
                                     Id(0xb0, (uint64_t(c) << 32) | i),
                                     static_cast<int32_t>(i % 2000),
                                     "Episode",
                                     {},
                                     {}};
        auto t0 = Clock::now();
        auto r = applier.Apply({Id(0xe3, (uint64_t(c) << 32) | i), 1700000000000, "bench", ep});
        ms.push_back(MsSince(t0));
        if (r.outcome == psvc::write::Outcome::kApplied) {
          ++done;
        } else if (failed++ == 0) {
          std::printf("  first episode not applied: %s\n", r.message.c_str());
        }
      }
      latencies.Add(std::move(ms));
    });
  }
  for (auto& t : threads) t.join();
  return {done / std::chrono::duration<double>(Clock::now() - start).count(), latencies.Pct(0.50),
          latencies.Pct(0.99)};
}

Result RunGrpc(const std::string& admin, int clients, int batch, double seconds,
               Notify notify = Notify::kGated) {
  Db db(admin, "grpc", notify);
  psvc::db::Pool pool({.url = db.url, .size = static_cast<size_t>(clients)});
  psvc::write::EventApplier applier(pool);
  psvc::api::GrpcServer server({.address = "127.0.0.1:0", .max_threads = clients * 2 + 4});
  psvc::api::RegisterWriteService(server, applier);
  server.Start();
  std::atomic<uint64_t> next{0}, done{0}, failed{0};
  Latencies latencies;
  auto end = Clock::now() + std::chrono::duration<double>(seconds);
  std::vector<std::thread> threads;
  auto start = Clock::now();
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      grpc::ChannelArguments args;
      args.SetInt("grpc.channel_id", c);
      auto stub = wpb::PostgresWriteService::NewStub(grpc::CreateCustomChannel(
          "127.0.0.1:" + std::to_string(server.port()), grpc::InsecureChannelCredentials(), args));
      std::vector<double> ms;
      while (Clock::now() < end) {
        wpb::ApplyEventsRequest req;
        for (int i = 0; i < batch; ++i) *req.add_events() = Enriched(next++);
        wpb::ApplyEventsResponse resp;
        grpc::ClientContext ctx;
        auto t0 = Clock::now();
        bool ok = stub->ApplyEvents(&ctx, req, &resp).ok();
        ms.push_back(MsSince(t0));
        if (!ok) {
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
      latencies.Add(std::move(ms));
    });
  }
  for (auto& t : threads) t.join();
  Result result{done / std::chrono::duration<double>(Clock::now() - start).count(),
                latencies.Pct(0.50), latencies.Pct(0.99)};
  if (failed)
    std::printf("  (grpc: %llu events not applied)\n",
                static_cast<unsigned long long>(failed.load()));
  server.Shutdown(1s);
  return result;
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

// Returns the achieved write rate and the lag's p50/p99 as the upper bounds of the relay's
// latency buckets (-1: beyond the last bucket).
Result RunOutboxLag(const std::string& admin, const std::string& nats_url, int rate,
                    double seconds) {
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
  auto bound = [&](double p) {
    uint64_t want = static_cast<uint64_t>(p * total), running = 0;
    for (size_t i = 0; i < s.latency_buckets.size() && i < s.kLatencyBucketsMs.size(); ++i) {
      running += s.latency_buckets[i];
      if (running >= want) return static_cast<double>(s.kLatencyBucketsMs[i]);
    }
    return -1.0;
  };
  Result result{sent / std::chrono::duration<double>(wrote).count(), bound(0.5), bound(0.99)};
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
  return result;
}

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};

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
  std::string json_path;
  app.add_option("--json", json_path, "also append each measurement to FILE as a JSON line");
  bool notify_ab = false;
  int ab_rounds = 2;
  app.add_flag("--notify-ab", notify_ab,
               "Measure the write paths with the outbox NOTIFY gated, in every transaction, and "
               "without it");
  app.add_option("--ab-rounds", ab_rounds, "with --notify-ab: alternations")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  std::unique_ptr<FILE, FileCloser> json;
  if (!json_path.empty()) {
    json.reset(std::fopen(json_path.c_str(), "a"));
    if (!json) {
      std::fprintf(stderr, "cannot open %s\n", json_path.c_str());
      return 1;
    }
  }
  // `ab` names the --notify-ab variant and round of the measurement (empty: the normal run).
  auto emit = [&](const char* name, const char* mode, int threads, int per_call, Result r,
                  const std::string& ab = "") {
    if (!json) return;
    std::fprintf(json.get(),
                 "{\"bench\":\"write\",\"case\":\"%s\",\"mode\":\"%s\",\"clients\":%d,"
                 "\"batch\":%d,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"rate\":%.1f%s}\n",
                 name, mode, threads, per_call, r.p50_ms, r.p99_ms, r.rate, ab.c_str());
    std::fflush(json.get());
  };
  psvc::api::ConfigureGrpcRuntime();  // as serve does
  if (notify_ab) {
    std::printf(
        "Events/s with the outbox NOTIFY as migrated (gated), in every writing transaction "
        "(every) and without it (none):\n");
    std::printf("%-34s %8s %8s %8s\n", "path", "gated", "every", "none");
    const std::string n = std::to_string(clients);
    for (int round = 1; round <= ab_rounds; ++round) {
      // One row: the path measured on a fresh database per variant, each also a JSON line.
      auto row = [&](const std::string& path, const char* name, const char* mode, int threads,
                     int per_call, auto&& run) {
        double rates[3];
        for (Notify notify : {Notify::kGated, Notify::kEvery, Notify::kNone}) {
          Result r = run(notify);
          rates[static_cast<int>(notify)] = r.rate;
          emit(name, mode, threads, per_call, r,
               std::string(",\"notify\":\"") + NotifyName(notify) +
                   "\",\"round\":" + std::to_string(round));
        }
        std::printf("%-34s %8.0f %8.0f %8.0f\n", path.c_str(), rates[0], rates[1], rates[2]);
        std::fflush(stdout);
      };
      row("EpisodeAired direct, " + n + " threads", "episode_aired", "direct", clients, 1,
          [&](Notify m) { return RunDirectEpisodes(admin, clients, seconds, m); });
      row("AnimeEnriched direct, " + n + " threads", "enriched", "direct", clients, 1,
          [&](Notify m) { return RunDirect(admin, clients, 1, seconds, m); });
      row("AnimeEnriched gRPC, " + n + " x batch " + std::to_string(batch), "enriched", "grpc",
          clients, batch, [&](Notify m) { return RunGrpc(admin, clients, batch, seconds, m); });
      row("JetStream, " + std::to_string(js_events) + " events", "enriched", "jetstream", 1, 128,
          [&](Notify m) {
            return Result{RunJetStream(admin, nats_url, js_events, m), 0, 0};
          });
    }
    return 0;
  }
  std::printf(
      "AnimeEnriched (8 characters, 2 companies, 2 relations, 1 work) events/s, "
      "latency per call:\n");
  auto show = [](const char* what, Result r) {
    std::printf("  %-44s %7.0f events/s  p50 %8.2f ms  p99 %8.2f ms\n", what, r.rate, r.p50_ms,
                r.p99_ms);
  };
  char label[96];
  Result single = RunDirect(admin, clients, 1, seconds);
  std::snprintf(label, sizeof label, "direct Apply, %d threads, 1 event/transaction:", clients);
  show(label, single);
  emit("enriched", "direct", clients, 1, single);
  Result direct = RunDirect(admin, clients, batch, seconds);
  std::snprintf(label, sizeof label, "direct ApplyBatch, %d threads x batch %d:", clients, batch);
  show(label, direct);
  emit("enriched", "direct", clients, batch, direct);
  Result grpc = RunGrpc(admin, clients, batch, seconds);
  std::snprintf(label, sizeof label, "gRPC ApplyEvents, %d clients x batch %d:", clients, batch);
  show(label, grpc);
  emit("enriched", "grpc", clients, batch, grpc);
  Result js{RunJetStream(admin, nats_url, js_events), 0, 0};
  std::printf("  JetStream consumer, %d events: %.0f events/s\n", js_events, js.rate);
  emit("enriched", "jetstream", 1, 128, js);
  emit("outbox_lag", "relay", 4, 1, RunOutboxLag(admin, nats_url, lag_rate, seconds));
  return 0;
}

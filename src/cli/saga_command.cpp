// `postgres-service saga start|list|show|retry|abort`: operator access to durable sagas,
// straight against the database like the other operator commands (no gRPC endpoint or write
// token needed). A started saga is driven by any running `serve` with NATS: its runner polls for
// runnable sagas, so the first step runs within its poll interval (0.5 s).
#include <CLI/CLI.hpp>

#include <ctime>
#include <iostream>
#include <memory>
#include <random>

#include "cli/commands.h"
#include "cli/database_option.h"
#include "db/pool.h"
#include "saga/saga_store.h"

namespace psvc::cli {

namespace {

struct SagaArgs {
  std::string database_url;
  std::string status;
  int limit = 20;
  std::string saga_id;
  std::string reason;
  std::string request_id;
  std::string duplicate_id, survivor_id, anime_id;
};

/// A fresh request id when the operator gave none: running the command again then starts
/// nothing new (the anime are part of the unfinished saga), and the printed id repeats it.
std::string RandomRequestId() {
  std::random_device rd;
  char buf[24];
  std::snprintf(buf, sizeof buf, "cli-%08x%08x", rd(), rd());
  return buf;
}

void PrintStarted(const saga::StartResult& r, const std::string& request_id) {
  if (r.code != saga::Code::kOk) {
    std::cerr << "error: " << saga::ToString(r.code) << ": " << r.message << "\n";
    throw CLI::RuntimeError(1);
  }
  std::cout << (r.created ? "started " : "already started ") << r.saga_id
            << " (request id " << request_id << ")\n";
}

std::string Time(int64_t ms) {
  if (ms == 0) return "-";
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return std::string(buf) + "Z";
}

std::string InputSummary(const saga::SagaView& v) {
  std::string out;
  for (const auto& [k, val] : v.input) out += (out.empty() ? "" : " ") + k + "=" + val;
  return out;
}

saga::SagaStore OpenStore(const SagaArgs& a, std::unique_ptr<db::Pool>& pool) {
  pool = std::make_unique<db::Pool>(db::PoolOptions{.url = a.database_url, .size = 1});
  return saga::SagaStore(*pool);
}

int Check(const saga::ControlResult& r, const std::string& done) {
  if (r.code != saga::Code::kOk) {
    std::cerr << "error: " << saga::ToString(r.code) << ": " << r.message << "\n";
    return 1;
  }
  std::cout << done << "\n";
  return 0;
}

}  // namespace

void AddSagaCommand(CLI::App& app) {
  auto args = std::make_shared<SagaArgs>();
  auto* cmd = app.add_subcommand("saga", "Inspect and steer durable sagas (merge / remove anime)");
  cmd->require_subcommand(1);
  AddDatabaseUrlOption(*cmd, args->database_url);

  auto* start = cmd->add_subcommand(
      "start", "Start MergeAnime or RemoveAnime; a running service drives it (see `saga show`)");
  start->require_subcommand(1);
  auto* merge = start->add_subcommand(
      "merge", "Merge a duplicate anime into its survivor (edges, episodes, views move)");
  merge->add_option("--duplicate", args->duplicate_id, "Anime id that disappears")->required();
  merge->add_option("--survivor", args->survivor_id, "Anime id that stays")->required();
  auto* remove = start->add_subcommand("remove", "Hide at once, then purge an anime");
  remove->add_option("--anime", args->anime_id, "Anime id to remove")->required();
  remove->add_option("--reason", args->reason, "Kept in the tombstone")->required();
  for (auto* sub : {merge, remove}) {
    sub->add_option("--request-id", args->request_id,
                    "Idempotency key: the same id again returns the same saga (default: random)");
  }
  merge->callback([args] {
    std::unique_ptr<db::Pool> pool;
    auto store = OpenStore(*args, pool);
    if (args->request_id.empty()) args->request_id = RandomRequestId();
    PrintStarted(store.StartMerge(args->request_id, args->duplicate_id, args->survivor_id),
                 args->request_id);
  });
  remove->callback([args] {
    std::unique_ptr<db::Pool> pool;
    auto store = OpenStore(*args, pool);
    if (args->request_id.empty()) args->request_id = RandomRequestId();
    PrintStarted(store.StartRemove(args->request_id, args->anime_id, args->reason),
                 args->request_id);
  });

  auto* list = cmd->add_subcommand("list", "Newest sagas first");
  list->add_option("--status", args->status,
                   "Only RUNNING, COMPENSATING, COMPLETED or COMPENSATED")
      ->check(CLI::IsMember({"RUNNING", "COMPENSATING", "COMPLETED", "COMPENSATED"}));
  list->add_option("--limit", args->limit, "At most this many")->capture_default_str();
  list->callback([args] {
    std::unique_ptr<db::Pool> pool;
    auto store = OpenStore(*args, pool);
    auto sagas = store.List(args->status, args->limit);
    std::cout << "saga_id                               type         status        step  "
                 "created               input\n";
    for (const auto& v : sagas) {
      char line[160];
      std::snprintf(line, sizeof line, "%-37s %-12s %-13s %-5d %-21s ", v.id.c_str(),
                    v.type.c_str(), v.status.c_str(), v.current_step,
                    Time(v.created_at_ms).c_str());
      std::cout << line << InputSummary(v) << "\n";
    }
    if (sagas.empty()) std::cout << "(none)\n";
  });

  auto* show = cmd->add_subcommand("show", "A saga with its steps");
  show->add_option("saga_id", args->saga_id)->required();
  show->callback([args] {
    std::unique_ptr<db::Pool> pool;
    auto store = OpenStore(*args, pool);
    auto v = store.Get(args->saga_id);
    if (!v) {
      std::cerr << "error: no saga with id " << args->saga_id << "\n";
      throw CLI::RuntimeError(1);
    }
    std::cout << "saga        " << v->id << "\n"
              << "type        " << v->type << "\n"
              << "request_id  " << v->request_id << "\n"
              << "input       " << InputSummary(*v) << "\n"
              << "status      " << v->status << " (step " << v->current_step << ", "
              << v->attempts << " failed attempt(s))\n"
              << "created     " << Time(v->created_at_ms) << "\n"
              << "updated     " << Time(v->updated_at_ms) << "\n"
              << "finished    " << Time(v->finished_at_ms) << "\n"
              << "next try    " << Time(v->next_attempt_at_ms) << "\n"
              << "lease       " << (v->lease_owner.empty() ? "-" : v->lease_owner) << "\n";
    if (!v->last_error.empty()) std::cout << "last error  " << v->last_error << "\n";
    std::cout << "\n  #  step        status       attempts  reply       finished\n";
    for (const auto& s : v->steps) {
      char line[160];
      std::snprintf(line, sizeof line, "  %-2d %-11s %-12s %-9d %-11s %s", s.index,
                    s.name.c_str(), s.status.c_str(), s.attempts,
                    s.reply.empty() ? "-" : s.reply.c_str(), Time(s.finished_at_ms).c_str());
      std::cout << line << "\n";
      if (!s.last_error.empty()) std::cout << "     error: " << s.last_error << "\n";
      if (!s.reply_detail.empty()) std::cout << "     reply: " << s.reply_detail << "\n";
    }
  });

  auto* retry = cmd->add_subcommand("retry", "Run an unfinished saga now (skip its backoff or reply wait)");
  retry->add_option("saga_id", args->saga_id)->required();
  retry->callback([args] {
    std::unique_ptr<db::Pool> pool;
    auto store = OpenStore(*args, pool);
    if (int rc = Check(store.Retry(args->saga_id), "scheduled now: " + args->saga_id)) {
      throw CLI::RuntimeError(rc);
    }
  });

  auto* abort = cmd->add_subcommand(
      "abort", "Compensate a running saga that has not passed its point of no return");
  abort->add_option("saga_id", args->saga_id)->required();
  abort->add_option("--reason", args->reason, "Recorded as the saga's last error");
  abort->callback([args] {
    std::unique_ptr<db::Pool> pool;
    auto store = OpenStore(*args, pool);
    if (int rc = Check(store.Abort(args->saga_id, args->reason),
                       "compensating: " + args->saga_id)) {
      throw CLI::RuntimeError(rc);
    }
  });
  // --database-url may follow the action too (`saga list --database-url ...`).
  for (auto* sub : {start, merge, remove, list, show, retry, abort}) sub->fallthrough();
}

}  // namespace psvc::cli

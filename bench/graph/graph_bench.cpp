// Graph primitives on a loaded catalogue: latency percentiles and throughput through gRPC,
// beside the same SQL run directly through libpq (GraphQueries on a plain connection) in the
// same run, so the service's own overhead is a measured difference. The two modes alternate in
// short rounds, so a drift of the machine's speed lands on both.
//
// The service runs as serve runs it: in its own process (forked before any gRPC state
// exists), with the per-call metrics and access-log interceptor, tcmalloc and ConfigureGrpcRuntime.
// The client is an ordinary C++ one: the async stub on one completion queue per client thread
// and an arena per answer, its first block reused by the thread.
//
//   graph_bench --database-url URL [--seconds 5] [--rounds 5] [--clients 1,8] [--seed 7]
//               [--only PREFIX,...] [--server HOST:PORT | --in-process] [--no-metrics]
//               [--deadline-ms N] [--graph-engine sql|memory] [--no-libpq] [--json FILE]
//
// --json appends one JSON object per measurement to FILE (bench/run reads these):
//   {"bench":"graph","case":"neighbors","mode":"libpq"|"grpc","engine":"sql"|"memory",
//    "clients":1,"n":...,"p50_ms":...,"p99_ms":...,"max_ms":...,"rate":...,"errors":0,
//    "pg_cpu_ms":...}
// ("engine" is what the service answered with in this run; the libpq mode always runs the SQL.)
//
// pg_cpu_ms (column pg_ms/call) is the PostgreSQL CPU time per call: the time on CPU of every
// server process connected to the benchmarked database (pg_stat_activity.datname, the
// benchmark's own monitoring session excepted), read from /proc/<pid>/schedstat before and after
// each measured stretch, summed and divided by the calls. It counts the service's pool, the
// libpq mode's connections and anything else on that database while the calls ran (a `serve`
// given by --server keeps its background work there); not the server's shared background
// processes (WAL writer, checkpointer). null (and "-") when the server's processes cannot be
// read from here (another host, or no permission).
#include <grpcpp/grpcpp.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <random>
#include <thread>
#include <unordered_map>

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "anime/graph/v1/graph_service.grpc.pb.h"
#include "db/pool.h"
#include "graph/engine.h"
#include "graph/graph_queries.h"
#include "graph/memory_engine.h"
#include "grpc_api/graph_service.h"
#include "grpc_api/grpc_server.h"
#include "observability/metrics.h"

namespace {

namespace pb = anime::graph::v1;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct Inputs {
  std::vector<std::string> nodes;                          // random anime
  std::vector<std::pair<std::string, std::string>> near;   // pairs 1..5 hops apart (all edges)
  std::vector<std::pair<std::string, std::string>> apart;  // unreachable over relations only
};

Inputs PickInputs(const std::string& url, uint64_t seed) {
  auto conn = psvc::db::Connection::Open(url);
  Inputs in;
  auto r = conn.Query("SELECT id::text FROM anime ORDER BY md5(id::text || $1) LIMIT 2000",
                      {std::to_string(seed)});
  for (int i = 0; i < r.rows(); ++i) in.nodes.emplace_back(r.Get(i, 0));
  // Near pairs: a random walk of 1..5 steps over all edge types from a random node.
  std::mt19937_64 rng(seed);
  psvc::graph::GraphQueries q(conn, Clock::now() + 1h, 10000ms);
  auto all = psvc::graph::EdgeFilter::All();
  for (size_t i = 0; i < 300 && i < in.nodes.size(); ++i) {
    std::string cur = in.nodes[i];
    int steps = 1 + static_cast<int>(rng() % 5);
    for (int s = 0; s < steps; ++s) {
      auto n = q.Neighbors(cur, all, 50, 10);
      if (n.edges.empty()) break;
      cur = n.edges[rng() % n.edges.size()].node_id;
    }
    if (cur != in.nodes[i]) in.near.emplace_back(in.nodes[i], cur);
  }
  // Apart pairs: two anime of different franchises (no relation path between them).
  auto rel = psvc::graph::EdgeFilter::Of({});
  rel.same_studio = rel.co_appears = rel.adapted_from = false;
  for (size_t i = 0; in.apart.size() < 200 && i + 1 < in.nodes.size(); i += 2) {
    auto p = q.Path(in.nodes[i], in.nodes[i + 1], rel, 5, 10, 20000);
    if (!p.found && !p.truncated) in.apart.emplace_back(in.nodes[i], in.nodes[i + 1]);
  }
  return in;
}

struct Stats {
  std::vector<double> ms;
  double seconds = 0;
  uint64_t errors = 0;
  uint64_t pg_cpu_ns = 0;  // PostgresCpu over the measured stretches
};

/// CPU time of the PostgreSQL processes serving the benchmarked database (see pg_cpu_ms above).
class PostgresCpu {
 public:
  using Sample = std::unordered_map<int, uint64_t>;  // pid -> nanoseconds on CPU so far

  explicit PostgresCpu(const std::string& url) : conn_(psvc::db::Connection::Open(url)) {
    // Readable only when the server runs here: the monitoring session's own backend must be a
    // postgres process whose CPU time this process can read.
    const std::string own(conn_.Query("SELECT pg_backend_pid()").Get(0, 0));
    std::ifstream comm("/proc/" + own + "/comm");
    std::string name;
    available_ = std::getline(comm, name) && name == "postgres" && CpuNs(std::stoi(own));
  }
  bool available() const { return available_; }

  Sample Take() {
    Sample s;
    if (!available_) return s;
    auto r = conn_.Query(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND "
        "pid <> pg_backend_pid()");
    for (int i = 0; i < r.rows(); ++i) {
      const int pid = static_cast<int>(r.GetInt64(i, 0));
      if (auto ns = CpuNs(pid)) s[pid] = *ns;
    }
    return s;
  }
  /// CPU time spent between two samples: a process that appeared in between counts whole (it
  /// started during the stretch); one that ended in between is lost.
  static uint64_t Between(const Sample& before, const Sample& after) {
    uint64_t ns = 0;
    for (const auto& [pid, now] : after) {
      auto it = before.find(pid);
      const uint64_t then = it == before.end() ? 0 : it->second;
      if (now > then) ns += now - then;
    }
    return ns;
  }

 private:
  static std::optional<uint64_t> CpuNs(int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/schedstat");
    uint64_t ns = 0;
    if (!(in >> ns)) return std::nullopt;
    return ns;
  }

  psvc::db::Connection conn_;
  bool available_ = false;
};

double Pct(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

using Op = std::function<bool(int, uint64_t)>;

// Runs `op(client, i)` from `clients` threads, client c taking inputs i = first + c,
// first + c + clients, ... With `replay` empty it runs for `seconds` and stores how many calls
// each client made in `made`; otherwise each client makes exactly replay[c] calls, so a second
// mode can be measured on the very inputs of the first (latency varies a lot by input).
Stats Drive(int clients, double seconds, const Op& op, uint64_t first = 0,
            const std::vector<uint64_t>& replay = {}, std::vector<uint64_t>* made = nullptr) {
  std::vector<std::vector<double>> per(clients);
  std::atomic<uint64_t> errors{0};
  auto start = Clock::now();
  auto end = start + std::chrono::duration<double>(seconds);
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      uint64_t n = 0;
      for (uint64_t i = first + c; replay.empty() ? Clock::now() < end : n < replay[c];
           i += clients, ++n) {
        auto t0 = Clock::now();
        bool ok = op(c, i);
        per[c].push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        if (!ok) ++errors;
      }
    });
  }
  for (auto& t : threads) t.join();
  Stats s;
  s.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (made) made->clear();
  for (auto& v : per) {
    s.ms.insert(s.ms.end(), v.begin(), v.end());
    if (made) made->push_back(v.size());
  }
  s.errors = errors;
  return s;
}

void Merge(Stats& into, Stats s) {
  into.ms.insert(into.ms.end(), s.ms.begin(), s.ms.end());
  into.seconds += s.seconds;
  into.errors += s.errors;
  into.pg_cpu_ns += s.pg_cpu_ns;
}

// One unary call through the async stub: a completion queue per client thread (created once)
// and the answer on an arena, as a latency-minded C++ client does it. `accept` judges the
// answer of a call that succeeded; a rejected answer comes back as INTERNAL.
template <typename Stub, typename Request, typename Response>
grpc::Status Call(Stub& stub,
                  std::unique_ptr<grpc::ClientAsyncResponseReader<Response>> (Stub::*start)(
                      grpc::ClientContext*, const Request&, grpc::CompletionQueue*),
                  const Request& request, std::chrono::milliseconds deadline,
                  bool (*accept)(const Response&) = nullptr) {
  thread_local grpc::CompletionQueue cq;
  grpc::ClientContext ctx;
  if (deadline.count() > 0) ctx.set_deadline(std::chrono::system_clock::now() + deadline);
  // The arena's first block is this thread's buffer, so an answer (a k_hop with labels is
  // ~10 KB of messages) costs the client no allocation of arena blocks.
  thread_local std::array<char, 64 * 1024> first_block;
  google::protobuf::ArenaOptions arena_options;
  arena_options.initial_block = first_block.data();
  arena_options.initial_block_size = first_block.size();
  google::protobuf::Arena arena(arena_options);
  auto* response = google::protobuf::Arena::CreateMessage<Response>(&arena);
  grpc::Status status;
  auto rpc = (stub.*start)(&ctx, request, &cq);
  rpc->Finish(response, &status, response);
  void* tag = nullptr;
  bool ok = false;
  if (!cq.Next(&tag, &ok) || tag != response || !ok) {
    return {grpc::StatusCode::INTERNAL, "completion queue failed"};
  }
  if (status.ok() && accept && !accept(*response)) {
    return {grpc::StatusCode::INTERNAL, "unexpected answer"};
  }
  return status;
}

// The graph service as `serve` hosts it: a read-only pool with the graph session settings
// and, unless `metrics` is false, the per-call metrics and access-log interceptor.
class BenchServer {
 public:
  BenchServer(const std::string& url, int max_clients, bool metrics, bool memory)
      : pool_({.url = url,
               .size = static_cast<size_t>(max_clients),
               .read_only = true,
               .session_setup = psvc::graph::GraphQueries::SessionSetup(),
               .metrics = metrics ? &registry_ : nullptr}),
        server_({.address = "127.0.0.1:0",
                 .max_threads = 4 * max_clients + 4,
                 .metrics = metrics ? &registry_ : nullptr}) {
    if (memory) {
      // As serve --graph-engine memory once its snapshot has loaded.
      memory_ = psvc::graph::MemoryGraphEngine::Load(url, sql_);
      psvc::api::RegisterGraphService(server_, *memory_, {});
    } else {
      psvc::api::RegisterGraphService(server_, sql_, {});
    }
    server_.Start();
  }
  ~BenchServer() { server_.Shutdown(1s); }
  int port() const { return server_.port(); }

 private:
  psvc::observability::MetricsRegistry registry_;
  psvc::db::Pool pool_;
  psvc::graph::SqlGraphEngine sql_{pool_, {}};
  std::unique_ptr<psvc::graph::MemoryGraphEngine> memory_;
  psvc::api::GrpcServer server_;
};

// Serves the graph service in a child process, the way `serve` does (metrics and access log
// on unless `metrics` is false, logs discarded), and returns its port. Must run before this
// process creates any gRPC object: gRPC's threads do not survive fork().
int ForkServer(const std::string& url, int max_clients, bool metrics, bool memory) {
  std::fflush(nullptr);  // or the child would write our buffered output again
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    close(fds[0]);
    // Access-log lines would interleave with the results.
    if (FILE* null = std::freopen("/dev/null", "w", stdout); null == nullptr) _exit(1);
    BenchServer server(url, max_clients, metrics, memory);
    int port = server.port();
    if (write(fds[1], &port, sizeof port) != sizeof port) _exit(1);
    pause();  // until the parent exits (PR_SET_PDEATHSIG)
    _exit(0);
  }
  close(fds[1]);
  int port = 0;
  if (read(fds[0], &port, sizeof port) != sizeof port) throw std::runtime_error("server failed");
  close(fds[0]);
  return port;
}

// Prints one measurement as a table row, and as a JSON line to `json` when it is open.
// `pg_known`: whether s.pg_cpu_ns was measured (PostgresCpu::available).
void Print(const char* primitive, const char* mode, const std::string& engine, int clients, Stats s,
           bool pg_known, FILE* json) {
  double n = static_cast<double>(s.ms.size());
  double p50 = Pct(s.ms, 0.50), p99 = Pct(s.ms, 0.99), max = Pct(s.ms, 1.0);
  double rate = n / s.seconds;
  auto errors = static_cast<unsigned long long>(s.errors);
  char pg[32] = "-", pg_json[32] = "null";
  if (pg_known && n > 0) {
    const double pg_ms = static_cast<double>(s.pg_cpu_ns) / 1e6 / n;
    std::snprintf(pg, sizeof pg, "%.4f", pg_ms);
    std::snprintf(pg_json, sizeof pg_json, "%.5f", pg_ms);
  }
  std::printf("%-22s %-6s %7d %8.0f %9.3f %9.3f %9.3f %10.1f %7llu %11s\n", primitive, mode,
              clients, n, p50, p99, max, rate, errors, pg);
  std::fflush(stdout);
  if (json != nullptr) {
    std::fprintf(json,
                 "{\"bench\":\"graph\",\"case\":\"%s\",\"mode\":\"%s\",\"engine\":\"%s\","
                 "\"clients\":%d,\"n\":%.0f,\"p50_ms\":%.4f,\"p99_ms\":%.4f,\"max_ms\":%.4f,"
                 "\"rate\":%.1f,\"errors\":%llu,\"pg_cpu_ms\":%s}\n",
                 primitive, mode, engine.c_str(), clients, n, p50, p99, max, rate, errors, pg_json);
    std::fflush(json);
  }
}

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Graph primitives benchmark: gRPC service vs the same SQL through libpq"};
  std::string url;
  double seconds = 5;
  std::vector<int> client_counts{1, 8};
  uint64_t seed = 7;
  std::vector<std::string> only;
  std::string target;
  app.add_option("--database-url", url, "catalogue to query (SF1)")
      ->envname("DATABASE_URL")
      ->required();
  app.add_option("--seconds", seconds, "per measurement")->capture_default_str();
  int rounds = 5;
  app.add_option("--rounds", rounds, "alternations of libpq and gRPC within --seconds")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  app.add_option("--clients", client_counts, "concurrent clients")->delimiter(',');
  app.add_option("--seed", seed, "input selection seed")->capture_default_str();
  app.add_option("--only", only,
                 "run only primitives whose name starts with one of these (e.g. neighbors,k_hop)")
      ->delimiter(',');
  auto* server_opt =
      app.add_option("--server", target,
                     "host:port of a running `postgres-service serve` on the same catalogue, "
                     "plaintext and without --read-auth; default: a server in a child process");
  bool in_process = false;
  app.add_flag("--in-process", in_process,
               "serve from this process instead (gRPC's client and server then share pollers)")
      ->excludes(server_opt);
  bool no_metrics = false;
  app.add_flag("--no-metrics", no_metrics,
               "without serve's per-call metrics and access-log interceptor")
      ->excludes(server_opt);
  int deadline_ms = 0;
  app.add_option("--deadline-ms", deadline_ms,
                 "gRPC calls carry this deadline, as an agent's calls do (0: none)")
      ->check(CLI::Range(0, 3'600'000))
      ->capture_default_str();
  std::string graph_engine = "sql";
  app.add_option("--graph-engine", graph_engine,
                 "what the service answers with (as serve --graph-engine); libpq stays SQL")
      ->check(CLI::IsMember({"sql", "memory"}))
      ->capture_default_str();
  bool no_libpq = false;
  app.add_flag("--no-libpq", no_libpq,
               "measure the gRPC calls only, for --seconds each (no libpq baseline rows; for "
               "profiling the service)");
  std::string json_path;
  app.add_option("--json", json_path, "also append each measurement to FILE as a JSON line");
  CLI11_PARSE(app, argc, argv);
  std::unique_ptr<FILE, FileCloser> json;
  if (!json_path.empty()) {
    json.reset(std::fopen(json_path.c_str(), "a"));
    if (!json) {
      std::fprintf(stderr, "cannot open %s\n", json_path.c_str());
      return 1;
    }
  }
  const bool memory = graph_engine == "memory";
  const std::chrono::milliseconds call_deadline(deadline_ms);
  psvc::api::ConfigureGrpcRuntime();

  auto in = PickInputs(url, seed);
  std::printf("inputs: %zu nodes, %zu near pairs (1-5 hops), %zu relation-unreachable pairs\n",
              in.nodes.size(), in.near.size(), in.apart.size());

  int max_clients = *std::max_element(client_counts.begin(), client_counts.end());
  if (target.empty() && !in_process) {
    target = "127.0.0.1:" + std::to_string(ForkServer(url, max_clients, !no_metrics, memory));
  }
  std::optional<BenchServer> server;  // --in-process
  if (target.empty()) {
    server.emplace(url, max_clients, !no_metrics, memory);
    target = "127.0.0.1:" + std::to_string(server->port());
  }
  auto channel_args = grpc::ChannelArguments();
  std::vector<std::unique_ptr<pb::PostgresGraphService::Stub>> stubs;
  for (int c = 0; c < max_clients; ++c) {
    channel_args.SetInt("grpc.channel_id", c);  // one connection per client
    stubs.push_back(pb::PostgresGraphService::NewStub(
        grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), channel_args)));
  }
  std::vector<std::unique_ptr<psvc::db::Connection>> direct;
  for (int c = 0; c < max_clients; ++c) {
    direct.push_back(std::make_unique<psvc::db::Connection>(psvc::db::Connection::Open(url)));
    direct.back()->Exec("SET default_transaction_read_only = on");
    for (const auto& sql : psvc::graph::GraphQueries::SessionSetup()) direct.back()->Exec(sql);
  }

  psvc::graph::AppliedLimits khop_limits{3, 50, 50, 10, {}};
  auto all = psvc::graph::EdgeFilter::All();
  auto relations = all;
  relations.same_studio = relations.co_appears = relations.adapted_from = false;
  auto direct_q = [&](int c) {
    return psvc::graph::GraphQueries(*direct[c], Clock::now() + 10s, 2000ms);
  };
  using Stub = pb::PostgresGraphService::Stub;

  struct Case {
    const char* name;
    Op libpq, grpc;
  };
  std::vector<Case> cases = {
      // The transports' floor: a query that does nothing against a call the service refuses
      // before any SQL (a malformed id). Their difference is what gRPC itself costs here.
      {"floor(no work)",
       [&](int c, uint64_t) {
         direct[c]->Exec("SELECT 1");
         return true;
       },
       [&](int c, uint64_t) {
         pb::NeighborsRequest r;
         r.set_node_id("not-a-uuid");
         return Call(*stubs[c], &Stub::AsyncNeighbors, r, call_deadline).error_code() ==
                grpc::INVALID_ARGUMENT;
       }},
      {"neighbors",
       [&](int c, uint64_t i) {
         direct_q(c).Neighbors(in.nodes[i % in.nodes.size()], all, 50, 10);
         return true;
       },
       [&](int c, uint64_t i) {
         pb::NeighborsRequest r;
         r.set_node_id(in.nodes[i % in.nodes.size()]);
         return Call(*stubs[c], &Stub::AsyncNeighbors, r, call_deadline).ok();
       }},
      {"k_hop(3,max caps)",
       [&](int c, uint64_t i) {
         direct_q(c).KHop(in.nodes[i % in.nodes.size()], all, khop_limits);
         return true;
       },
       [&](int c, uint64_t i) {
         pb::KHopRequest r;
         r.set_node_id(in.nodes[i % in.nodes.size()]);
         r.set_max_hops(3);
         r.set_max_fanout_per_hop(50);
         r.set_max_results(50);
         return Call(*stubs[c], &Stub::AsyncKHop, r, call_deadline).ok();
       }},
      {"path(<=5 hops)",
       [&](int c, uint64_t i) {
         auto& p = in.near[i % in.near.size()];
         direct_q(c).Path(p.first, p.second, all, 5, 10, 20000);
         return true;
       },
       [&](int c, uint64_t i) {
         auto& p = in.near[i % in.near.size()];
         pb::PathRequest r;
         r.set_from_id(p.first);
         r.set_to_id(p.second);
         return Call(
                    *stubs[c], &Stub::AsyncPath, r, call_deadline,
                    +[](const pb::PathResponse& a) { return a.found(); })
             .ok();
       }},
      {"path(unreachable,rel)",
       [&](int c, uint64_t i) {
         auto& p = in.apart[i % in.apart.size()];
         direct_q(c).Path(p.first, p.second, relations, 5, 10, 20000);
         return true;
       },
       [&](int c, uint64_t i) {
         auto& p = in.apart[i % in.apart.size()];
         pb::PathRequest r;
         r.set_from_id(p.first);
         r.set_to_id(p.second);
         for (int t = 1; t <= 10; ++t) r.add_edge_types(static_cast<pb::EdgeType>(t));
         return Call(
                    *stubs[c], &Stub::AsyncPath, r, call_deadline,
                    +[](const pb::PathResponse& a) { return !a.found(); })
             .ok();
       }},
      {"compare",
       [&](int c, uint64_t i) {
         auto& p = in.near[i % in.near.size()];
         direct_q(c).Compare(p.first, p.second);
         return true;
       },
       [&](int c, uint64_t i) {
         auto& p = in.near[i % in.near.size()];
         pb::CompareRequest r;
         r.set_a_id(p.first);
         r.set_b_id(p.second);
         return Call(*stubs[c], &Stub::AsyncCompare, r, call_deadline).ok();
       }},
  };

  PostgresCpu pg_cpu(url);
  if (!pg_cpu.available()) {
    std::printf(
        "PostgreSQL CPU per call: not measured (the server's processes are not readable "
        "from here)\n");
  }
  // One measured stretch: the calls' own statistics and the PostgreSQL CPU they cost.
  auto measured = [&](auto run) {
    auto before = pg_cpu.Take();
    Stats s = run();
    s.pg_cpu_ns = PostgresCpu::Between(before, pg_cpu.Take());
    return s;
  };
  std::printf("%-22s %-6s %7s %8s %9s %9s %9s %10s %7s %11s\n", "primitive", "mode", "clients", "n",
              "p50_ms", "p99_ms", "max_ms", "req/s", "errors", "pg_ms/call");
  std::vector<std::string> overheads;
  for (auto& c : cases) {
    if ((std::string(c.name).starts_with("path(unr") && in.apart.empty()) ||
        (std::string(c.name).starts_with("path(<") && in.near.empty()) ||
        (!only.empty() && std::none_of(only.begin(), only.end(), [&](const std::string& p) {
          return std::string(c.name).starts_with(p);
        }))) {
      continue;
    }
    for (int clients : client_counts) {
      if (no_libpq) {
        Drive(clients, 0.5, c.grpc);
        Print(c.name, "grpc", graph_engine, clients,
              measured([&] { return Drive(clients, seconds, c.grpc); }), pg_cpu.available(),
              json.get());
        continue;
      }
      Drive(clients, 0.5, c.libpq);  // warm caches, connections and prepared statements
      Drive(clients, 0.5, c.grpc);
      // Rounds alternate the modes on the same inputs: libpq for seconds/rounds, then gRPC
      // replays exactly those calls; the next round continues with the next inputs.
      Stats libpq, grpc;
      uint64_t first = 0;
      std::vector<uint64_t> made;
      for (int r = 0; r < rounds; ++r) {
        Merge(libpq, measured([&] {
                return Drive(clients, seconds / rounds, c.libpq, first, {}, &made);
              }));
        Merge(grpc, measured([&] { return Drive(clients, 0, c.grpc, first, made); }));
        first += *std::max_element(made.begin(), made.end()) * clients;
      }
      double base = Pct(libpq.ms, 0.50), over = Pct(grpc.ms, 0.50) - base;
      Print(c.name, "libpq", graph_engine, clients, std::move(libpq), pg_cpu.available(),
            json.get());
      Print(c.name, "grpc", graph_engine, clients, std::move(grpc), pg_cpu.available(), json.get());
      char line[128];
      std::snprintf(line, sizeof line, "%-22s %7d %9.3f ms (%.0f%% of libpq p50)", c.name, clients,
                    over, 100 * over / base);
      overheads.emplace_back(line);
    }
  }
  if (overheads.empty()) return 0;
  std::printf("\nservice overhead at p50 (grpc p50 - libpq p50):\n");
  for (const auto& line : overheads) std::printf("%s\n", line.c_str());
  return 0;
}

#include "grpc_api/graph_service.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <optional>

#include "anime/graph/v1/graph_service.grpc.pb.h"
#include "auth/auth.h"
#include "changes/change_feed.h"
#include "db/connection.h"
#include "db/pool.h"
#include "graph/engine.h"
#include "grpc_api/grpc_server.h"
#include "grpc_api/grpc_status.h"
#include "ids/uuid.h"

namespace psvc::api {

namespace {

namespace pb = anime::graph::v1;
using grpc::Status;
using grpc::StatusCode;

/// Longest a call waits for the memory graph to include its min_change_token.
constexpr std::chrono::seconds kMaxChangeWait{10};

constexpr db::Statement kSurvivorOf{"graph_service.survivor_of", R"sql(
SELECT to_id::text FROM anime_redirect WHERE from_id = $1::uuid
)sql"};

/// Thrown by validation inside a handler; becomes INVALID_ARGUMENT with its message.
struct InvalidArgument {
  std::string message;
};

std::string RequireUuid(const std::string& value, const char* field) {
  if (value.empty()) throw InvalidArgument{std::string(field) + ": required (an anime UUID)"};
  auto id = ids::CanonicalUuid(value);
  if (!id) {
    throw InvalidArgument{std::string(field) + ": not a UUID: " + ids::QuoteForMessage(value) +
                          " (expected 8-4-4-4-12 hex digits)"};
  }
  return *id;
}

graph::EdgeFilter ParseEdgeTypes(const google::protobuf::RepeatedField<int>& types,
                                 const char* field) {
  std::vector<graph::EdgeType> out;
  for (int i = 0; i < types.size(); ++i) {
    auto t = graph::EdgeTypeFromInt(types[i]);
    if (!t) {
      throw InvalidArgument{std::string(field) + "[" + std::to_string(i) + "]: " +
                            (types[i] == 0 ? std::string("EDGE_TYPE_UNSPECIFIED is not an edge "
                                                         "type; send an empty list for all types")
                                           : "unknown edge type " + std::to_string(types[i])) +
                            "; known: SEQUEL PREQUEL SIDE_STORY ALTERNATIVE SUMMARY FULL_STORY "
                            "CHARACTER SPIN_OFF ADAPTATION OTHER SAME_STUDIO CO_APPEARS "
                            "ADAPTED_FROM"};
    }
    out.push_back(*t);
  }
  return graph::EdgeFilter::Of(out);
}

/// The change token a read must include (min_change_token), or none when empty.
std::optional<uint64_t> ParseChangeToken(const std::string& value, const char* field) {
  if (value.empty()) return std::nullopt;
  uint64_t xid = 0;
  if (!changes::ParseXid(value, &xid)) {
    throw InvalidArgument{std::string(field) +
                          ": not a change token: " + ids::QuoteForMessage(value) +
                          " (pass the change_token a write returned, unchanged)"};
  }
  return xid;
}

void Resolve(const graph::RequestedLimit& r, int& out, std::vector<std::string>& clamped) {
  if (auto err = graph::ResolveLimit(r, out, clamped)) throw InvalidArgument{*err};
}

void Fill(const graph::AppliedLimits& l, pb::AppliedLimits* out) {
  out->set_max_hops(l.max_hops);
  out->set_max_fanout_per_hop(l.max_fanout_per_hop);
  out->set_max_results(l.max_results);
  out->set_hub_window(l.hub_window);
  for (const auto& c : l.clamped) out->add_clamped(c);
}

pb::EdgeType ToProto(graph::EdgeType t) { return static_cast<pb::EdgeType>(static_cast<int>(t)); }

void Fill(const graph::AnimeSummary& s, pb::AnimeSummary* out) {
  out->set_id(s.id);
  out->set_title(s.title);
  out->set_title_english(s.title_english);
  out->set_type(s.type);
  out->set_status(s.status);
  out->set_season(s.season);
  out->set_year(s.year);
  out->set_episode_count(s.episode_count);
  out->set_score(s.score);
  out->set_view_count(s.view_count);
}

// Labels: set only when there is something to say, so an unlabelled item costs no bytes.
void Fill(graph::AnimeLabel&& l, pb::AnimeLabel* out) {
  out->set_title(std::move(l.title));
  out->set_type(std::move(l.type));
  out->set_year(l.year);
}

template <typename Message>
void FillLabels(graph::AnimeLabel&& node, graph::HubLabel&& via, Message* out) {
  if (!node.title.empty()) Fill(std::move(node), out->mutable_node());
  if (!via.kind.empty()) {
    auto* hub = out->mutable_via();
    hub->set_kind(std::string(via.kind));
    hub->set_name(std::move(via.name));
  }
}

std::string FormatScore(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

class GraphService final : public pb::PostgresGraphService::Service {
 public:
  GraphService(graph::GraphEngine& engine, GraphServiceOptions options,
               std::unique_ptr<graph::GraphEngine> owned = nullptr)
      : owned_(std::move(owned)), engine_(engine), options_(std::move(options)) {}

  Status Neighbors(grpc::ServerContext* ctx, const pb::NeighborsRequest* req,
                   pb::NeighborsResponse* resp) override {
    if (auto denied = CheckBearer(options_.tokens, *ctx); !denied.ok()) return denied;
    return Handle("Neighbors", [&] {
      auto id = RequireUuid(req->node_id(), "node_id");
      auto filter = ParseEdgeTypes(req->edge_types(), "edge_types");
      graph::AppliedLimits limits;
      const auto& caps = options_.caps;
      Resolve({"limit", req->limit(), caps.max_results, caps.max_results}, limits.max_results,
              limits.clamped);
      limits.hub_window = caps.hub_window;
      const auto budget = Budget(*ctx, req->min_change_token());
      {
        auto r = engine_.Neighbors(budget, id, filter, limits.max_results, limits.hub_window);
        if (!r.start_found) {
          if (auto survivor = SurvivorOf(budget, id); !survivor.empty()) {
            r = engine_.Neighbors(budget, survivor, filter, limits.max_results, limits.hub_window);
            resp->set_merged_into(survivor);
          }
        }
        resp->set_start_found(r.start_found);
        resp->mutable_neighbors()->Reserve(static_cast<int>(r.edges.size()));
        for (auto& e : r.edges) {
          auto* out = resp->add_neighbors();
          out->set_node_id(std::move(e.node_id));
          out->set_edge_type(ToProto(e.type));
          out->set_via_id(std::move(e.via_id));
          FillLabels(std::move(e.node), std::move(e.via), out);
        }
        if (!r.start.title.empty()) Fill(std::move(r.start), resp->mutable_start());
        Fill(limits, resp->mutable_applied_limits());
      }
    });
  }

  Status KHop(grpc::ServerContext* ctx, const pb::KHopRequest* req,
              pb::KHopResponse* resp) override {
    if (auto denied = CheckBearer(options_.tokens, *ctx); !denied.ok()) return denied;
    return Handle("KHop", [&] {
      auto id = RequireUuid(req->node_id(), "node_id");
      auto filter = ParseEdgeTypes(req->edge_types(), "edge_types");
      graph::AppliedLimits limits;
      const auto& caps = options_.caps;
      Resolve({"max_hops", req->max_hops(), caps.default_hops, caps.max_hops}, limits.max_hops,
              limits.clamped);
      Resolve({"max_fanout_per_hop", req->max_fanout_per_hop(), caps.default_fanout,
               caps.max_fanout_per_hop},
              limits.max_fanout_per_hop, limits.clamped);
      Resolve({"max_results", req->max_results(), caps.default_results, caps.max_results},
              limits.max_results, limits.clamped);
      limits.hub_window = caps.hub_window;
      const auto budget = Budget(*ctx, req->min_change_token());
      {
        auto r = engine_.KHop(budget, id, filter, limits);
        if (!r.start_found) {
          if (auto survivor = SurvivorOf(budget, id); !survivor.empty()) {
            r = engine_.KHop(budget, survivor, filter, limits);
            resp->set_merged_into(survivor);
          }
        }
        resp->set_start_found(r.start_found);
        resp->set_truncated(r.truncated);
        resp->mutable_results()->Reserve(static_cast<int>(r.nodes.size()));
        for (auto& n : r.nodes) {
          auto* out = resp->add_results();
          out->set_node_id(std::move(n.node_id));
          out->set_depth(n.depth);
          out->set_edge_type(ToProto(n.type));
          out->set_parent_id(std::move(n.parent_id));
          out->set_via_id(std::move(n.via_id));
          FillLabels(std::move(n.node), std::move(n.via), out);
        }
        if (!r.start.title.empty()) Fill(std::move(r.start), resp->mutable_start());
        Fill(limits, resp->mutable_applied_limits());
      }
    });
  }

  Status Path(grpc::ServerContext* ctx, const pb::PathRequest* req,
              pb::PathResponse* resp) override {
    if (auto denied = CheckBearer(options_.tokens, *ctx); !denied.ok()) return denied;
    return Handle("Path", [&] {
      auto from = RequireUuid(req->from_id(), "from_id");
      auto to = RequireUuid(req->to_id(), "to_id");
      auto filter = ParseEdgeTypes(req->edge_types(), "edge_types");
      graph::AppliedLimits limits;
      const auto& caps = options_.caps;
      Resolve({"max_hops", req->max_hops(), caps.default_path_hops, caps.max_hops}, limits.max_hops,
              limits.clamped);
      limits.hub_window = caps.hub_window;
      const auto budget = Budget(*ctx, req->min_change_token());
      {
        auto r = engine_.Path(budget, from, to, filter, limits.max_hops, limits.hub_window,
                              caps.path_node_budget);
        std::string from_survivor = r.from_found ? "" : SurvivorOf(budget, from);
        std::string to_survivor = r.to_found ? "" : SurvivorOf(budget, to);
        if (!from_survivor.empty() || !to_survivor.empty()) {
          r = engine_.Path(budget, from_survivor.empty() ? from : from_survivor,
                           to_survivor.empty() ? to : to_survivor, filter, limits.max_hops,
                           limits.hub_window, caps.path_node_budget);
          resp->set_from_merged_into(from_survivor);
          resp->set_to_merged_into(to_survivor);
        }
        resp->set_found(r.found);
        resp->set_from_found(r.from_found);
        resp->set_to_found(r.to_found);
        resp->set_truncated(r.truncated);
        for (auto& s : r.steps) {
          auto* out = resp->add_steps();
          out->set_node_id(std::move(s.node_id));
          if (s.type) out->set_edge_type(ToProto(*s.type));
          out->set_via_id(std::move(s.via_id));
          FillLabels(std::move(s.node), std::move(s.via), out);
          out->set_explanation(std::move(s.explanation));
        }
        Fill(limits, resp->mutable_applied_limits());
      }
    });
  }

  Status Compare(grpc::ServerContext* ctx, const pb::CompareRequest* req,
                 pb::CompareResponse* resp) override {
    if (auto denied = CheckBearer(options_.tokens, *ctx); !denied.ok()) return denied;
    return Handle("Compare", [&] {
      auto a = RequireUuid(req->a_id(), "a_id");
      auto b = RequireUuid(req->b_id(), "b_id");
      const auto budget = Budget(*ctx, req->min_change_token());
      {
        auto r = engine_.Compare(budget, a, b);
        std::string a_survivor = r.a ? "" : SurvivorOf(budget, a);
        std::string b_survivor = r.b ? "" : SurvivorOf(budget, b);
        if (!a_survivor.empty() || !b_survivor.empty()) {
          r = engine_.Compare(budget, a_survivor.empty() ? a : a_survivor,
                              b_survivor.empty() ? b : b_survivor);
          resp->set_a_merged_into(a_survivor);
          resp->set_b_merged_into(b_survivor);
        }
        resp->set_a_found(r.a.has_value());
        resp->set_b_found(r.b.has_value());
        if (r.a) Fill(*r.a, resp->mutable_a());
        if (r.b) Fill(*r.b, resp->mutable_b());
        if (r.a && r.b) {
          auto field = [&](const char* name, const std::string& x, const std::string& y) {
            auto* f = resp->add_fields();
            f->set_field(name);
            f->set_a(x);
            f->set_b(y);
            f->set_equal(x == y);
          };
          auto num = [](int64_t v) { return v ? std::to_string(v) : std::string(); };
          field("type", r.a->type, r.b->type);
          field("status", r.a->status, r.b->status);
          field("season", r.a->season, r.b->season);
          field("year", num(r.a->year), num(r.b->year));
          field("episode_count", num(r.a->episode_count), num(r.b->episode_count));
          field("score", r.a->score ? FormatScore(r.a->score) : "",
                r.b->score ? FormatScore(r.b->score) : "");
          field("view_count", std::to_string(r.a->view_count), std::to_string(r.b->view_count));
        }
        auto shared = [](const std::vector<graph::SharedEntity>& from, auto* into) {
          for (auto& s : from) {
            auto* out = into->Add();
            out->set_id(s.id);
            out->set_name(s.name);
            out->set_role_in_a(s.role_in_a);
            out->set_role_in_b(s.role_in_b);
          }
        };
        shared(r.characters, resp->mutable_shared_characters());
        shared(r.studios, resp->mutable_shared_studios());
        shared(r.original_works, resp->mutable_shared_original_works());
        for (auto t : r.direct_relations) resp->add_direct_relations(ToProto(t));
      }
    });
  }

 private:
  // Every failure of a handler becomes a status here: validation errors name the field,
  // database errors are mapped once (grpc_status.cpp).
  template <typename Body>
  Status Handle(const char* method, Body body) {
    try {
      body();
      return Status::OK;
    } catch (const InvalidArgument& e) {
      return {StatusCode::INVALID_ARGUMENT, e.message};
    } catch (const graph::ChangeNotCaughtUp& e) {
      // Retrying (or an engine that reads PostgreSQL) can succeed: UNAVAILABLE, not a deadline.
      return {StatusCode::UNAVAILABLE, std::string("min_change_token: ") + e.what()};
    } catch (...) {
      return StatusFromCurrentException(method);
    }
  }

  // Called after the other fields are validated, so a bad request never costs the engine
  // anything. A change token is waited for until shortly before the deadline, so the status
  // saying why reaches the caller before its own deadline expires: 100 ms before it, or a tenth
  // of the time left when that is less than a second, and at most kMaxChangeWait.
  static graph::CallBudget Budget(const grpc::ServerContext& ctx, const std::string& token) {
    graph::CallBudget budget{RequestDeadline(ctx, std::chrono::hours(1))};
    budget.min_change = ParseChangeToken(token, "min_change_token");
    if (budget.min_change) {
      const auto now = std::chrono::steady_clock::now();
      const auto margin = std::clamp<std::chrono::steady_clock::duration>(
          (budget.deadline - now) / 10, std::chrono::steady_clock::duration::zero(),
          std::chrono::milliseconds(100));
      budget.change_wait_deadline = std::min(budget.deadline - margin, now + kMaxChangeWait);
    }
    return budget;
  }

  // The survivor of a merged-away id, or empty. Asked only when the engine did not find the
  // id (a merged id is no node of the graph), so a found node costs no extra statement. The
  // connection wait is bounded by the acquire timeout and the caller's deadline.
  // A call with a change token reads the primary when the redirect pool may lag.
  std::string SurvivorOf(const graph::CallBudget& budget, const std::string& id) {
    db::Pool* pool = budget.min_change && options_.primary_redirect_pool
                         ? options_.primary_redirect_pool
                         : options_.redirect_pool;
    if (!pool) return {};
    auto conn = pool->Acquire(
        std::min(budget.deadline, std::chrono::steady_clock::now() + options_.acquire_timeout));
    auto res = conn->Execute(kSurvivorOf, {id});
    return res.rows() ? std::string(res.Get(0, 0)) : std::string();
  }

  std::unique_ptr<graph::GraphEngine> owned_;  // the engine, when this service made it
  graph::GraphEngine& engine_;
  GraphServiceOptions options_;
};

}  // namespace

db::StatementList GraphServiceStatements() {
  static constexpr const db::Statement* kAll[] = {&kSurvivorOf};
  return kAll;
}

void RegisterGraphService(GrpcServer& server, db::Pool& pool, GraphServiceOptions options) {
  if (!options.redirect_pool) options.redirect_pool = &pool;
  auto sql = std::make_unique<graph::SqlGraphEngine>(
      pool, graph::SqlEngineOptions{.statement_timeout = options.statement_timeout,
                                    .acquire_timeout = options.acquire_timeout});
  auto& engine = *sql;
  server.AddService(std::make_unique<GraphService>(engine, std::move(options), std::move(sql)),
                    pb::PostgresGraphService::service_full_name());
}

void RegisterGraphService(GrpcServer& server, graph::GraphEngine& engine,
                          GraphServiceOptions options) {
  server.AddService(std::make_unique<GraphService>(engine, std::move(options)),
                    pb::PostgresGraphService::service_full_name());
}

}  // namespace psvc::api

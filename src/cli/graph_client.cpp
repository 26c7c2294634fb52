#include "cli/graph_client.h"

#include <grpcpp/grpcpp.h>

#include <fstream>
#include <iomanip>
#include <map>
#include <set>
#include <sstream>

#include "anime/graph/v1/graph_service.grpc.pb.h"
#include "db/array_literal.h"
#include "db/connection.h"
#include "graph/edge_type.h"

namespace psvc::api {

namespace {

namespace pb = anime::graph::v1;

std::string EdgeName(int t) {
  auto e = graph::EdgeTypeFromInt(t);
  return e ? std::string(graph::EdgeTypeName(*e)) : "";
}

// Titles for display only; without a database URL the table shows ids alone.
std::map<std::string, std::string> Titles(const std::string& url,
                                          const std::set<std::string>& ids) {
  std::map<std::string, std::string> out;
  if (url.empty() || ids.empty()) return out;
  try {
    auto conn = db::Connection::Open(url);
    auto r = conn.Query("SELECT id::text, title FROM anime WHERE id = ANY($1::uuid[])",
                        {db::ArrayLiteral(std::vector<std::string>(ids.begin(), ids.end()))});
    for (int i = 0; i < r.rows(); ++i) out[std::string(r.Get(i, 0))] = r.Get(i, 1);
  } catch (const std::exception&) {
    // Titles are a convenience: print ids when the database is not reachable.
  }
  return out;
}

void Limits(const pb::AppliedLimits& l, std::ostream& out) {
  out << "limits: hops " << l.max_hops() << ", fanout " << l.max_fanout_per_hop() << ", results "
      << l.max_results() << ", hub window " << l.hub_window();
  for (auto& c : l.clamped()) out << " [clamped " << c << "]";
  out << "\n";
}

// Plaintext, or TLS when a CA is given; nullptr (and a message) when a file cannot be read.
std::shared_ptr<grpc::ChannelCredentials> Credentials(const GraphClientRequest& req,
                                                      std::ostream& err) {
  if (req.tls_ca_file.empty()) {
    if (!req.tls_cert_file.empty()) err << "--tls-cert needs --tls-ca\n";
    return req.tls_cert_file.empty() ? grpc::InsecureChannelCredentials() : nullptr;
  }
  auto read = [&](const char* setting, const std::string& path, std::string& out_pem) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    out_pem = ss.str();
    if (in && out_pem.find("-----BEGIN") != std::string::npos) return true;
    err << setting << ": cannot read a PEM file at " << path << "\n";
    return false;
  };
  grpc::SslCredentialsOptions o;
  if (!read("--tls-ca", req.tls_ca_file, o.pem_root_certs)) return nullptr;
  if (req.tls_cert_file.empty() != req.tls_key_file.empty()) {
    err << "--tls-cert and --tls-key go together\n";
    return nullptr;
  }
  if (!req.tls_cert_file.empty() && (!read("--tls-cert", req.tls_cert_file, o.pem_cert_chain) ||
                                     !read("--tls-key", req.tls_key_file, o.pem_private_key))) {
    return nullptr;
  }
  return grpc::SslCredentials(o);
}

}  // namespace

int RunGraphClient(const GraphClientRequest& req, std::ostream& out, std::ostream& err) {
  auto credentials = Credentials(req, err);
  if (!credentials) return 2;
  auto stub = pb::PostgresGraphService::NewStub(grpc::CreateChannel(req.address, credentials));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(req.timeout_ms));
  if (!req.token.empty()) ctx.AddMetadata("authorization", "Bearer " + req.token);
  std::vector<int> types;
  for (auto& name : req.edge_types) {
    auto t = graph::EdgeTypeFromName(name);
    if (!t) {
      err << "unknown edge type '" << name << "'\n";
      return 2;
    }
    types.push_back(static_cast<int>(*t));
  }
  auto need = [&](size_t n) {
    if (req.ids.size() != n) {
      err << req.primitive << " takes " << n << " anime id(s)\n";
      return false;
    }
    return true;
  };
  auto fail = [&](const grpc::Status& s) {
    err << "error (" << s.error_code() << "): " << s.error_message() << "\n";
    return 1;
  };
  auto row = [&](const std::map<std::string, std::string>& titles, const std::string& a,
                 const std::string& b, const std::string& c, const std::string& id) {
    auto t = titles.find(id);
    out << std::left << std::setw(6) << a << std::setw(14) << b << std::setw(38) << c
        << std::setw(38) << id << (t == titles.end() ? "" : t->second) << "\n";
  };

  if (req.primitive == "neighbors") {
    if (!need(1)) return 2;
    pb::NeighborsRequest r;
    r.set_node_id(req.ids[0]);
    for (int t : types) r.add_edge_types(static_cast<pb::EdgeType>(t));
    r.set_limit(req.limit);
    r.set_min_change_token(req.min_change_token);
    pb::NeighborsResponse resp;
    auto s = stub->Neighbors(&ctx, r, &resp);
    if (!s.ok()) return fail(s);
    if (!resp.start_found()) out << "start node not found\n";
    std::set<std::string> ids{req.ids[0]};
    for (auto& n : resp.neighbors()) ids.insert(n.node_id());
    auto titles = Titles(req.database_url, ids);
    row(titles, "#", "edge", "via", "id");
    int i = 0;
    for (auto& n : resp.neighbors()) {
      row(titles, std::to_string(++i), EdgeName(n.edge_type()), n.via_id(), n.node_id());
    }
    Limits(resp.applied_limits(), out);
  } else if (req.primitive == "k-hop") {
    if (!need(1)) return 2;
    pb::KHopRequest r;
    r.set_node_id(req.ids[0]);
    for (int t : types) r.add_edge_types(static_cast<pb::EdgeType>(t));
    r.set_max_hops(req.max_hops);
    r.set_max_fanout_per_hop(req.max_fanout);
    r.set_max_results(req.max_results);
    r.set_min_change_token(req.min_change_token);
    pb::KHopResponse resp;
    auto s = stub->KHop(&ctx, r, &resp);
    if (!s.ok()) return fail(s);
    if (!resp.start_found()) out << "start node not found\n";
    std::set<std::string> ids;
    for (auto& n : resp.results()) ids.insert(n.node_id());
    auto titles = Titles(req.database_url, ids);
    row(titles, "depth", "edge", "parent", "id");
    for (auto& n : resp.results()) {
      row(titles, std::to_string(n.depth()), EdgeName(n.edge_type()), n.parent_id(), n.node_id());
    }
    if (resp.truncated()) out << "(stopped at max_results)\n";
    Limits(resp.applied_limits(), out);
  } else if (req.primitive == "path") {
    if (!need(2)) return 2;
    pb::PathRequest r;
    r.set_from_id(req.ids[0]);
    r.set_to_id(req.ids[1]);
    r.set_min_change_token(req.min_change_token);
    for (int t : types) r.add_edge_types(static_cast<pb::EdgeType>(t));
    r.set_max_hops(req.max_hops);
    pb::PathResponse resp;
    auto s = stub->Path(&ctx, r, &resp);
    if (!s.ok()) return fail(s);
    if (!resp.from_found()) out << "from node not found\n";
    if (!resp.to_found()) out << "to node not found\n";
    if (!resp.found())
      out << (resp.truncated() ? "no path found within the search budget\n" : "no path\n");
    std::set<std::string> ids;
    for (auto& st : resp.steps()) ids.insert(st.node_id());
    auto titles = Titles(req.database_url, ids);
    row(titles, "step", "edge", "via", "id");
    int i = 0;
    for (auto& st : resp.steps()) {
      row(titles, std::to_string(i++), EdgeName(st.edge_type()), st.via_id(), st.node_id());
    }
    Limits(resp.applied_limits(), out);
  } else if (req.primitive == "compare") {
    if (!need(2)) return 2;
    pb::CompareRequest r;
    r.set_a_id(req.ids[0]);
    r.set_b_id(req.ids[1]);
    r.set_min_change_token(req.min_change_token);
    pb::CompareResponse resp;
    auto s = stub->Compare(&ctx, r, &resp);
    if (!s.ok()) return fail(s);
    if (!resp.a_found() || !resp.b_found()) {
      out << (resp.a_found() ? "" : "a not found\n") << (resp.b_found() ? "" : "b not found\n");
      return 0;
    }
    out << std::left << std::setw(16) << "field" << std::setw(40) << resp.a().title()
        << resp.b().title() << "\n";
    for (auto& f : resp.fields()) {
      out << std::setw(16) << f.field() << std::setw(40) << f.a() << f.b()
          << (f.equal() ? "" : "   *") << "\n";
    }
    auto shared = [&](const char* what, const auto& list) {
      out << what << ": " << list.size() << "\n";
      for (auto& e : list) {
        out << "  " << e.name() << " (" << e.role_in_a() << " / " << e.role_in_b() << ")\n";
      }
    };
    shared("shared characters", resp.shared_characters());
    shared("shared studios", resp.shared_studios());
    shared("shared original works", resp.shared_original_works());
    out << "direct relations:";
    for (int t : resp.direct_relations()) out << " " << EdgeName(t);
    out << (resp.direct_relations().empty() ? " none\n" : "\n");
  } else {
    err << "unknown primitive '" << req.primitive << "'\n";
    return 2;
  }
  return 0;
}

}  // namespace psvc::api

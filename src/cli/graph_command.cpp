#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/graph_client.h"

namespace psvc::cli {

void AddGraphCommand(CLI::App& app) {
  auto req = std::make_shared<api::GraphClientRequest>();
  auto* cmd =
      app.add_subcommand("graph", "Call a running service's graph API and print a readable table");
  cmd->require_subcommand(1);
  cmd->add_option("--address", req->address, "gRPC address of the service")
      ->envname("PSVC_GRPC_ADDRESS")
      ->capture_default_str();
  cmd->add_option("--database-url", req->database_url,
                  "Optional: look up titles for display (read-only)")
      ->envname("DATABASE_URL");
  cmd->add_option("--timeout-ms", req->timeout_ms, "Call deadline")->capture_default_str();
  cmd->add_option("--min-change-token", req->min_change_token,
                  "A write's change_token: the answer includes that write (docs/graph.md)");
  // No default is captured: the token never appears in --help.
  cmd->add_option("--token", req->token, "Bearer token (when the service runs with --read-auth)")
      ->envname("PSVC_TOKEN");
  cmd->add_option("--tls-ca", req->tls_ca_file,
                  "PEM CA bundle: call over TLS, trusting it (the service's --tls-cert issuer)")
      ->envname("PSVC_TLS_CA");
  cmd->add_option("--tls-cert", req->tls_cert_file, "PEM client certificate (mTLS)")
      ->envname("PSVC_TLS_CLIENT_CERT");
  cmd->add_option("--tls-key", req->tls_key_file, "PEM key of --tls-cert")
      ->envname("PSVC_TLS_CLIENT_KEY");
  struct Spec {
    const char* name;
    const char* help;
    int ids;
  };
  for (Spec spec : {Spec{"neighbors", "One hop from ANIME_ID", 1},
                    Spec{"k-hop", "Breadth-first expansion from ANIME_ID", 1},
                    Spec{"path", "Shortest chain FROM_ID TO_ID", 2},
                    Spec{"compare", "Diff of A_ID and B_ID", 2}}) {
    auto* sub = cmd->add_subcommand(spec.name, spec.help);
    sub->add_option("ids", req->ids, "anime UUID(s)")->required()->expected(spec.ids);
    if (std::string(spec.name) != "compare") {
      sub->add_option("--edge-types", req->edge_types,
                      "Edge types to follow (default all), e.g. SEQUEL,PREQUEL,SAME_STUDIO")
          ->delimiter(',');
    }
    if (std::string(spec.name) == "neighbors") sub->add_option("--limit", req->limit);
    if (std::string(spec.name) == "k-hop" || std::string(spec.name) == "path") {
      sub->add_option("--max-hops", req->max_hops);
    }
    if (std::string(spec.name) == "k-hop") {
      sub->add_option("--max-fanout", req->max_fanout);
      sub->add_option("--max-results", req->max_results);
    }
    sub->callback([req, name = std::string(spec.name)] {
      req->primitive = name;
      int rc = api::RunGraphClient(*req, std::cout, std::cerr);
      if (rc != 0) throw CLI::RuntimeError(rc);
    });
  }
}

}  // namespace psvc::cli

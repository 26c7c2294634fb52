#pragma once
/// The human client of PostgresGraphService (`postgres-service graph ...`).

#include <ostream>
#include <string>
#include <vector>

namespace psvc::api {

/// One invocation: which primitive, its arguments, and where to send it.
struct GraphClientRequest {
  std::string address = "127.0.0.1:50051";
  std::string primitive;  ///< neighbors | k-hop | path | compare
  std::vector<std::string> ids;
  std::vector<std::string> edge_types;  ///< names, e.g. SEQUEL, SAME_STUDIO
  int limit = 0, max_hops = 0, max_fanout = 0, max_results = 0;
  int timeout_ms = 5000;
  std::string min_change_token;  ///< a write's change token: the answer includes that write
  std::string database_url;      ///< optional: titles are looked up here for display
  std::string token;             ///< sent as `authorization: Bearer <token>` when set (--read-auth)
  std::string tls_ca_file;       ///< PEM roots: call over TLS, trusting these
  std::string tls_cert_file;     ///< client certificate (mTLS), with tls_key_file
  std::string tls_key_file;
};

/// Calls the service and prints a table; returns the process exit code (0 = OK; 2 for bad
/// arguments or unreadable TLS files).
int RunGraphClient(const GraphClientRequest& req, std::ostream& out, std::ostream& err);

}  // namespace psvc::api

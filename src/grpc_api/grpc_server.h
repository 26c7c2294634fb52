#pragma once
/// The gRPC server hosting our services plus health and reflection (gRPC kept out of here).

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace grpc {
class Service;
class Server;
}  // namespace grpc

namespace psvc::observability {
class MetricsRegistry;
}

namespace psvc::api {

class HealthState;

/// Process-wide settings of gRPC's runtime libraries. Call once from main, before any gRPC
/// object exists.
void ConfigureGrpcRuntime();

/// Listen address, thread bound and observability of the gRPC server.
struct GrpcServerOptions {
  std::string address = "127.0.0.1:50051";  ///< host:port; port 0 picks a free port
  int max_threads = 32;
  /// When set, every call is counted, timed and access-logged.
  observability::MetricsRegistry* metrics = nullptr;
  /// TLS when both are set (PEM files: certificate chain, private key).
  std::string tls_cert_file;
  std::string tls_key_file;
  /// PEM CA bundle for client certificates (mTLS): asked for, verified when sent, optional.
  /// A verified client certificate stands in for a bearer token (see CheckBearer).
  std::string tls_client_ca_file;
};

/// Owns the services and the running server.
class GrpcServer {
 public:
  explicit GrpcServer(GrpcServerOptions options);
  ~GrpcServer();
  /// Takes ownership of a service; call before Start (see Register*Service in api/).
  /// `full_name` ("package.Service") is what the health service reports as served.
  void AddService(std::unique_ptr<grpc::Service> service, std::string full_name);
  /// Binds and starts; throws std::runtime_error naming the address (or the TLS file) on
  /// failure.
  void Start();
  /// The bound port (after Start).
  int port() const { return port_; }
  /// Stops accepting; in-flight calls get until `grace` to finish, then are cancelled.
  void Shutdown(std::chrono::milliseconds grace);

 private:
  GrpcServerOptions options_;
  std::vector<std::unique_ptr<grpc::Service>> services_;
  std::vector<std::string> service_names_;
  std::shared_ptr<HealthState> health_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace psvc::api

#include "grpc_api/grpc_server.h"

#include <absl/synchronization/mutex.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/service_type.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "grpc_api/grpc_health.h"
#include "grpc_api/grpc_observability.h"
#include "grpc_api/grpc_request_decoding.h"

namespace psvc::api {

namespace {

std::string ReadPem(const char* setting, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  if (!in || ss.str().find("-----BEGIN") == std::string::npos) {
    throw std::runtime_error(std::string(setting) + ": cannot read a PEM file at " + path);
  }
  return ss.str();
}

std::shared_ptr<grpc::ServerCredentials> Credentials(const GrpcServerOptions& o) {
  if (o.tls_cert_file.empty() != o.tls_key_file.empty()) {
    throw std::runtime_error("--tls-cert and --tls-key go together: set both or neither");
  }
  if (o.tls_cert_file.empty()) {
    if (!o.tls_client_ca_file.empty()) {
      throw std::runtime_error("--tls-client-ca needs --tls-cert and --tls-key");
    }
    return grpc::InsecureServerCredentials();
  }
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back(
      {ReadPem("--tls-key", o.tls_key_file), ReadPem("--tls-cert", o.tls_cert_file)});
  if (!o.tls_client_ca_file.empty()) {
    ssl.pem_root_certs = ReadPem("--tls-client-ca", o.tls_client_ca_file);
    // Optional but verified: a client without a certificate may still read (and write with a
    // token); one with a certificate the CA did not sign fails the handshake.
    ssl.client_certificate_request = GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(ssl);
}

}  // namespace

void ConfigureGrpcRuntime() {
  // Debian builds abseil without NDEBUG, which leaves absl::Mutex's deadlock detection on:
  // every lock gRPC takes then updates a global lock graph (GraphCycles), 2-3% of the CPU of
  // each call on either side (docs/benchmarks.md). It is a debugging aid; switch it off.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

GrpcServer::GrpcServer(GrpcServerOptions options) : options_(std::move(options)) {}

void GrpcServer::AddService(std::unique_ptr<grpc::Service> service, std::string full_name) {
  services_.push_back(std::move(service));
  service_names_.push_back(std::move(full_name));
}

GrpcServer::~GrpcServer() {
  if (server_) Shutdown(std::chrono::milliseconds(0));
}

void GrpcServer::Start() {
  // Our own synchronous health service: gRPC's built-in one is a callback service, whose
  // polling threads cost every call 0.01-0.03 ms here (docs/benchmarks.md).
  health_ = std::make_shared<HealthState>(service_names_);
  services_.push_back(MakeHealthService(health_));
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options_.address, Credentials(options_), &port_);
  // Bounds the sync server's threads: beyond it new calls wait in gRPC's queue rather than
  // each getting a thread (and a database connection wait).
  grpc::ResourceQuota quota("postgres-service");
  quota.SetMaxThreads(options_.max_threads);
  builder.SetResourceQuota(quota);
  builder.SetMaxReceiveMessageSize(4 << 20);
  for (auto& s : services_) builder.RegisterService(s.get());
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
  creators.push_back(MakeRequestDecodingInterceptor());  // first: the others see its status
  if (options_.metrics) creators.push_back(MakeObservabilityInterceptor(*options_.metrics));
  builder.experimental().SetInterceptorCreators(std::move(creators));
  server_ = builder.BuildAndStart();
  if (!server_ || port_ == 0) {
    server_.reset();
    throw std::runtime_error("cannot listen for gRPC on " + options_.address);
  }
}

void GrpcServer::Shutdown(std::chrono::milliseconds grace) {
  if (!server_) return;
  health_->SetShuttingDown();
  server_->Shutdown(std::chrono::system_clock::now() + grace);
  server_->Wait();
  server_.reset();
}

}  // namespace psvc::api

#include "api/grpc_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/impl/service_type.h>

#include <stdexcept>

#include "api/grpc_observability.h"

namespace psvc::api {

GrpcServer::GrpcServer(GrpcServerOptions options) : options_(std::move(options)) {}

void GrpcServer::AddService(std::unique_ptr<grpc::Service> service) {
  services_.push_back(std::move(service));
}

GrpcServer::~GrpcServer() {
  if (server_) Shutdown(std::chrono::milliseconds(0));
}

void GrpcServer::Start() {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options_.address, grpc::InsecureServerCredentials(), &port_);
  // Bounds the sync server's threads: beyond it new calls wait in gRPC's queue rather than
  // each getting a thread (and a database connection wait).
  grpc::ResourceQuota quota("postgres-service");
  quota.SetMaxThreads(options_.max_threads);
  builder.SetResourceQuota(quota);
  builder.SetMaxReceiveMessageSize(4 << 20);
  for (auto& s : services_) builder.RegisterService(s.get());
  if (options_.metrics) {
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
    creators.push_back(MakeObservabilityInterceptor(*options_.metrics));
    builder.experimental().SetInterceptorCreators(std::move(creators));
  }
  server_ = builder.BuildAndStart();
  if (!server_ || port_ == 0) {
    server_.reset();
    throw std::runtime_error("cannot listen for gRPC on " + options_.address);
  }
}

void GrpcServer::Shutdown(std::chrono::milliseconds grace) {
  if (!server_) return;
  server_->Shutdown(std::chrono::system_clock::now() + grace);
  server_->Wait();
  server_.reset();
}

}  // namespace psvc::api

#include "grpc_api/grpc_health.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>

#include "grpc/health/v1/health.grpc.pb.h"

namespace psvc::api {

namespace {

namespace pb = grpc::health::v1;

class HealthService final : public pb::Health::Service {
 public:
  explicit HealthService(std::shared_ptr<const HealthState> state) : state_(std::move(state)) {}

  grpc::Status Check(grpc::ServerContext*, const pb::HealthCheckRequest* req,
                     pb::HealthCheckResponse* resp) override {
    const auto& known = state_->services();
    if (!req->service().empty() &&
        std::find(known.begin(), known.end(), req->service()) == known.end()) {
      return {grpc::StatusCode::NOT_FOUND, "service: this server does not host " + req->service()};
    }
    resp->set_status(state_->shutting_down() ? pb::HealthCheckResponse::NOT_SERVING
                                             : pb::HealthCheckResponse::SERVING);
    return grpc::Status::OK;
  }

  // A watch would hold one of the server's bounded threads for as long as the client stays.
  grpc::Status Watch(grpc::ServerContext*, const pb::HealthCheckRequest*,
                     grpc::ServerWriter<pb::HealthCheckResponse>*) override {
    return {grpc::StatusCode::UNIMPLEMENTED, "Watch is not offered; poll Check instead"};
  }

 private:
  std::shared_ptr<const HealthState> state_;
};

}  // namespace

std::unique_ptr<grpc::Service> MakeHealthService(std::shared_ptr<const HealthState> state) {
  return std::make_unique<HealthService>(std::move(state));
}

}  // namespace psvc::api

#pragma once
/// The grpc.health.v1 service of our gRPC server (Check only; see proto/grpc/health/v1).

#include <atomic>
#include <memory>
#include <string>
#include <vector>

namespace grpc {
class Service;
}

namespace psvc::api {

/// Serving state shared by the health service and the server that shuts it down.
class HealthState {
 public:
  explicit HealthState(std::vector<std::string> services) : services_(std::move(services)) {}
  /// Fully qualified names of the hosted services ("" is the server itself).
  const std::vector<std::string>& services() const { return services_; }
  void SetShuttingDown() { shutting_down_.store(true); }
  bool shutting_down() const { return shutting_down_.load(); }

 private:
  std::vector<std::string> services_;
  std::atomic<bool> shutting_down_{false};
};

/// A synchronous grpc.health.v1.Health service answering from `state`.
std::unique_ptr<grpc::Service> MakeHealthService(std::shared_ptr<const HealthState> state);

}  // namespace psvc::api

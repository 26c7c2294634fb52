#include "grpc_api/grpc_request_decoding.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_interceptor.h>

#include <string>

namespace psvc::api {

namespace {

using grpc::experimental::InterceptionHookPoints;

// A sync handler never runs for a request that failed to parse: gRPC sends the
// deserializer's status (INTERNAL, empty for proto3). The failure is visible to interceptors
// as a received message of nullptr, so the status can be put right before it is sent.
class RequestDecodingInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit RequestDecodingInterceptor(grpc::experimental::ServerRpcInfo* info)
      : method_(info->method()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE) &&
        methods->GetRecvMessage() == nullptr) {
      undecodable_ = true;
    }
    if (undecodable_ &&
        methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS) &&
        methods->GetSendStatus().error_code() == grpc::StatusCode::INTERNAL) {
      methods->ModifySendStatus(
          grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                       "request: the bytes are not a valid protobuf message of " + method_ +
                           " (truncated, or not this method's request type); nothing was done"));
    }
    methods->Proceed();
  }

 private:
  std::string method_;
  bool undecodable_ = false;
};

class Factory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    // gRPC's interface: it takes ownership of the returned interceptor and deletes it.
    return new RequestDecodingInterceptor(info);
  }
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeRequestDecodingInterceptor() {
  return std::make_unique<Factory>();
}

}  // namespace psvc::api

#pragma once
/// A server interceptor that answers a request whose bytes are not a valid protobuf message
/// with INVALID_ARGUMENT and a message saying so (gRPC itself answers INTERNAL, no message).

#include <memory>

namespace grpc::experimental {
class ServerInterceptorFactoryInterface;
}

namespace psvc::api {

/// Install first, so later interceptors (metrics, access log) see the corrected status.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeRequestDecodingInterceptor();

}  // namespace psvc::api

#pragma once
/// Translation of our error kinds into gRPC statuses (the API boundary).

#include <grpcpp/support/status.h>

#include <chrono>
#include <exception>

namespace grpc {
class ServerContext;
}

namespace psvc::api {

class BearerTokens;

/// Maps the exception in flight (db::DbError or anything else) to a status a caller can act
/// on. Internal details are logged, never sent.
grpc::Status StatusFromCurrentException(const char* method);

/// OK when `tokens` are off, the call carries `authorization: Bearer <token>` metadata with
/// one of them, or the caller presented a client certificate verified against
/// --tls-client-ca (mTLS); UNAUTHENTICATED otherwise.
grpc::Status CheckBearer(const BearerTokens* tokens, const grpc::ServerContext& ctx);

/// The caller's deadline as a steady-clock point, no later than now + `cap`.
std::chrono::steady_clock::time_point RequestDeadline(const grpc::ServerContext& ctx,
                                                      std::chrono::milliseconds cap);

}  // namespace psvc::api

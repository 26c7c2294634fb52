#include "grpc_api/grpc_status.h"

#include <grpcpp/server_context.h>
#include <spdlog/spdlog.h>

#include "auth/auth.h"
#include "db/error.h"

namespace psvc::api {

grpc::Status StatusFromCurrentException(const char* method) {
  try {
    throw;
  } catch (const db::DbError& e) {
    switch (e.kind()) {
      case db::ErrorKind::kTimeout:
        return {grpc::StatusCode::DEADLINE_EXCEEDED,
                "the query did not finish within the statement timeout or your deadline; "
                "narrow the request (fewer hops, edge types or results)"};
      case db::ErrorKind::kPoolExhausted:
        return {grpc::StatusCode::RESOURCE_EXHAUSTED,
                "the service is at capacity (no database connection free in time); retry with "
                "backoff"};
      case db::ErrorKind::kUnavailable:
        return {grpc::StatusCode::UNAVAILABLE, "the database is unavailable; retry later"};
      case db::ErrorKind::kSerialization:
        return {grpc::StatusCode::ABORTED, "concurrent update conflict; retry"};
      case db::ErrorKind::kConflict:
        return {grpc::StatusCode::ALREADY_EXISTS, "the entity already exists"};
      case db::ErrorKind::kInvalidInput:
        return {grpc::StatusCode::INVALID_ARGUMENT, "the database rejected a value"};
      case db::ErrorKind::kInternal:
        break;
    }
    spdlog::error("{}: internal database error: {}", method, e.what());
  } catch (const std::exception& e) {
    spdlog::error("{}: internal error: {}", method, e.what());
  } catch (...) {
    spdlog::error("{}: unknown internal error", method);
  }
  return {grpc::StatusCode::INTERNAL, "internal error"};
}

grpc::Status CheckBearer(const BearerTokens* tokens, const grpc::ServerContext& ctx) {
  if (!tokens || !tokens->enabled()) return grpc::Status::OK;
  // mTLS: the server asks for client certificates only with --tls-client-ca and then verifies
  // them in the handshake (GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY), so a peer
  // identity here is a certificate our client CA signed.
  if (auto auth = ctx.auth_context(); auth && auth->IsPeerAuthenticated()) {
    return grpc::Status::OK;
  }
  const auto& md = ctx.client_metadata();
  auto it = md.find("authorization");
  if (it != md.end() && tokens->Accepts(std::string_view(it->second.data(), it->second.size()))) {
    return grpc::Status::OK;
  }
  return {grpc::StatusCode::UNAUTHENTICATED,
          "missing or invalid credentials: send metadata `authorization: Bearer <token>`"};
}

std::chrono::steady_clock::time_point RequestDeadline(const grpc::ServerContext& ctx,
                                                      std::chrono::milliseconds cap) {
  auto now_sys = std::chrono::system_clock::now();
  auto now = std::chrono::steady_clock::now();
  auto remaining = ctx.deadline() - now_sys;  // far future when the client set none
  if (remaining > cap) return now + cap;
  return now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(remaining);
}

}  // namespace psvc::api

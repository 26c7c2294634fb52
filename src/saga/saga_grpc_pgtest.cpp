// The saga methods of PostgresWriteService over gRPC: start (idempotent by request_id), errors
// mapped to status codes, GetSaga. The engine itself is covered by saga_pgtest.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <thread>

#include "anime/write/v1/write_service.grpc.pb.h"
#include "grpc_api/grpc_server.h"
#include "grpc_api/write_service.h"
#include "db/pool.h"
#include "saga/saga_runner.h"
#include "saga/saga_store.h"
#include "testing/test_database.h"
#include "write/event_applier.h"

namespace psvc::saga {
namespace {

namespace pb = anime::write::v1;
using namespace std::chrono_literals;

const std::string kA = "00000000-0000-0000-0000-00000000000a";
const std::string kB = "00000000-0000-0000-0000-00000000000b";

class SagaGrpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto conn = tdb_.Connect();
    conn.Exec("INSERT INTO anime (id, title) VALUES ('" + kA + "', 'A'), ('" + kB + "', 'B')");
    pool_ = std::make_unique<db::Pool>(db::PoolOptions{.url = tdb_.url(), .size = 4});
    applier_ = std::make_unique<write::EventApplier>(*pool_);
    store_ = std::make_unique<SagaStore>(*pool_);
    server_ = std::make_unique<api::GrpcServer>(api::GrpcServerOptions{.address = "127.0.0.1:0"});
    api::RegisterWriteService(*server_, *applier_, store_.get());
    server_->Start();
    stub_ = pb::PostgresWriteService::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(server_->port()), grpc::InsecureChannelCredentials()));
  }

  grpc::Status Merge(const std::string& req_id, const std::string& dup, const std::string& surv,
                     pb::StartSagaResponse& resp) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    pb::StartMergeAnimeRequest req;
    req.set_request_id(req_id);
    req.set_duplicate_id(dup);
    req.set_survivor_id(surv);
    return stub_->StartMergeAnime(&ctx, req, &resp);
  }

  testing::TestDatabase tdb_;
  std::unique_ptr<db::Pool> pool_;
  std::unique_ptr<write::EventApplier> applier_;
  std::unique_ptr<SagaStore> store_;
  std::unique_ptr<api::GrpcServer> server_;
  std::unique_ptr<pb::PostgresWriteService::Stub> stub_;
};

TEST_F(SagaGrpcTest, StartIsIdempotentAndErrorsMapToCodes) {
  pb::StartSagaResponse first, again, bad;
  ASSERT_TRUE(Merge("req-1", kA, kB, first).ok());
  EXPECT_TRUE(first.created());
  ASSERT_TRUE(Merge("req-1", kA, kB, again).ok());
  EXPECT_FALSE(again.created());
  EXPECT_EQ(again.saga_id(), first.saga_id());
  EXPECT_EQ(Merge("req-2", kA, kA, bad).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Merge("req-3", kA, "00000000-0000-0000-0000-0000000000ff", bad).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Merge("req-4", kB, kA, bad).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Merge("req-1", kB, kA, bad).error_code(), grpc::StatusCode::ALREADY_EXISTS);

  grpc::ClientContext ctx;
  pb::GetSagaRequest get;
  get.set_saga_id(first.saga_id());
  pb::Saga saga;
  ASSERT_TRUE(stub_->GetSaga(&ctx, get, &saga).ok());
  EXPECT_EQ(saga.type(), "MergeAnime");
  EXPECT_EQ(saga.status(), pb::SAGA_STATUS_RUNNING);
  EXPECT_EQ(saga.input().at("duplicate_id"), kA);
  ASSERT_EQ(saga.steps_size(), 3);
  EXPECT_EQ(saga.steps(1).name(), "confirm");

  grpc::ClientContext ctx2;
  get.set_saga_id("nope");
  EXPECT_EQ(stub_->GetSaga(&ctx2, get, &saga).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace psvc::saga

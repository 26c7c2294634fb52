#include "events/detail/nats_util.h"

#include <gtest/gtest.h>

#include "events/testing/nats_server_process.h"

namespace psvc::events::detail {
namespace {

using namespace std::chrono_literals;

TEST(NatsConnect, AListOfUrlsReachesALiveServerWhenOthersAreDown) {
  testing::NatsServerProcess live;
  live.Start();
  // A NATS cluster's URLs, one of them down: what --nats-url holds in the HA topology.
  auto nc = Connect("nats://127.0.0.1:1, " + live.url(), "nats-util-test", 2000ms);
  EXPECT_EQ(natsConnection_Status(nc.get()), NATS_CONN_STATUS_CONNECTED);
}

TEST(NatsConnect, NoLiveServerInTheListFails) {
  EXPECT_THROW(Connect("nats://127.0.0.1:1,nats://127.0.0.1:2", "nats-util-test", 500ms),
               NatsError);
}

}  // namespace
}  // namespace psvc::events::detail

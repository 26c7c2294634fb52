// Every SQL statement the code runs is prepared against the migrated schema, so a typo or a
// schema drift fails here instead of in production. Add each area's list when it appears.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "changes/change_feed.h"
#include "dataset/copy_loader.h"
#include "db/error.h"
#include "db/replica_lag.h"
#include "events/outbox_relay.h"
#include "graph/graph_queries.h"
#include "graph/labels.h"
#include "graph/memory_engine.h"
#include "graphql_api/graphql_api.h"
#include "graphql_api/graphql_loaders.h"
#include "grpc_api/graph_service.h"
#include "saga/anime_sagas.h"
#include "testing/test_database.h"
#include "write/event_applier.h"
#include "write/view_counter.h"

namespace psvc {
namespace {

std::vector<db::StatementList> AllLists() {
  return {graph::GraphQueries::Statements(),
          graph::MemoryGraph::Statements(),
          graph::GraphLabels::Statements(),
          write::EventApplier::Statements(),
          events::OutboxRelay::Statements(),
          saga::AllStatements(),
          api::RequestLoaders::Statements(),
          api::RequestLoaders::ListStatements(),
          api::RequestLoaders::NestedListStatements(),
          api::SearchUpkeepStatements(),
          api::GraphServiceStatements(),
          db::ReplicaLagMonitor::Statements(),
          write::ViewCounter::Statements(),
          changes::ChangeFeed::Statements(),
          dataset::LoadStatements()};
}

TEST(AllStatements, PrepareAgainstTheMigratedSchema) {
  testing::TestDatabase tdb;
  auto conn = tdb.Connect();
  std::set<std::string> names;
  size_t count = 0;
  for (auto list : AllLists()) {
    for (const db::Statement* stmt : list) {
      ++count;
      EXPECT_TRUE(names.insert(std::string(stmt->name)).second) << "duplicate name " << stmt->name;
      try {
        conn.Prepare(*stmt);
      } catch (const db::DbError& e) {
        ADD_FAILURE() << stmt->name << ": " << e.what();
      }
    }
  }
  EXPECT_GE(count, 30u);
}

TEST(AllStatements, ABrokenStatementIsCaught) {
  // The check itself can fail: a statement naming a missing column does not prepare.
  testing::TestDatabase tdb;
  auto conn = tdb.Connect();
  db::Statement bad{"test.bad", "SELECT no_such_column FROM anime"};
  EXPECT_THROW(conn.Prepare(bad), db::DbError);
}

}  // namespace
}  // namespace psvc

#pragma once
/// The hand-written demo catalogue: real franchises (facts only) for people to explore.

#include <string_view>

struct pg_conn;

namespace psvc::dataset {

/// The demo data as one idempotent SQL script (src/dataset/demo_data.sql, compiled in). It runs
/// its own transaction (BEGIN ... COMMIT), uses ON CONFLICT DO NOTHING throughout and ends by
/// announcing the load on the change feed.
std::string_view DemoDataSql();

/// Loads the demo data on `conn` (outside any transaction); loading it twice changes no
/// catalogue row. Each load commits one `CatalogueLoaded` change (docs/events.md).
/// Throws LoadError (dataset/copy_loader.h) on failure, with nothing committed.
void LoadDemoData(pg_conn* conn);

}  // namespace psvc::dataset

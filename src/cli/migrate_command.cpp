#include <CLI/CLI.hpp>

#include <iomanip>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/database_option.h"
#include "db/connection.h"
#include "db/migrator.h"

namespace psvc::cli {

namespace {

struct MigrateOptions {
  std::string database_url;
  std::string migrations_dir;
  bool status = false;
};

int RunMigrate(const MigrateOptions& o) {
  auto files = o.migrations_dir.empty() ? db::EmbeddedMigrations()
                                        : db::LoadMigrations(o.migrations_dir);
  auto conn = db::Connection::Open(o.database_url);
  db::Migrator migrator(conn, std::move(files));
  if (o.status) {
    int pending = 0, edited = 0;
    std::cout << std::left << std::setw(8) << "version" << std::setw(36) << "file"
              << "state\n";
    for (const auto& s : migrator.Status()) {
      std::string state = !s.applied           ? "pending"
                          : !s.checksum_matches ? "EDITED after apply " + s.applied_at
                                                : "applied " + s.applied_at;
      pending += !s.applied;
      edited += !s.checksum_matches;
      std::cout << std::setw(8) << s.version << std::setw(36) << s.filename << state << "\n";
    }
    std::cout << pending << " pending, " << edited << " edited\n";
    return edited ? 1 : 0;
  }
  migrator.Apply(&std::cout);
  return 0;
}

}  // namespace

void AddMigrateCommand(CLI::App& app) {
  auto opts = std::make_shared<MigrateOptions>();
  auto* cmd = app.add_subcommand("migrate", "Apply pending schema migrations (or list them)");
  AddDatabaseUrlOption(*cmd, opts->database_url);
  cmd->add_flag("--status", opts->status, "List applied and pending migrations, change nothing");
  cmd->add_option("--migrations-dir", opts->migrations_dir,
                  "Read migrations from this folder instead of those built into the binary");
  cmd->callback([opts] {
    int rc = RunMigrate(*opts);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace psvc::cli

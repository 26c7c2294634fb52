// postgres-service: one binary, one subcommand per job.
#include <CLI/CLI.hpp>

#include <iostream>

#include "grpc_api/grpc_server.h"
#include "cli/commands.h"
#include "cli/settings.h"

int main(int argc, char** argv) {
  psvc::api::ConfigureGrpcRuntime();
  CLI::App app{
      "postgres-service: the anime catalogue's PostgreSQL owner.\n"
      "Serves graph traversal (gRPC), event ingestion and GraphQL; migrates and loads data.",
      "postgres-service"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "postgres-service 0.1.0");
  psvc::cli::AddMigrateCommand(app);
  psvc::cli::AddServeCommand(app);
  psvc::cli::AddDatasetCommands(app);
  psvc::cli::AddGraphCommand(app);
  psvc::cli::AddSagaCommand(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // A bad value: say whether the flag or the environment gave it (a config file's errors
    // name the file and line themselves).
    if (auto source = psvc::cli::SettingSource(app, e, argc, argv); !source.empty()) {
      std::cerr << e.what() << " (" << source << ")\n";
      return e.get_exit_code();
    }
    return app.exit(e);
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

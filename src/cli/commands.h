#pragma once
/// Registration of the binary's subcommands (one file per subcommand).

namespace CLI {
class App;
}

namespace psvc::cli {

void AddMigrateCommand(CLI::App& app);
void AddServeCommand(CLI::App& app);
void AddDatasetCommands(CLI::App& app);
void AddGraphCommand(CLI::App& app);
void AddSagaCommand(CLI::App& app);

}  // namespace psvc::cli

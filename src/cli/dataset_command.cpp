#include <CLI/CLI.hpp>

#include "cli/commands.h"

namespace psvc::cli {

void AddDatasetCommands(CLI::App&) {}

}  // namespace psvc::cli

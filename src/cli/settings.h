#pragma once
/// Where a subcommand's settings come from: flag > environment variable > config file >
/// default. The config file (`--config FILE`) holds `name = value` lines named like the flags
/// without their dashes (`pool-size = 16`); `#` starts a comment.

#include <CLI/CLI.hpp>

#include <string>

namespace psvc::cli {

/// Adds `--config FILE` (env PSVC_CONFIG) to `cmd`; apply the file with ApplyConfigFile.
CLI::Option* AddConfigFileOption(CLI::App& cmd, std::string& path);

/// Sets each option of `cmd` named in the file that no flag or environment variable set, with
/// the option's own validation. Throws CLI::ValidationError naming the setting and the file
/// and line (an unknown name, a malformed line, a value the option rejects). Values are never
/// repeated in errors of their own making: some are secrets.
void ApplyConfigFile(CLI::App& cmd, const std::string& path);

/// For a CLI11 parse error about an option ("--pool-size: ..."), where its value came from:
/// "set by the command line" or "set by environment variable PSVC_POOL_SIZE"; empty when the
/// error is about no option of the parsed subcommands.
std::string SettingSource(const CLI::App& app, const CLI::Error& error, int argc,
                          const char* const* argv);

}  // namespace psvc::cli

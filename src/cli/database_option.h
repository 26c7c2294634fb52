#pragma once
/// The --database-url option shared by every subcommand (flag first, then DATABASE_URL).

#include <CLI/CLI.hpp>

#include <string>

namespace psvc::cli {

inline CLI::Option* AddDatabaseUrlOption(CLI::App& cmd, std::string& url) {
  return cmd
      .add_option("--database-url", url,
                  "libpq connection URI, e.g. postgresql://user@127.0.0.1:55432/anime")
      ->envname("DATABASE_URL")
      ->required();
}

}  // namespace psvc::cli

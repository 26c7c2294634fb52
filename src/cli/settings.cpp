#include "cli/settings.h"

#include <cstdlib>
#include <fstream>
#include <map>
#include <string_view>

namespace psvc::cli {

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// The first long name of an option ("--pool-size"), or empty for positionals.
std::string LongName(const CLI::Option& opt) {
  return opt.get_lnames().empty() ? std::string() : "--" + opt.get_lnames().front();
}

}  // namespace

CLI::Option* AddConfigFileOption(CLI::App& cmd, std::string& path) {
  return cmd
      .add_option("--config", path,
                  "File of `name = value` lines named like these flags without dashes "
                  "(pool-size = 16); flags and environment variables win over it")
      ->envname("PSVC_CONFIG");
}

void ApplyConfigFile(CLI::App& cmd, const std::string& path) {
  if (path.empty()) return;
  std::ifstream in(path);
  if (!in) throw CLI::ValidationError("--config", "cannot read " + path);
  std::map<std::string, int> seen;  // name → line, to refuse a setting given twice
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    std::string where = "config file " + path + " line " + std::to_string(number);
    std::string_view text = Trim(line);
    if (text.empty() || text.front() == '#') continue;
    auto eq = text.find('=');
    if (eq == std::string_view::npos) {
      throw CLI::ValidationError(where, "expected `name = value`");
    }
    std::string name(Trim(text.substr(0, eq)));
    std::string_view value = Trim(text.substr(eq + 1));
    // Quotes are optional; they allow leading or trailing spaces and '#' in values.
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    CLI::Option* opt =
        name.empty() || name.starts_with("-") ? nullptr : cmd.get_option_no_throw("--" + name);
    if (!opt || name == "config" || name == "help") {
      throw CLI::ValidationError(where, "unknown setting '" + name + "' (see " + cmd.get_name() +
                                            " --help for the names)");
    }
    if (auto [it, fresh] = seen.emplace(name, number); !fresh) {
      throw CLI::ValidationError(
          where, "'" + name + "' was already set on line " + std::to_string(it->second));
    }
    if (opt->count() > 0) continue;  // a flag or an environment variable set it: they win
    try {
      opt->add_result(std::string(value));
      opt->run_callback();  // the option's own checks and conversion, as for a flag
    } catch (const CLI::Error& e) {
      throw CLI::ValidationError(name + " (" + where + ")", e.what());
    }
  }
}

std::string SettingSource(const CLI::App& app, const CLI::Error& error, int argc,
                          const char* const* argv) {
  std::string_view what = error.what();
  if (!what.starts_with("--")) return {};
  std::string name(what.substr(0, what.find_first_of(": =")));
  for (const CLI::App* sub : app.get_subcommands()) {
    const CLI::Option* opt = sub->get_option_no_throw(name);
    if (!opt || LongName(*opt) != name) continue;
    for (int i = 1; i < argc; ++i) {
      std::string_view arg = argv[i];
      if (arg == name || arg.starts_with(name + "=")) return "set by the command line";
    }
    std::string env = opt->get_envname();
    if (!env.empty() && std::getenv(env.c_str())) return "set by environment variable " + env;
  }
  return {};
}

}  // namespace psvc::cli

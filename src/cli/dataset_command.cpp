#include <CLI/CLI.hpp>

#include <chrono>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/database_option.h"
#include "dataset/copy_loader.h"
#include "dataset/demo_data.h"
#include "dataset/directory_sink.h"
#include "dataset/generator.h"
#include "db/connection.h"

namespace psvc::cli {

namespace {

struct GenerateOptions {
  std::string database_url;
  double scale = 1.0;
  uint64_t seed = 1;
  bool replace = false;
  std::string out;
};

void RunGenerate(const GenerateOptions& o) {
  dataset::GeneratorOptions g{.scale = o.scale, .seed = o.seed};
  if (!o.out.empty()) {
    auto start = std::chrono::steady_clock::now();
    dataset::DirectorySink sink(o.out);
    dataset::GenerateCatalogue(g, sink);
    sink.Finish();
    std::cout << "wrote COPY files to " << o.out << " in "
              << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()
              << " s (load them with: cd " << o.out << " && psql \"$DATABASE_URL\" -f load.sql)\n";
    return;
  }
  if (o.database_url.empty()) {
    throw CLI::ValidationError("--database-url", "required unless --out is given (or set DATABASE_URL)");
  }
  auto conn = db::Connection::Open(o.database_url);
  auto summary = dataset::LoadSyntheticCatalogue(
      conn.native(), g, dataset::LoadOptions{.replace = o.replace}, std::cout);
  dataset::PrintSummary(summary, std::cout);
}

}  // namespace

void AddDatasetCommands(CLI::App& app) {
  auto g = std::make_shared<GenerateOptions>();
  auto* gen = app.add_subcommand(
      "generate",
      "Generate a deterministic synthetic catalogue (SF1 ~ 30k anime) and COPY it into the "
      "database, or write COPY files with --out");
  gen->add_option("--database-url", g->database_url, "libpq connection URI")->envname("DATABASE_URL");
  gen->add_option("--scale", g->scale, "Scale factor (1 = ~30k anime, 1M rows)")
      ->check(CLI::Range(0.0001, 100.0))
      ->capture_default_str();
  gen->add_option("--seed", g->seed, "Seed: the same seed gives the same data")->capture_default_str();
  gen->add_flag("--replace", g->replace, "Empty the catalogue tables first (otherwise a non-empty catalogue is refused)");
  gen->add_option("--out", g->out, "Write <table>.tsv COPY files and load.sql into this folder instead");
  gen->callback([g] { RunGenerate(*g); });

  auto url = std::make_shared<std::string>();
  auto* demo = app.add_subcommand(
      "demo-data", "Load the hand-written demo set of real franchises (idempotent)");
  AddDatabaseUrlOption(*demo, *url);
  demo->callback([url] {
    auto conn = db::Connection::Open(*url);
    dataset::LoadDemoData(conn.native());
    std::cout << "demo data loaded\n";
  });
}

}  // namespace psvc::cli

#include "dataset/directory_sink.h"

#include <stdexcept>

namespace psvc::dataset {
namespace {
constexpr size_t kFlushBytes = 1 << 20;
}  // namespace

DirectorySink::DirectorySink(std::filesystem::path dir) : dir_(std::move(dir)) {
  std::filesystem::create_directories(dir_);
}

void DirectorySink::BeginTable(std::string_view table, std::span<const std::string_view> columns) {
  Table t{std::string(table), "", 0};
  for (size_t i = 0; i < columns.size(); ++i) {
    if (i > 0) t.columns += ", ";
    t.columns += columns[i];
  }
  tables_.push_back(std::move(t));
  const auto path = dir_ / (std::string(table) + ".tsv");
  file_.open(path, std::ios::binary | std::ios::trunc);
  if (!file_) throw std::runtime_error("cannot write " + path.string());
}

void DirectorySink::Row(std::string_view copy_line) {
  buffer_.append(copy_line);
  buffer_ += '\n';
  ++tables_.back().rows;
  if (buffer_.size() >= kFlushBytes) {
    file_.write(buffer_.data(), static_cast<std::streamsize>(buffer_.size()));
    buffer_.clear();
  }
}

void DirectorySink::EndTable() {
  file_.write(buffer_.data(), static_cast<std::streamsize>(buffer_.size()));
  buffer_.clear();
  file_.close();
  if (!file_) throw std::runtime_error("error writing " + tables_.back().name + ".tsv");
}

void DirectorySink::Finish() {
  const auto path = dir_ / "load.sql";
  std::ofstream script(path, std::ios::trunc);
  script << "-- Loads the generated catalogue into an empty, migrated database.\n"
            "-- Run from this directory: psql \"$DATABASE_URL\" -v ON_ERROR_STOP=1 -f load.sql\n"
            "BEGIN;\n";
  for (const Table& t : tables_)
    script << "\\copy " << t.name << " (" << t.columns << ") FROM '" << t.name << ".tsv'\n";
  // Replicas following the change feed re-read the catalogue after the load (migration 0023).
  script << "SELECT announce_catalogue_load('load.sql');\n"
            "COMMIT;\n";
  if (!script) throw std::runtime_error("error writing " + path.string());
}

}  // namespace psvc::dataset

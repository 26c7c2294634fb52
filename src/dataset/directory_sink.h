#pragma once
/// Writes generated rows as COPY text files, one `<table>.tsv` per table (for `--out DIR`).

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "dataset/row_sink.h"

namespace psvc::dataset {

/// RowSink writing `<dir>/<table>.tsv` (PostgreSQL COPY text format) plus `<dir>/load.sql`,
/// a psql script that loads them in order (run it from `dir`: `psql -f load.sql`).
class DirectorySink final : public RowSink {
 public:
  /// Creates `dir` if needed; existing files of the same names are overwritten.
  explicit DirectorySink(std::filesystem::path dir);
  DirectorySink(const DirectorySink&) = delete;
  DirectorySink& operator=(const DirectorySink&) = delete;
  ~DirectorySink() override = default;

  void BeginTable(std::string_view table, std::span<const std::string_view> columns) override;
  void Row(std::string_view copy_line) override;
  void EndTable() override;
  /// Writes load.sql; throws std::runtime_error when any file could not be written.
  void Finish();

  /// Tables written so far with their row counts, in order.
  struct Table {
    std::string name;
    std::string columns;  // "id, name, ..."
    uint64_t rows = 0;
  };
  const std::vector<Table>& tables() const { return tables_; }

 private:
  std::filesystem::path dir_;
  std::ofstream file_;
  std::string buffer_;
  std::vector<Table> tables_;
};

}  // namespace psvc::dataset

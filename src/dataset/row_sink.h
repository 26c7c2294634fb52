#pragma once
/// Where generated catalogue rows go: PostgreSQL (CopyLoader), files (DirectorySink), tests.

#include <span>
#include <string_view>

namespace psvc::dataset {

/// Receives a catalogue table by table, in foreign-key-safe order, one COPY text line per row.
class RowSink {
 public:
  virtual ~RowSink() = default;
  /// Starts `table`; the following rows carry `columns` in this order.
  virtual void BeginTable(std::string_view table, std::span<const std::string_view> columns) = 0;
  /// One row as a COPY text-format line (see CopyLineBuilder), without the trailing newline.
  virtual void Row(std::string_view copy_line) = 0;
  /// Ends the current table.
  virtual void EndTable() = 0;
};

}  // namespace psvc::dataset
